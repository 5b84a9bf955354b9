/*
 * What reserve writes, decided from the tree: the CPUs online under the
 * root, the slices the Klipper unit runs in (a cgroup cpuset there must
 * not forbid it the reserved CPUs), and whether irqbalance is installed
 * (its drop-in) or not (our oneshot unit that moves the IRQs).
 */
#include "reserve.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cpulist.h"

#define DROPIN "klipper-pin-reserve.conf"
#define IRQ_UNIT "klipper-pin-irq.service"
#define OWN_SLICE "klipper.slice"
#define MAX_KEPT 64

/* Where systemd looks for units, most important first. */
static const char *const reserve_unit_dirs[] = {
	"/etc/systemd/system.control", "/run/systemd/system.control",
	"/etc/systemd/system",	       "/run/systemd/system",
	"/lib/systemd/system",	       "/usr/lib/systemd/system",
};
#define UNIT_DIR_COUNT                                                         \
	(sizeof(reserve_unit_dirs) / sizeof(reserve_unit_dirs[0]))

void reserve_say(char *out, size_t len, const char *format, ...)
{
	va_list args;

	va_start(args, format);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized) */
	vsnprintf(out, len, format, args);
	va_end(args);
}

/* Appends to the plan's notes (cut when full: they are advice). */
static void plan_note(struct reserve_plan *plan, const char *format, ...)
	__attribute__((format(printf, 2, 3)));

static void plan_note(struct reserve_plan *plan, const char *format, ...)
{
	size_t used = strlen(plan->notes);
	va_list args;

	va_start(args, format);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized) */
	vsnprintf(plan->notes + used, sizeof(plan->notes) - used, format, args);
	va_end(args);
}

/* Adds a file: the marker, then body. -1 when it does not fit. */
static int plan_file(struct reserve_plan *plan, const char *path,
		     const char *format, ...)
	__attribute__((format(printf, 3, 4)));

static int plan_file(struct reserve_plan *plan, const char *path,
		     const char *format, ...)
{
	struct reserve_file *file = &plan->files[plan->count];
	size_t used = sizeof(RESERVE_MARKER);
	va_list args;
	int wrote;

	if (plan->count == RESERVE_MAX_FILES)
		return -1;
	snprintf(file->path, sizeof(file->path), "%s", path);
	memcpy(file->content, RESERVE_MARKER "\n", used);
	va_start(args, format);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized) */
	wrote = vsnprintf(file->content + used, sizeof(file->content) - used,
			  format, args);
	va_end(args);
	if (wrote < 0 || (size_t)wrote >= sizeof(file->content) - used)
		return -1;
	plan->count++;
	return 0;
}

static bool plan_exists(const char *root, const char *path)
{
	char full[PATH_MAX];
	struct stat info;

	snprintf(full, sizeof(full), "%s%s", root, path);
	return lstat(full, &info) == 0;
}

/* A small file under root, whole, NUL-terminated; -1 with errno. */
static long plan_read(const char *root, const char *path, char *buf, size_t len)
{
	char full[PATH_MAX];
	FILE *in;
	size_t got;

	snprintf(full, sizeof(full), "%s%s", root, path);
	in = fopen(full, "re");
	if (!in)
		return -1;
	got = fread(buf, 1, len - 1, in);
	buf[got] = '\0';
	fclose(in);
	return (long)got;
}

static int plan_online(const char *root, cpu_set_t *online, char *problem,
		       size_t len)
{
	static const char path[] = "/sys/devices/system/cpu/online";
	struct cpulist list = { 0 };
	char text[1024];

	if (!root[0]) {
		if (cpulist_read_online(online, CPULIST_SETSIZE) == 0)
			return 0;
		reserve_say(problem, len, "cannot read the online CPUs: %s",
			    strerror(errno));
		return -1;
	}
	if (plan_read(root, path, text, sizeof(text)) < 0) {
		reserve_say(problem, len, "cannot read %s%s: %s", root, path,
			    strerror(errno));
		return -1;
	}
	text[strcspn(text, "\n")] = '\0';
	if (cpulist_parse(text, CPULIST_MAX_CPU, &list, NULL) != CPULIST_OK ||
	    cpulist_is_relative(&list)) {
		cpulist_free(&list);
		reserve_say(problem, len, "%s%s holds '%s', not a CPU list",
			    root, path, text);
		return -1;
	}
	CPU_ZERO_S(CPULIST_SETSIZE, online);
	cpulist_to_set(&list, online, CPULIST_SETSIZE);
	cpulist_free(&list);
	return 0;
}

/* The reserved CPUs: named, every one online, some left for the rest. */
static int plan_cpus(const char *text, const cpu_set_t *online,
		     cpu_set_t *reserved, char *problem, size_t len)
{
	struct cpulist list = { 0 };
	char absent[256], online_text[256], off[256];
	cpu_set_t *offline = CPU_ALLOC(CPULIST_MAX_CPU + 1);
	const char *bad = text;
	enum cpulist_error error;
	long missing;

	error = cpulist_parse(text, CPULIST_MAX_CPU, &list, &bad);
	if (error != CPULIST_OK || !offline) {
		reserve_say(problem, len,
			    "bad --cpus '%s' at '%s': expected %s", text, bad,
			    cpulist_strerror(error));
		CPU_FREE(offline);
		return -1;
	}
	CPU_ZERO_S(CPULIST_SETSIZE, reserved);
	missing = cpulist_resolve(&list, online, CPULIST_SETSIZE, reserved,
				  absent, sizeof(absent));
	cpulist_free(&list);
	cpulist_format(online, CPULIST_SETSIZE, online_text,
		       sizeof(online_text));
	CPU_XOR_S(CPULIST_SETSIZE, offline, reserved, online);
	CPU_AND_S(CPULIST_SETSIZE, offline, offline, reserved);
	cpulist_format(offline, CPULIST_SETSIZE, off, sizeof(off));
	CPU_FREE(offline);
	if (missing)
		reserve_say(problem, len,
			    "--cpus '%s': %s names no CPU here (online: %s)",
			    text, absent, online_text);
	else if (off[0])
		reserve_say(problem, len,
			    "--cpus '%s': CPU %s not online (online: %s)", text,
			    off, online_text);
	else if (CPU_EQUAL_S(CPULIST_SETSIZE, reserved, online))
		reserve_say(
			problem, len,
			"--cpus '%s' is every online CPU (%s): none would be "
			"left for other work",
			text, online_text);
	else
		return 0;
	return -1;
}

/* One setting of a unit's files: which file, where, what. */
typedef void (*plan_setting)(void *context, const char *path, int line,
			     const char *key, const char *value);

static void plan_each_line(const char *root, const char *path,
			   plan_setting each, void *context)
{
	char text[RESERVE_TEXT * 4], full[PATH_MAX];
	int number = 0;

	snprintf(full, sizeof(full), "%s%s", root, path);
	/* Our own files are not the tree's: an apply again sees the tree
	 * as the first apply did. */
	if (reserve_is_ours(full) ||
	    plan_read(root, path, text, sizeof(text)) < 0)
		return;
	for (char *line = text, *next; line; line = next) {
		char *equals;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		number++;
		line += strspn(line, " \t");
		equals = strchr(line, '=');
		if (!equals || *line == '#' || *line == ';' || *line == '[')
			continue;
		*equals = '\0';
		for (char *end = equals; end > line && strchr(" \t", end[-1]);)
			*--end = '\0';
		char *value = equals + 1 + strspn(equals + 1, " \t");

		value[strcspn(value, "\r")] = '\0';
		each(context, path, number, line, value);
	}
}

static int plan_compare_names(const void *a, const void *b)
{
	const char *const *left = a, *const *right = b;

	return strcmp(strrchr(*left, '/') + 1, strrchr(*right, '/') + 1);
}

/* The unit's drop-ins, one per name (the most important directory's),
 * in the order systemd reads them: by name. */
static size_t plan_dropins(const char *root, const char *unit,
			   char (*found)[PATH_MAX], size_t room)
{
	const char *sorted[32];
	char names[32][PATH_MAX];
	size_t count = 0;

	for (size_t d = 0; d < UNIT_DIR_COUNT; d++) {
		char dir[PATH_MAX];
		DIR *listing;
		struct dirent *entry;

		snprintf(dir, sizeof(dir), "%s%s/%s.d", root,
			 reserve_unit_dirs[d], unit);
		listing = opendir(dir);
		while (listing && (entry = readdir(listing)) && count < 32) {
			size_t length = strlen(entry->d_name);
			bool seen = false;

			if (length < 6 ||
			    strcmp(entry->d_name + length - 5, ".conf") != 0)
				continue;
			for (size_t i = 0; i < count; i++)
				seen |= strcmp(strrchr(names[i], '/') + 1,
					       entry->d_name) == 0;
			if (!seen)
				snprintf(names[count++], PATH_MAX, "%s/%s.d/%s",
					 reserve_unit_dirs[d], unit,
					 entry->d_name);
		}
		if (listing)
			closedir(listing);
	}
	for (size_t i = 0; i < count; i++)
		sorted[i] = names[i];
	qsort(sorted, count, sizeof(sorted[0]), plan_compare_names);
	for (size_t i = 0; i < count && i < room; i++)
		memcpy(found[i], sorted[i], PATH_MAX);
	return count < room ? count : room;
}

/* The unit's file (the most important directory's), or "" for none. */
static void plan_unit_file(const char *root, const char *unit, char *out,
			   size_t len)
{
	out[0] = '\0';
	for (size_t d = 0; d < UNIT_DIR_COUNT && !out[0]; d++) {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/%s", reserve_unit_dirs[d],
			 unit);
		if (plan_exists(root, path))
			snprintf(out, len, "%s", path);
	}
}

/* Every setting of a unit, file then drop-ins, as systemd reads them. */
static void plan_each_setting(const char *root, const char *unit,
			      plan_setting each, void *context)
{
	char file[PATH_MAX], dropins[16][PATH_MAX];
	size_t count;

	plan_unit_file(root, unit, file, sizeof(file));
	if (file[0])
		plan_each_line(root, file, each, context);
	count = plan_dropins(root, unit, dropins, 16);
	for (size_t i = 0; i < count; i++)
		plan_each_line(root, dropins[i], each, context);
}

static void plan_take_slice(void *context, const char *path, int line,
			    const char *key, const char *value)
{
	(void)path;
	(void)line;
	if (strcmp(key, "Slice") == 0 && value[0])
		snprintf(context, NAME_MAX, "%s", value);
}

/* A slice's AllowedCPUs=, merged as systemd merges it ("" resets). */
struct plan_cpuset {
	cpu_set_t *set;
	bool restricted;
	char where[PATH_MAX + 16];
};

static void plan_take_allowed(void *context, const char *path, int line,
			      const char *key, const char *value)
{
	struct plan_cpuset *cpuset = context;
	struct cpulist list = { 0 };
	char text[1024];

	if (strcmp(key, "AllowedCPUs") != 0)
		return;
	snprintf(text, sizeof(text), "%s", value);
	for (char *c = text; *c; c++)
		if (*c == ' ')
			*c = ','; /* systemd takes "0 1" as "0,1" */
	if (!text[0]) {
		CPU_ZERO_S(CPULIST_SETSIZE, cpuset->set);
		cpuset->restricted = false;
		return;
	}
	if (cpulist_parse(text, CPULIST_MAX_CPU, &list, NULL) != CPULIST_OK)
		return; /* systemd ignores it too */
	cpulist_to_set(&list, cpuset->set, CPULIST_SETSIZE);
	cpulist_free(&list);
	cpuset->restricted = true;
	snprintf(cpuset->where, sizeof(cpuset->where), "%s:%d", path, line);
}

/* The slices a unit in slice runs under, the root first: "a-b.slice"
 * is in "a.slice", which is in "-.slice". */
static size_t plan_slice_chain(const char *slice, char (*chain)[NAME_MAX + 1],
			       size_t room)
{
	size_t count = 0, base = strlen(slice) - strlen(".slice");

	snprintf(chain[count++], NAME_MAX + 1, "-.slice");
	if (strcmp(slice, "-.slice") == 0)
		return count;
	for (size_t i = 1; i <= base && count < room; i++)
		if (i == base || slice[i] == '-')
			snprintf(chain[count++], NAME_MAX + 1, "%.*s.slice",
				 (int)i, slice);
	return count;
}

/*
 * Does any slice above the unit (cgroup v2 cpusets are hierarchical)
 * forbid it a reserved CPU? Says which in why; -1 when even the root
 * slice does, which no slice of ours can undo.
 */
static int plan_slice_forbids(const char *root, const char *unit,
			      const cpu_set_t *reserved, char *why, size_t len)
{
	char slice[NAME_MAX + 1] = "system.slice", chain[8][NAME_MAX + 1];
	struct plan_cpuset cpuset = { .set = CPU_ALLOC(CPULIST_MAX_CPU + 1) };
	size_t count, length;
	int forbids = 0;

	if (!cpuset.set)
		return 0;
	plan_each_setting(root, unit, plan_take_slice, slice);
	length = strlen(slice);
	if (length <= 6 || strcmp(slice + length - 6, ".slice") != 0)
		snprintf(slice, sizeof(slice), "system.slice");
	count = plan_slice_chain(slice, chain, 8);
	for (size_t i = 0; i < count && !forbids; i++) {
		CPU_ZERO_S(CPULIST_SETSIZE, cpuset.set);
		cpuset.restricted = false;
		plan_each_setting(root, chain[i], plan_take_allowed, &cpuset);
		CPU_AND_S(CPULIST_SETSIZE, cpuset.set, cpuset.set, reserved);
		if (!cpuset.restricted ||
		    CPU_EQUAL_S(CPULIST_SETSIZE, cpuset.set, reserved))
			continue;
		reserve_say(why, len, "%s (AllowedCPUs= at %s%s)", chain[i],
			    root, cpuset.where);
		forbids = i == 0 ? -1 : 1;
	}
	CPU_FREE(cpuset.set);
	return forbids;
}

/* The kept IRQs as " --banirq=N" words; -1 when the list is bad. */
static int plan_banirqs(const char *keep, char *out, size_t len)
{
	struct cpulist list = { 0 };
	size_t used = 0, count = 0;

	out[0] = '\0';
	if (!keep)
		return 0;
	if (cpulist_parse(keep, 1000000, &list, NULL) != CPULIST_OK ||
	    cpulist_is_relative(&list))
		return -1;
	for (size_t r = 0; r < list.count; r++)
		for (unsigned n = list.ranges[r].lo;
		     n <= list.ranges[r].hi && count < MAX_KEPT;
		     n += list.ranges[r].stride, count++)
			used += (size_t)snprintf(out + used, len - used,
						 "%s--banirq=%u",
						 used ? " " : "", n);
	cpulist_free(&list);
	return used < len && count < MAX_KEPT ? 0 : -1;
}

/* What irqbalance reads: a CPU list since 1.8 (Debian 12, 13), a hex
 * mask before (Debian 11's 1.7). Its binary tells which it knows. */
static bool plan_irqbalance_knows_cpulist(const char *root)
{
	static const char *const binaries[] = { "/usr/sbin/irqbalance",
						"/sbin/irqbalance" };
	static const char word[] = "IRQBALANCE_BANNED_CPULIST";

	for (size_t b = 0; b < 2; b++) {
		char full[PATH_MAX], chunk[65536];
		size_t got, keep = 0;
		FILE *in;

		snprintf(full, sizeof(full), "%s%s", root, binaries[b]);
		in = fopen(full, "re");
		if (!in)
			continue;
		/* The word may straddle two reads: its length is carried
		 * over to the next. */
		while ((got = fread(chunk + keep, 1, sizeof(chunk) - keep,
				    in)) > 0) {
			size_t total = got + keep;

			if (memmem(chunk, total, word, sizeof(word) - 1)) {
				fclose(in);
				return true;
			}
			keep = total < sizeof(word) ? total : sizeof(word);
			memmove(chunk, chunk + total - keep, keep);
		}
		fclose(in);
		return false;
	}
	return true; /* no binary to read: Debian 12 and later */
}

/* CPUs as irqbalance's hex mask: 32-bit words, comma separated. */
static void plan_hex_mask(const cpu_set_t *set, char *out, size_t len)
{
	int top = 0;
	size_t used = 0;

	for (int cpu = 0; cpu <= (int)CPULIST_MAX_CPU; cpu++)
		if (CPU_ISSET_S((size_t)cpu, CPULIST_SETSIZE, set))
			top = cpu;
	for (int word = top / 32; word >= 0 && used < len; word--) {
		unsigned value = 0;

		for (int bit = 0; bit < 32; bit++)
			if (CPU_ISSET_S((size_t)(word * 32 + bit),
					CPULIST_SETSIZE, set))
				value |= 1u << bit;
		used += (size_t)snprintf(out + used, len - used,
					 word == top / 32 ? "%x" : ",%08x",
					 value);
	}
}

struct plan_irqbalance {
	const char *root;
	char env_files[4][PATH_MAX];
	size_t env_count;
	/* what ours sets; NULL: a variable this irqbalance does not read */
	const char *cpulist, *mask, *banirqs;
	char conflict[1024];
};

static void plan_take_env_file(void *context, const char *path, int line,
			       const char *key, const char *value)
{
	struct plan_irqbalance *irq = context;

	(void)path;
	(void)line;
	if (strcmp(key, "EnvironmentFile") == 0 && irq->env_count < 4)
		snprintf(irq->env_files[irq->env_count++], PATH_MAX, "%s",
			 value + (value[0] == '-'));
}

/* Does an environment file line set name to something else than ours?
 * EnvironmentFile= overrides Environment=, so it would win. */
static void plan_env_line(struct plan_irqbalance *irq, const char *path,
			  int number, char *line)
{
	static const char *const names[] = { "IRQBALANCE_BANNED_CPULIST",
					     "IRQBALANCE_BANNED_CPUS",
					     "IRQBALANCE_ARGS" };
	char *value = strchr(line, '=');

	if (!value || irq->conflict[0])
		return;
	*value++ = '\0';
	if (value[0] == '"' || value[0] == '\'') {
		value[strcspn(value + 1, "\"'") + 1] = '\0';
		value++;
	}
	const char *ours[] = { irq->cpulist, irq->mask, irq->banirqs };

	for (size_t n = 0; n < 3; n++) {
		/* A variable this irqbalance does not read is no conflict. */
		bool ok = !ours[n] ||
			  (n == 2 ? !irq->banirqs[0] || strstr(value, ours[n])
				  : strcmp(value, ours[n]) == 0);

		if (strcmp(line, names[n]) == 0 && value[0] && !ok)
			reserve_say(
				irq->conflict, sizeof(irq->conflict),
				"%s%s:%d sets %s=%s, which overrides "
				"irqbalance's drop-in (EnvironmentFile= wins "
				"over Environment=): %s there, then run "
				"again",
				irq->root, path, number, names[n], value,
				n == 2 ? "add the drop-in's --banirq words"
				       : "comment it out");
	}
}

static void plan_env_conflicts(struct plan_irqbalance *irq)
{
	for (size_t f = 0; f < irq->env_count; f++) {
		char text[RESERVE_TEXT * 4];
		int number = 0;

		if (plan_read(irq->root, irq->env_files[f], text,
			      sizeof(text)) < 0)
			continue;
		for (char *line = text, *next; line; line = next) {
			next = strchr(line, '\n');
			if (next)
				*next++ = '\0';
			number++;
			line += strspn(line, " \t");
			if (strncmp(line, "export ", 7) == 0)
				line += 7;
			if (*line != '#')
				plan_env_line(irq, irq->env_files[f], number,
					      line);
		}
	}
}

static bool plan_has_irqbalance(const char *root)
{
	char file[PATH_MAX];

	plan_unit_file(root, "irqbalance.service", file, sizeof(file));
	return file[0] &&
	       plan_exists(root, "/etc/systemd/system/multi-user.target.wants/"
				 "irqbalance.service");
}

static int plan_irqbalance_dropin(const struct reserve_request *request,
				  struct reserve_plan *plan,
				  const cpu_set_t *reserved,
				  const char *banirqs, char *problem,
				  size_t len)
{
	struct plan_irqbalance irq = { .root = request->root };
	char mask[300], variable[400], args[1200] = "";
	bool cpulist = plan_irqbalance_knows_cpulist(request->root);

	plan_hex_mask(reserved, mask, sizeof(mask));
	/* Before 1.8 only the mask is read; since, the mask first. */
	irq.cpulist = cpulist ? plan->reserved : NULL;
	irq.mask = mask;
	irq.banirqs = banirqs;
	plan_each_setting(request->root, "irqbalance.service",
			  plan_take_env_file, &irq);
	plan_env_conflicts(&irq);
	if (irq.conflict[0]) {
		reserve_say(problem, len, "%s", irq.conflict);
		return -1;
	}
	snprintf(variable, sizeof(variable), "%s=%s",
		 cpulist ? "IRQBALANCE_BANNED_CPULIST"
			 : "IRQBALANCE_BANNED_CPUS",
		 cpulist ? plan->reserved : mask);
	if (banirqs[0])
		snprintf(args, sizeof(args),
			 "# The kept IRQs are left where klipper-pin-irq "
			 "puts them.\nEnvironment=\"IRQBALANCE_ARGS=%s\"\n",
			 banirqs);
	plan->irqbalance = true;
	return plan_file(plan,
			 "/etc/systemd/system/irqbalance.service.d/" DROPIN,
			 "# irqbalance puts no IRQ on the CPUs reserved for "
			 "%s (%s).\n# irqbalance %s reads %s.\n"
			 "[Service]\nEnvironment=%s\n%s",
			 request->unit, plan->reserved,
			 cpulist ? "1.8 and later" : "before 1.8",
			 cpulist ? "a CPU list" : "a hex mask", variable, args);
}

static int plan_irq_unit(const struct reserve_request *request,
			 struct reserve_plan *plan)
{
	char keep[300] = "";

	if (request->keep_irqs)
		snprintf(keep, sizeof(keep), " --keep-irq %s",
			 request->keep_irqs);
	plan->irq_unit = true;
	return plan_file(
		plan, "/etc/systemd/system/" IRQ_UNIT,
		"# Moves every IRQ off the CPUs reserved for %s (%s)%s, "
		"before\n"
		"# it starts; `systemctl restart klipper-pin-irq` moves them "
		"again\n# (a device plugged in later gets its IRQ where the "
		"kernel puts it).\n"
		"[Unit]\nDescription=IRQs off the CPUs reserved for %s "
		"(klipper-pin reserve)\n"
		"After=systemd-modules-load.service irqbalance.service\n"
		"Before=%s\n\n"
		"[Service]\nType=oneshot\nRemainAfterExit=yes\n"
		"ExecStart=%s reserve --set-irqs --cpus %s%s\n",
		request->unit, plan->reserved,
		keep[0] ? ", but the kept ones, which go there" : "",
		request->unit, request->unit, request->self, plan->reserved,
		keep);
}

static int plan_irqs(const struct reserve_request *request,
		     struct reserve_plan *plan, const cpu_set_t *reserved,
		     char *problem, size_t len)
{
	char banirqs[1200];

	if (plan_banirqs(request->keep_irqs, banirqs, sizeof(banirqs)) != 0) {
		reserve_say(
			problem, len,
			"bad --keep-irq '%s': expected IRQ numbers, as "
			"/proc/interrupts shows them (\"45\", \"45,46\"; at "
			"most %d)",
			request->keep_irqs, MAX_KEPT);
		return -1;
	}
	if (plan_has_irqbalance(request->root)) {
		if (plan_irqbalance_dropin(request, plan, reserved, banirqs,
					   problem, len) != 0)
			return -1;
		/* irqbalance leaves a banned IRQ where it is: something
		 * must put the kept ones beside klippy. */
		return request->keep_irqs ? plan_irq_unit(request, plan) : 0;
	}
	return plan_irq_unit(request, plan);
}

static int plan_managers(const struct reserve_request *request,
			 struct reserve_plan *plan)
{
	static const char *const managers[][2] = {
		{ "/etc/systemd/system.conf.d/" DROPIN, "unit" },
		{ "/etc/systemd/user.conf.d/" DROPIN, "user's unit" },
	};

	for (size_t m = 0; m < 2; m++)
		if (plan_file(plan, managers[m][0],
			      "# Every %s without a CPUAffinity= of its own "
			      "runs on these CPUs,\n# off the ones reserved "
			      "for %s (%s). Read at boot.\n"
			      "[Manager]\nCPUAffinity=%s\n",
			      managers[m][1], request->unit, plan->reserved,
			      plan->others) != 0)
			return -1;
	return 0;
}

static int plan_unit(const struct reserve_request *request,
		     struct reserve_plan *plan, const cpu_set_t *reserved,
		     char *problem, size_t len)
{
	char why[PATH_MAX + 64] = "", path[PATH_MAX], slice[600] = "";
	char wants[200] = "";
	int forbids = plan_slice_forbids(request->root, request->unit, reserved,
					 why, sizeof(why));

	if (forbids < 0) {
		reserve_say(
			problem, len,
			"%s forbids CPUs %s to every unit, and cgroup cpusets "
			"are hierarchical: no slice can give %s them; add "
			"%s to it or remove it",
			why, plan->reserved, request->unit, plan->reserved);
		return -1;
	}
	if (forbids) {
		snprintf(slice, sizeof(slice),
			 "# Its slice %s forbids it CPUs %s:\n# a slice of its "
			 "own, beside system.slice, allows them.\n"
			 "Slice=" OWN_SLICE "\n",
			 why, plan->reserved);
		plan_note(plan,
			  "%s moves to " OWN_SLICE ": %s forbids it the "
			  "reserved CPUs %s\n",
			  request->unit, why, plan->reserved);
	}
	if (plan->irq_unit)
		snprintf(wants, sizeof(wants),
			 "[Unit]\nWants=" IRQ_UNIT "\nAfter=" IRQ_UNIT "\n\n");
	snprintf(path, sizeof(path), "/etc/systemd/system/%s.d/" DROPIN,
		 request->unit);
	if (plan_file(plan, path,
		      "# %s may use every CPU: klipper-pin places each of its "
		      "threads,\n# on the reserved CPUs %s and beside other "
		      "work on %s.\n%s[Service]\nCPUAffinity=%s\n%s",
		      request->unit, plan->reserved, plan->others, wants,
		      plan->all, slice) != 0)
		return -1;
	return forbids ? plan_file(plan, "/etc/systemd/system/" OWN_SLICE,
				   "# %s's own slice, written because %s\n"
				   "# forbids it the reserved CPUs %s.\n"
				   "[Unit]\nDescription=%s beside system.slice "
				   "(klipper-pin reserve)\n\n"
				   "[Slice]\nAllowedCPUs=%s\n",
				   request->unit, why, plan->reserved,
				   request->unit, plan->all)
		       : 0;
}

/* Advice on the kernel command line, which reserve never edits. */
static void plan_cmdline_note(const char *root, struct reserve_plan *plan)
{
	const char *where = plan_exists(root, "/boot/firmware/cmdline.txt")
				    ? "/boot/firmware/cmdline.txt"
			    : plan_exists(root, "/boot/cmdline.txt")
				    ? "/boot/cmdline.txt"
				    : NULL;

	plan_note(plan,
		  "kernel command line (not edited; optional): "
		  "isolcpus=domain,managed_irq,%s nohz_full=%s rcu_nocbs=%s\n",
		  plan->reserved, plan->reserved, plan->reserved);
	if (where)
		plan_note(plan,
			  "  add it to %s%s: one line, words separated "
			  "by spaces, then reboot\n",
			  root, where);
	else
		plan_note(
			plan,
			"  on a Raspberry Pi: the one line of "
			"/boot/firmware/cmdline.txt (/boot/cmdline.txt before "
			"Raspberry Pi OS 12); with GRUB: GRUB_CMDLINE_LINUX "
			"in /etc/default/grub, then update-grub\n");
	plan_note(plan,
		  "  cost: isolcpus= takes CPUs %s out of load balancing "
		  "(a thread allowed several of them stays where it started; "
		  "klipper-pin's one-CPU placements are unaffected) and keeps "
		  "unbound kernel work off them; nohz_full= works only on a "
		  "kernel built with CONFIG_NO_HZ_FULL (many Raspberry Pi OS "
		  "kernels are not: check that "
		  "/sys/devices/system/cpu/nohz_full exists and does not read "
		  "\"(null)\") and makes every system call, page fault and "
		  "context switch on those CPUs dearer\n",
		  plan->reserved);
}

/* The reserved CPUs resolved, and the rest, into the plan's lists. */
static int plan_resolve(const char *root, const char *cpus,
			struct reserve_plan *plan, cpu_set_t *online,
			cpu_set_t *reserved, char *problem, size_t len)
{
	if (plan_online(root, online, problem, len) != 0 ||
	    plan_cpus(cpus, online, reserved, problem, len) != 0)
		return -1;
	cpulist_format(reserved, CPULIST_SETSIZE, plan->reserved,
		       sizeof(plan->reserved));
	cpulist_format(online, CPULIST_SETSIZE, plan->all, sizeof(plan->all));
	CPU_XOR_S(CPULIST_SETSIZE, online, online, reserved);
	cpulist_format(online, CPULIST_SETSIZE, plan->others,
		       sizeof(plan->others));
	return 0;
}

int reserve_cpus(const char *root, const char *cpus, struct reserve_plan *plan,
		 char *problem, size_t len)
{
	cpu_set_t *online = CPU_ALLOC(CPULIST_MAX_CPU + 1);
	cpu_set_t *reserved = CPU_ALLOC(CPULIST_MAX_CPU + 1);
	int result = -1;

	memset(plan, 0, sizeof(*plan));
	reserve_say(problem, len, "out of memory");
	if (online && reserved)
		result = plan_resolve(root, cpus, plan, online, reserved,
				      problem, len);
	CPU_FREE(online);
	CPU_FREE(reserved);
	return result;
}

int reserve_plan_build(const struct reserve_request *request,
		       struct reserve_plan *plan, char *problem, size_t len)
{
	cpu_set_t *online = CPU_ALLOC(CPULIST_MAX_CPU + 1);
	cpu_set_t *reserved = CPU_ALLOC(CPULIST_MAX_CPU + 1);
	char unit_file[PATH_MAX];
	int result = -1;

	memset(plan, 0, sizeof(*plan));
	reserve_say(problem, len, "out of memory");
	if (!online || !reserved ||
	    plan_resolve(request->root, request->cpus, plan, online, reserved,
			 problem, len) != 0)
		goto out;
	reserve_say(problem, len, "a file to write is too long");
	if (plan_managers(request, plan) != 0 ||
	    plan_irqs(request, plan, reserved, problem, len) != 0 ||
	    plan_unit(request, plan, reserved, problem, len) != 0)
		goto out;
	plan_unit_file(request->root, request->unit, unit_file,
		       sizeof(unit_file));
	if (!unit_file[0])
		plan_note(plan,
			  "warning: no unit %s under %s/etc/systemd/system or "
			  "/lib/systemd/system: its drop-in waits for it\n",
			  request->unit, request->root);
	plan_cmdline_note(request->root, plan);
	result = 0;
out:
	CPU_FREE(online);
	CPU_FREE(reserved);
	return result;
}
