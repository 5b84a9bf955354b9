/*
 * What the system is told about the reserved CPUs, beside its processes:
 * the IRQs that may fire there, whether the kernel isolates them, the
 * slices' cpusets, systemd's CPUAffinity= and irqbalance's banned CPUs.
 * Every file is read under a root; a file missing is a fact ("not set"),
 * a file garbled a problem said, never a failure.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"

/* Lines naming a device the MCU may hang on: USB host controllers and
 * UARTs, as /proc/interrupts names them on a Pi, an x86 box, a Rockchip. */
static const char *const audit_device_words[] = {
	"xhci", "dwc",	  "usb",  "ehci",   "ohci",
	"uart", "ttyAMA", "ttyS", "serial", "pl011",
};

static void audit_trim(char *text)
{
	size_t len = strlen(text);

	while (len && (text[len - 1] == '\n' || text[len - 1] == ' ' ||
		       text[len - 1] == '\t'))
		text[--len] = '\0';
	memmove(text, text + strspn(text, " \t"), strlen(text) + 1);
}

/* text with each run of blanks one space, trimmed: /proc/interrupts
 * pads its columns. */
static void audit_collapse(const char *text, char *out, size_t len)
{
	size_t used = 0;

	text += strspn(text, " \t");
	while (*text && *text != '\n' && used + 1 < len) {
		size_t blanks = strspn(text, " \t");

		if (blanks) {
			text += blanks;
			if (*text && *text != '\n')
				out[used++] = ' ';
			continue;
		}
		out[used++] = *text++;
	}
	out[used] = '\0';
}

/* A small file's first line, trimmed; false when it cannot be read. */
static bool audit_read_line(const char *root, const char *path, char *out,
			    size_t len)
{
	char full[4096], text[4096];

	if (!proc_path(full, sizeof(full), root, "%s", path) ||
	    proc_read_file(full, text, sizeof(text)) < 0)
		return false;
	text[strcspn(text, "\n")] = '\0';
	snprintf(out, len, "%s", text);
	audit_trim(out);
	return true;
}

static bool audit_is_device(const char *name)
{
	for (size_t i = 0;
	     i < sizeof(audit_device_words) / sizeof(audit_device_words[0]);
	     i++)
		if (strcasestr(name, audit_device_words[i]))
			return true;
	return false;
}

/* ---- /proc/interrupts ------------------------------------------------ */

/* The CPU of each count column, from the header "CPU0 CPU1 ...". */
static size_t audit_columns(char *header, unsigned *cpus, size_t room)
{
	size_t count = 0;
	char *save = NULL;

	for (char *word = strtok_r(header, " \t\n", &save);
	     word && count < room; word = strtok_r(NULL, " \t\n", &save))
		if (strncmp(word, "CPU", 3) == 0 && word[3] >= '0' &&
		    word[3] <= '9')
			cpus[count++] = (unsigned)strtoul(word + 3, NULL, 10);
	return count;
}

/* One IRQ's line: its number, its count on the reserved CPUs and its
 * name (what follows the counts). False for lines of other kinds. */
static bool audit_interrupt_line(char *line, const unsigned *cpus,
				 size_t columns, const cpu_set_t *reserved,
				 struct audit_fired_entry *entry, char *name,
				 size_t len)
{
	char *p = line, *end;
	unsigned long number = strtoul(p, &end, 10);

	if (end == p || *end != ':')
		return false;
	entry->number = (unsigned)number;
	entry->count = 0;
	p = end + 1;
	for (size_t i = 0; i < columns; i++) {
		unsigned long long count = strtoull(p, &end, 10);

		if (end == p)
			break;
		if (CPU_ISSET_S(cpus[i], CPULIST_SETSIZE, reserved))
			entry->count += count;
		p = end;
	}
	if (name)
		audit_collapse(p, name, len);
	return true;
}

/* Calls each(context, entry, name) for each IRQ line. */
static int audit_interrupts_each(const char *root, const cpu_set_t *reserved,
				 void (*each)(void *,
					      const struct audit_fired_entry *,
					      const char *),
				 void *context)
{
	char path[4096], name[AUDIT_TEXT_LEN];
	unsigned cpus[CPULIST_MAX_CPU + 1];
	char *line = NULL;
	size_t room = 0, columns = 0;
	FILE *file;

	if (!proc_path(path, sizeof(path), root, "/proc/interrupts") ||
	    !(file = fopen(path, "re")))
		return -1;
	if (getline(&line, &room, file) > 0)
		columns = audit_columns(line, cpus, CPULIST_MAX_CPU + 1);
	while (getline(&line, &room, file) > 0) {
		struct audit_fired_entry entry;

		if (audit_interrupt_line(line, cpus, columns, reserved, &entry,
					 name, sizeof(name)))
			each(context, &entry, name);
	}
	free(line);
	fclose(file);
	return 0;
}

static void audit_fired_add(void *context,
			    const struct audit_fired_entry *entry,
			    const char *name)
{
	struct audit_fired *fired = context;
	void *grown = realloc(fired->entries,
			      (fired->count + 1) * sizeof(*fired->entries));

	(void)name;
	if (!grown)
		return;
	fired->entries = grown;
	fired->entries[fired->count++] = *entry;
}

int audit_fired_take(const char *root, const cpu_set_t *reserved,
		     struct audit_fired *fired)
{
	memset(fired, 0, sizeof(*fired));
	return audit_interrupts_each(root, reserved, audit_fired_add, fired);
}

void audit_fired_free(struct audit_fired *fired)
{
	free(fired->entries);
	memset(fired, 0, sizeof(*fired));
}

/* ---- /proc/irq --------------------------------------------------------- */

struct audit_irq_context {
	struct audit_system *system;
	const struct audit_fired *first;
};

/* Names an IRQ already read from /proc/irq and counts what fired. */
static void audit_irq_name(void *context, const struct audit_fired_entry *entry,
			   const char *name)
{
	struct audit_irq_context *irqs = context;
	unsigned long long before = 0;

	for (size_t i = 0; irqs->first && i < irqs->first->count; i++)
		if (irqs->first->entries[i].number == entry->number)
			before = irqs->first->entries[i].count;
	for (size_t i = 0; i < irqs->system->irq_count; i++) {
		struct audit_irq *irq = &irqs->system->irq[i];

		if (irq->number != entry->number)
			continue;
		snprintf(irq->name, sizeof(irq->name), "%s", name);
		irq->device = audit_is_device(name);
		irq->fired = entry->count > before ? entry->count - before : 0;
	}
}

/* An IRQ's affinity lists; true when they say it may fire on a reserved
 * CPU, or cannot be read (then it may). */
static bool audit_irq_read(const char *root, unsigned number,
			   const cpu_set_t *reserved, cpu_set_t *set,
			   struct audit_irq *irq,
			   struct audit_problems *problems)
{
	char path[128];
	bool there = false;

	memset(irq, 0, sizeof(*irq));
	irq->number = number;
	snprintf(path, sizeof(path), "/proc/irq/%u/smp_affinity_list", number);
	if (!audit_read_line(root, path, irq->affinity,
			     sizeof(irq->affinity))) {
		audit_problem(problems, "%s%s: %s", root, path,
			      strerror(errno));
		irq->garbled = true;
	} else if (!irq->affinity[0] || !audit_set_parse(irq->affinity, set)) {
		audit_problem(problems, "%s%s: '%s' is not a CPU list", root,
			      path, irq->affinity);
		irq->garbled = true;
	} else {
		there = audit_set_meets(set, reserved);
	}
	/* Older kernels have no effective_affinity_list: not a problem. */
	snprintf(path, sizeof(path), "/proc/irq/%u/effective_affinity_list",
		 number);
	if (audit_read_line(root, path, irq->effective,
			    sizeof(irq->effective))) {
		if (!audit_set_parse(irq->effective, set)) {
			audit_problem(problems, "%s%s: '%s' is not a CPU list",
				      root, path, irq->effective);
			irq->garbled = true;
		} else if (audit_set_meets(set, reserved)) {
			there = true;
		}
	}
	return there || irq->garbled;
}

static int audit_irqs_read(const char *root, const cpu_set_t *reserved,
			   const struct audit_fired *first,
			   struct audit_system *system,
			   struct audit_problems *problems)
{
	struct audit_irq_context context = { system, first };
	char dir[4096];
	pid_t *numbers;
	size_t count;
	cpu_set_t *set = audit_set_new();

	if (!set)
		return -1;
	if (!proc_path(dir, sizeof(dir), root, "/proc/irq") ||
	    proc_list_ids(dir, &numbers, &count) != 0) {
		audit_problem(problems, "cannot list %s/proc/irq: %s", root,
			      strerror(errno));
		free(set);
		return 0;
	}
	system->irq = calloc(count ? count : 1, sizeof(*system->irq));
	for (size_t i = 0; system->irq && i < count; i++)
		if (audit_irq_read(root, (unsigned)numbers[i], reserved, set,
				   &system->irq[system->irq_count], problems))
			system->irq_count++;
	free(numbers);
	free(set);
	if (!system->irq)
		return -1;
	audit_interrupts_each(root, reserved, audit_irq_name, &context);
	return 0;
}

/* ---- the kernel's command line and sysfs -------------------------------- */

bool audit_isolcpus_set(const char *value, cpu_set_t *set)
{
	/* isolcpus=[flag,...,]list: flags are words, the list digits. */
	while (*value && !(*value >= '0' && *value <= '9')) {
		const char *comma = strchr(value, ',');

		if (!comma)
			return false;
		value = comma + 1;
	}
	return audit_set_parse(value, set);
}

static void audit_cmdline_read(const char *root, struct audit_system *system)
{
	char text[4096];
	char *save = NULL;

	if (!audit_read_line(root, "/proc/cmdline", text, sizeof(text)))
		return;
	/* Last one wins, as the kernel parses; after "--" come init's. */
	for (char *word = strtok_r(text, " \t", &save);
	     word && strcmp(word, "--") != 0;
	     word = strtok_r(NULL, " \t", &save))
		if (strncmp(word, "isolcpus=", 9) == 0)
			snprintf(system->isolcpus, sizeof(system->isolcpus),
				 "%s", word + 9);
		else if (strncmp(word, "nohz_full=", 10) == 0)
			snprintf(system->nohz_full, sizeof(system->nohz_full),
				 "%s", word + 10);
}

static void audit_isolation_read(const char *root, struct audit_system *system)
{
	audit_cmdline_read(root, system);
	system->has_isolated =
		audit_read_line(root, "/sys/devices/system/cpu/isolated",
				system->isolated, sizeof(system->isolated));
	system->has_nohz_full = audit_read_line(
		root, "/sys/devices/system/cpu/nohz_full",
		system->nohz_full_now, sizeof(system->nohz_full_now));
	/* Some kernels write "(null)" for an empty nohz_full mask. */
	if (strcmp(system->nohz_full_now, "(null)") == 0)
		system->nohz_full_now[0] = '\0';
}

/* ---- files of settings ------------------------------------------------ */

static void audit_settings_add(struct audit_settings *settings,
			       const char *file, int line, const char *name,
			       const char *value, bool user)
{
	struct audit_setting *setting;

	if (settings->count == AUDIT_MAX_SETTINGS)
		return;
	setting = &settings->item[settings->count++];
	snprintf(setting->file, sizeof(setting->file), "%s", file);
	setting->line = line;
	snprintf(setting->name, sizeof(setting->name), "%s", name);
	snprintf(setting->value, sizeof(setting->value), "%s", value);
	audit_trim(setting->value);
	setting->user = user;
}

/* Each uncommented "KEY=value" line of a file (under root) whose key is
 * key, or (with inside) that holds key anywhere: an Environment= line
 * holds several assignments, quoted or not. */
static void audit_scan_file(const char *root, const char *path, const char *key,
			    bool inside, const char *name, bool user,
			    struct audit_settings *settings)
{
	char *line = NULL, value[AUDIT_TEXT_LEN];
	size_t room = 0, key_len = strlen(key);
	int number = 0;
	FILE *file = fopen(path, "re");

	if (!file)
		return;
	while (getline(&line, &room, file) > 0) {
		char *start = line + strspn(line, " \t");
		char *at = inside ? strstr(start, key) : start;

		number++;
		if (*start == '#' || *start == ';' || !at ||
		    strncmp(at, key, key_len) != 0)
			continue;
		at += key_len;
		at += strspn(at, "\"'");
		snprintf(value, sizeof(value), "%.*s",
			 (int)strcspn(at, "\"'\n"), at);
		audit_settings_add(settings, path + strlen(root), number, name,
				   value, user);
	}
	free(line);
	fclose(file);
}

/* Calls each(context, path) for each entry of dir whose name ends with
 * suffix, in name order (as systemd orders drop-ins). */
static void audit_each_entry(const char *dir, const char *suffix,
			     void (*each)(void *, const char *, const char *),
			     void *context)
{
	struct dirent **entries;
	size_t suffix_len = strlen(suffix);
	char path[4096];
	int count = scandir(dir, &entries, NULL, alphasort);

	for (int i = 0; i < count; i++) {
		const char *name = entries[i]->d_name;
		size_t len = strlen(name);

		if (name[0] != '.' && len > suffix_len &&
		    strcmp(name + len - suffix_len, suffix) == 0 &&
		    (size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) <
			    sizeof(path))
			each(context, path, name);
		free(entries[i]);
	}
	if (count >= 0)
		free(entries);
}

struct audit_scan {
	const char *root, *key, *name;
	bool inside, user;
	struct audit_settings *settings;
};

static void audit_scan_entry(void *context, const char *path, const char *entry)
{
	const struct audit_scan *scan = context;

	(void)entry;
	audit_scan_file(scan->root, path, scan->key, scan->inside, scan->name,
			scan->user, scan->settings);
}

/* A file (under root), then the *.conf files of its drop-in directory;
 * either may be NULL. */
static void audit_scan_with_dropins(struct audit_scan *scan, const char *file,
				    const char *dropins)
{
	char path[4096];

	if (file && proc_path(path, sizeof(path), scan->root, "%s", file))
		audit_scan_file(scan->root, path, scan->key, scan->inside,
				scan->name, scan->user, scan->settings);
	if (dropins && proc_path(path, sizeof(path), scan->root, "%s", dropins))
		audit_each_entry(path, ".conf", audit_scan_entry, scan);
}

/* "user.slice" and "user.slice.d": the slice's file and drop-ins. */
static void audit_slice_entry(void *context, const char *path,
			      const char *entry)
{
	struct audit_scan scan = *(const struct audit_scan *)context;
	char name[64];

	snprintf(name, sizeof(name), "%.*s",
		 (int)(strstr(entry, ".slice") - entry + 6), entry);
	scan.name = name;
	if (entry[strlen(entry) - 1] == 'd')
		audit_each_entry(path, ".conf", audit_scan_entry, &scan);
	else
		audit_scan_file(scan.root, path, scan.key, false, name, false,
				scan.settings);
}

struct audit_cgroup_scan {
	const char *root;
	struct audit_system *system;
};

static void audit_cgroup_entry(void *context, const char *path,
			       const char *entry)
{
	const struct audit_cgroup_scan *scan = context;
	char file[4096], value[AUDIT_TEXT_LEN];

	if ((size_t)snprintf(file, sizeof(file), "%s/cpuset.cpus.effective",
			     path) >= sizeof(file) ||
	    !audit_read_line("", file, value, sizeof(value)))
		return;
	audit_settings_add(&scan->system->slice_sets, file + strlen(scan->root),
			   0, entry, value, false);
}

static void audit_settings_read(const char *root, struct audit_system *system)
{
	struct audit_scan scan = {
		root, "AllowedCPUs=", NULL, false, false, &system->slice_lines
	};
	struct audit_cgroup_scan cgroups = { root, system };
	char path[4096];

	if (proc_path(path, sizeof(path), root, "/etc/systemd/system")) {
		audit_each_entry(path, ".slice", audit_slice_entry, &scan);
		audit_each_entry(path, ".slice.d", audit_slice_entry, &scan);
	}
	if (proc_path(path, sizeof(path), root, "/sys/fs/cgroup"))
		audit_each_entry(path, ".slice", audit_cgroup_entry, &cgroups);
	/* The main file first, then its drop-ins: the last one wins. */
	scan = (struct audit_scan){ root,  "CPUAffinity=", "CPUAffinity",
				    false, false,	   &system->affinity };
	audit_scan_with_dropins(&scan, "/etc/systemd/system.conf",
				"/etc/systemd/system.conf.d");
	scan.user = true;
	audit_scan_with_dropins(&scan, "/etc/systemd/user.conf",
				"/etc/systemd/user.conf.d");
}

static void audit_irqbalance_read(const char *root, struct audit_system *system)
{
	static const char *const keys[] = { "IRQBALANCE_BANNED_CPULIST",
					    "IRQBALANCE_BANNED_CPUS" };
	char path[4096], key[64];

	system->irqbalance_installed =
		proc_path(path, sizeof(path), root, "/usr/sbin/irqbalance") &&
		access(path, F_OK) == 0;
	for (size_t i = 0; i < 2; i++) {
		struct audit_scan scan = { root,  key,	 keys[i],
					   false, false, &system->banned };

		snprintf(key, sizeof(key), "%s=", keys[i]);
		audit_scan_with_dropins(&scan, "/etc/default/irqbalance", NULL);
		/* Environment="A=1" "B=2": the key anywhere on the line. */
		scan.inside = true;
		audit_scan_with_dropins(
			&scan, NULL,
			"/etc/systemd/system/irqbalance.service.d");
	}
}

int audit_system_read(const char *root, const cpu_set_t *reserved,
		      const struct audit_fired *first,
		      struct audit_system *system,
		      struct audit_problems *problems)
{
	memset(system, 0, sizeof(*system));
	if (audit_irqs_read(root, reserved, first, system, problems) != 0)
		return -1;
	audit_isolation_read(root, system);
	audit_settings_read(root, system);
	audit_irqbalance_read(root, system);
	return 0;
}

void audit_system_free(struct audit_system *system)
{
	free(system->irq);
	system->irq = NULL;
	system->irq_count = 0;
}

const struct audit_setting *audit_affinity_now(const struct audit_system *s,
					       bool user)
{
	const struct audit_setting *now = NULL;

	for (size_t i = 0; i < s->affinity.count; i++)
		if (s->affinity.item[i].user == user)
			now = &s->affinity.item[i];
	/* An empty CPUAffinity= resets it: all CPUs. */
	return now && now->value[0] ? now : NULL;
}

bool audit_banned_set(const struct audit_system *system, cpu_set_t *set)
{
	cpu_set_t *one = audit_set_new();
	bool any = false;

	CPU_ZERO_S(CPULIST_SETSIZE, set);
	for (size_t i = 0; one && i < system->banned.count; i++) {
		const struct audit_setting *banned = &system->banned.item[i];
		bool list =
			strcmp(banned->name, "IRQBALANCE_BANNED_CPULIST") == 0;

		if (list ? audit_set_parse(banned->value, one)
			 : audit_set_parse_mask(banned->value, one)) {
			CPU_OR_S(CPULIST_SETSIZE, set, set, one);
			any = any || audit_set_count(one) > 0;
		}
	}
	free(one);
	return any;
}
