/*
 * Loading a service unit as systemd does: the unit file, then its
 * drop-ins in lexical order, keeping the few [Service] settings
 * klipper-pin reads with where each was set.
 */
#include "systemd_unit.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* systemd 252's system search path (systemd.unit(5)) without the
 * generators' directories, which exist only while systemd runs. */
const char *const unit_search_path[] = {
	"/etc/systemd/system.control",
	"/run/systemd/system.control",
	"/run/systemd/transient",
	"/etc/systemd/system",
	"/run/systemd/system",
	"/usr/local/lib/systemd/system",
	"/lib/systemd/system",
	"/usr/lib/systemd/system",
	NULL,
};

/* A unit file bigger than this is not one a person wrote. */
#define UNIT_FILE_MAX ((size_t)1024 * 1024)
#define UNIT_NAMES_MAX 16

/* What kind of file a path holds once symbolic links are followed. */
enum unit_file_kind {
	UNIT_FILE_NONE,
	UNIT_FILE_REGULAR,
	UNIT_FILE_MASKED, /* a link to /dev/null, or an empty file */
	UNIT_FILE_OTHER,
};

int unit_name_valid(const char *name)
{
	static const char suffix[] = ".service";
	size_t length = strlen(name), suffix_length = sizeof(suffix) - 1;

	return length > suffix_length && length < 256 &&
	       strcmp(name + length - suffix_length, suffix) == 0 &&
	       strcspn(name, "/ \t\n") == length && name[0] != '.';
}

/* first + second into out; false when it does not fit. */
static bool unit_join(char *out, size_t len, const char *first,
		      const char *second)
{
	int used = snprintf(out, len, "%s%s", first, second);

	return used >= 0 && (size_t)used < len;
}

/* Follows path's symbolic links (its last component) inside root, as
 * systemctl --root does: an absolute target is under root too. */
static enum unit_file_kind unit_follow(const char *root, const char *path,
				       char *out, size_t len)
{
	char target[PATH_MAX], link[PATH_MAX];
	struct stat info;

	if (!unit_join(out, len, root, path))
		return UNIT_FILE_NONE;
	for (int hops = 0; hops < 8; hops++) {
		ssize_t got;

		if (lstat(out, &info) != 0)
			return UNIT_FILE_NONE;
		if (!S_ISLNK(info.st_mode))
			return !S_ISREG(info.st_mode) ? UNIT_FILE_OTHER
			       : info.st_size == 0    ? UNIT_FILE_MASKED
						      : UNIT_FILE_REGULAR;
		got = readlink(out, target, sizeof(target) - 1);
		if (got < 0)
			return UNIT_FILE_NONE;
		target[got] = '\0';
		if (strcmp(target, "/dev/null") == 0)
			return UNIT_FILE_MASKED;
		snprintf(link, sizeof(link), "%s", out);
		*(strrchr(link, '/') + 1) = '\0';
		if (!unit_join(out, len, target[0] == '/' ? root : link,
			       target))
			return UNIT_FILE_NONE;
	}
	return UNIT_FILE_OTHER;
}

static char *unit_read_text(const char *path)
{
	FILE *file = fopen(path, "re");
	char *text = malloc(UNIT_FILE_MAX + 1);

	if (file && text) {
		size_t got = fread(text, 1, UNIT_FILE_MAX + 1, file);
		if (ferror(file) || got > UNIT_FILE_MAX) {
			free(text);
			text = NULL;
			errno = ferror(file) ? EIO : EFBIG;
		} else {
			text[got] = '\0';
		}
	} else {
		free(text);
		text = NULL;
	}
	if (file)
		fclose(file);
	return text;
}

static void unit_list_clear(struct unit_list *list)
{
	for (size_t i = 0; i < list->count; i++) {
		free(list->items[i].value);
		free(list->items[i].file);
	}
	free(list->items);
	list->items = NULL;
	list->count = 0;
}

static int unit_list_add(struct unit_list *list, const char *value,
			 const char *file, int line)
{
	struct unit_setting *items =
		realloc(list->items, (list->count + 1) * sizeof(*items));

	if (!items)
		return -1;
	list->items = items;
	items[list->count] = (struct unit_setting){
		.value = strdup(value),
		.file = strdup(file),
		.line = line,
	};
	list->count++;
	return items[list->count - 1].value && items[list->count - 1].file ? 0
									   : -1;
}

/* One assignment in [Service]: an empty value resets the list, as
 * systemd resets ExecStart=, EnvironmentFile=, CPUAffinity= and
 * AllowedCPUs=; User=
 * keeps its last value only. */
static int unit_assign(struct unit_state *state, const char *key,
		       const char *value, const char *file, int line)
{
	static const char *const keys[] = { "ExecStart", "User",
					    "EnvironmentFile", "CPUAffinity",
					    "AllowedCPUs" };
	struct unit_list *lists[] = { &state->exec_start, &state->user,
				      &state->environment_file,
				      &state->cpu_affinity,
				      &state->allowed_cpus };

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (strcmp(key, keys[i]) != 0)
			continue;
		if (!*value || lists[i] == &state->user)
			unit_list_clear(lists[i]);
		return *value ? unit_list_add(lists[i], value, file, line) : 0;
	}
	return 0;
}

static char *unit_trim(char *text)
{
	size_t length;

	text += strspn(text, " \t");
	length = strlen(text);
	while (length && strchr(" \t\r", text[length - 1]))
		text[--length] = '\0';
	return text;
}

/* The next logical line from *at: a line ending in a backslash goes on
 * (the backslash read as a space), comment lines inside it left out, as
 * systemd reads them. Cuts text in place; NULL at the end. */
static char *unit_next_line(char **at, int *line)
{
	char *start = *at, *out = *at;
	bool continued = false;

	if (!**at)
		return NULL;
	for (;;) {
		char *end = *at + strcspn(*at, "\n");
		bool more = end > *at && end[-1] == '\\';
		char first = (*at)[strspn(*at, " \t")];
		size_t length = (size_t)(end - *at) - more;

		(*line)++;
		if (!(continued && (first == '#' || first == ';'))) {
			memmove(out, *at, length);
			out += length;
			if (more)
				*out++ = ' ';
		}
		*at = *end ? end + 1 : end;
		continued = true;
		if (!more || !**at)
			break;
	}
	*out = '\0';
	return start;
}

static int unit_apply_text(struct unit_state *state, char *text,
			   const char *file)
{
	bool in_service = false;
	int line = 0;
	char *at = text, *logical;

	for (;;) {
		int first_line = line + 1;
		char *equals;

		logical = unit_next_line(&at, &line);
		if (!logical)
			return 0;
		logical = unit_trim(logical);
		if (*logical == '#' || *logical == ';' || !*logical)
			continue;
		if (*logical == '[') {
			in_service = strcmp(logical, "[Service]") == 0;
			continue;
		}
		equals = strchr(logical, '=');
		if (!in_service || !equals)
			continue;
		*equals = '\0';
		if (unit_assign(state, unit_trim(logical),
				unit_trim(equals + 1), file, first_line) != 0)
			return -1;
	}
}

static int unit_apply_file(const char *root, struct unit_state *state,
			   const char *path, char *problem, size_t len)
{
	char real[PATH_MAX];
	enum unit_file_kind kind = unit_follow(root, path, real, sizeof(real));
	char *text;
	int failed;

	if (kind == UNIT_FILE_MASKED)
		return 0;
	text = kind == UNIT_FILE_REGULAR ? unit_read_text(real) : NULL;
	if (!text) {
		snprintf(problem, len, "%s%s: cannot read: %s", root, path,
			 kind == UNIT_FILE_REGULAR ? strerror(errno)
						   : "not a regular file");
		return -1;
	}
	failed = unit_apply_text(state, text, path);
	free(text);
	if (failed)
		snprintf(problem, len, "%s%s: out of memory", root, path);
	return failed ? -1 : 0;
}

/* The names whose drop-ins apply, most specific first: the unit, its
 * template, each dash prefix ("klipper-.service"), then the type
 * ("service", for service.d). */
static size_t unit_dropin_names(const char *name, char names[][256])
{
	const char *dot = strrchr(name, '.');
	const char *at = strchr(name, '@');
	size_t count = 0, stem = (size_t)(dot - name);

	snprintf(names[count++], 256, "%s", name);
	if (at && at + 1 != dot)
		snprintf(names[count++], 256, "%.*s%s", (int)(at - name + 1),
			 name, dot);
	for (size_t i = stem; i-- > 0 && count < UNIT_NAMES_MAX - 1;)
		if (name[i] == '-' && i + 1 < stem)
			snprintf(names[count++], 256, "%.*s%s", (int)(i + 1),
				 name, dot);
	snprintf(names[count++], 256, "%s", dot + 1);
	return count;
}

static const char *unit_basename(const char *path)
{
	return strrchr(path, '/') + 1;
}

static int unit_compare_basenames(const void *a, const void *b)
{
	return strcmp(unit_basename(*(char *const *)a),
		      unit_basename(*(char *const *)b));
}

static bool unit_has_basename(const struct unit_state *state, const char *base)
{
	for (size_t i = 0; i < state->dropin_count; i++)
		if (strcmp(unit_basename(state->dropins[i]), base) == 0)
			return true;
	return false;
}

static bool unit_is_conf(const char *base)
{
	size_t length = strlen(base);

	return base[0] != '.' && length > 5 &&
	       strcmp(base + length - 5, ".conf") == 0;
}

/* Adds the .conf files of dir (without the root) not hidden by an
 * earlier one of the same name. */
static int unit_add_dropins(const char *root, const char *dir,
			    struct unit_state *state)
{
	char path[PATH_MAX];
	struct dirent *entry;
	DIR *listing;
	int failed = 0;

	snprintf(path, sizeof(path), "%s%s", root, dir);
	listing = opendir(path);
	if (!listing)
		return 0;
	while (!failed && (entry = readdir(listing))) {
		char **more;

		if (!unit_is_conf(entry->d_name) ||
		    unit_has_basename(state, entry->d_name))
			continue;
		more = realloc(state->dropins,
			       (state->dropin_count + 1) * sizeof(*more));
		failed = !more;
		if (more) {
			state->dropins = more;
			failed = asprintf(&more[state->dropin_count], "%s/%s",
					  dir, entry->d_name) < 0;
			state->dropin_count += !failed;
		}
	}
	closedir(listing);
	return failed ? -1 : 0;
}

static int unit_find_dropins(const char *root, const char *name,
			     struct unit_state *state)
{
	char names[UNIT_NAMES_MAX][256], dir[PATH_MAX];
	size_t count = unit_dropin_names(name, names);

	for (size_t n = 0; n < count; n++)
		for (size_t i = 0; unit_search_path[i]; i++) {
			int used = snprintf(dir, sizeof(dir), "%s/%s.d",
					    unit_search_path[i], names[n]);

			if (used < 0 || (size_t)used >= sizeof(dir))
				continue;
			if (unit_add_dropins(root, dir, state) != 0)
				return -1;
		}
	if (state->dropin_count)
		qsort(state->dropins, state->dropin_count,
		      sizeof(*state->dropins), unit_compare_basenames);
	return 0;
}

/* The unit file: the first of the search path's directories that has
 * it, or its template ("klipper@.service" for "klipper@2.service"). */
static int unit_find_file(const char *root, const char *name,
			  struct unit_state *state)
{
	char template[256], path[PATH_MAX];
	const char *at = strchr(name, '@'), *dot = strrchr(name, '.');
	struct stat info;

	snprintf(template, sizeof(template), "%.*s%s",
		 at ? (int)(at - name + 1) : 0, name, dot);
	for (int pass = 0; pass < (at ? 2 : 1); pass++)
		for (size_t i = 0; unit_search_path[i]; i++) {
			snprintf(path, sizeof(path), "%s%s/%s", root,
				 unit_search_path[i], pass ? template : name);
			if (lstat(path, &info) != 0)
				continue;
			return asprintf(&state->path, "%s/%s",
					unit_search_path[i],
					pass ? template : name) < 0
				       ? -1
				       : 0;
		}
	return 1;
}

static void unit_say_not_found(const char *root, const char *name,
			       char *problem, size_t len)
{
	size_t used =
		(size_t)snprintf(problem, len, "no unit %s: looked in", name);

	for (size_t i = 0; unit_search_path[i] && used < len; i++)
		used += (size_t)snprintf(problem + used, len - used, "%s %s%s",
					 i ? "," : "", root,
					 unit_search_path[i]);
}

static void unit_drop_skipped(struct unit_state *state, const char *skip)
{
	for (size_t i = 0; skip && i < state->dropin_count; i++) {
		if (strcmp(state->dropins[i], skip) != 0)
			continue;
		free(state->dropins[i]);
		memmove(state->dropins + i, state->dropins + i + 1,
			(state->dropin_count - i - 1) * sizeof(char *));
		state->dropin_count--;
		return;
	}
}

int unit_load(const char *root, const char *name, const char *skip,
	      struct unit_state *state, char *problem, size_t len)
{
	char real[PATH_MAX];
	int found = unit_find_file(root, name, state);

	if (found == 1)
		unit_say_not_found(root, name, problem, len);
	if (found < 0)
		snprintf(problem, len, "out of memory");
	if (found != 0)
		return found;
	if (unit_follow(root, state->path, real, sizeof(real)) ==
	    UNIT_FILE_MASKED) {
		snprintf(problem, len, "%s%s: the unit is masked", root,
			 state->path);
		return -1;
	}
	if (unit_apply_file(root, state, state->path, problem, len) != 0)
		return -1;
	if (unit_find_dropins(root, name, state) != 0) {
		snprintf(problem, len, "out of memory");
		return -1;
	}
	unit_drop_skipped(state, skip);
	for (size_t i = 0; i < state->dropin_count; i++)
		if (unit_apply_file(root, state, state->dropins[i], problem,
				    len) != 0)
			return -1;
	return 0;
}

void unit_free(struct unit_state *state)
{
	free(state->path);
	for (size_t i = 0; i < state->dropin_count; i++)
		free(state->dropins[i]);
	free(state->dropins);
	unit_list_clear(&state->exec_start);
	unit_list_clear(&state->user);
	unit_list_clear(&state->environment_file);
	unit_list_clear(&state->cpu_affinity);
	unit_list_clear(&state->allowed_cpus);
	memset(state, 0, sizeof(*state));
}
