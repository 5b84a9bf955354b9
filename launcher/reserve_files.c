/*
 * reserve's files under the root: checked before anything is written,
 * each written atomically (a temporary file in the same directory, then
 * rename), and recorded in the manifest with the directories made for
 * them, so that --undo removes exactly those.
 *
 * The manifest (RESERVE_MANIFEST) is marked as every file is, then holds
 * one line a record:
 *   dir PATH    a directory reserve made (removed by --undo, deepest
 *               first, when empty)
 *   file PATH   a file reserve wrote
 */
#include "reserve.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* What an apply found and will do, checked before it does any. */
struct files_work {
	const char *root;
	char make[RESERVE_MAX_DIRS][PATH_MAX]; /* directories to make */
	size_t make_count;
	bool change[RESERVE_MAX_FILES]; /* file missing or different */
	bool existed[RESERVE_MAX_FILES];
	char drop[RESERVE_MAX_FILES][PATH_MAX]; /* ours, no longer planned */
	size_t drop_count;
};

static void files_full(char *out, const char *root, const char *path)
{
	snprintf(out, PATH_MAX, "%s%s", root, path);
}

bool reserve_is_ours(const char *path)
{
	char line[sizeof(RESERVE_MARKER) + 1];
	FILE *in = fopen(path, "re");
	bool ours;

	if (!in)
		return false;
	ours = fgets(line, sizeof(line), in) &&
	       strncmp(line, RESERVE_MARKER "\n", sizeof(line)) == 0;
	fclose(in);
	return ours;
}

/* A path a manifest may name: absolute, no "..", no empty part. */
static bool files_plain_path(const char *path)
{
	return path[0] == '/' && !strstr(path, "/../") && !strstr(path, "//") &&
	       strcmp(path + strlen(path) - 3, "/..") != 0;
}

static int files_manifest_line(struct reserve_manifest *manifest, char *line)
{
	line[strcspn(line, "\n")] = '\0';
	if (line[0] == '#' || !line[0])
		return 0;
	if (strncmp(line, "dir ", 4) == 0 && files_plain_path(line + 4) &&
	    manifest->dir_count < RESERVE_MAX_DIRS) {
		snprintf(manifest->dirs[manifest->dir_count++], PATH_MAX,
			 "%.4000s", line + 4);
		return 0;
	}
	if (strncmp(line, "file ", 5) == 0 && files_plain_path(line + 5) &&
	    manifest->file_count < RESERVE_MAX_FILES) {
		snprintf(manifest->files[manifest->file_count++], PATH_MAX,
			 "%.4000s", line + 5);
		return 0;
	}
	return -1;
}

int reserve_manifest_read(const char *root, struct reserve_manifest *manifest,
			  char *problem, size_t len)
{
	char full[PATH_MAX], line[PATH_MAX + 16];
	FILE *in;
	int number = 0;

	memset(manifest, 0, sizeof(*manifest));
	files_full(full, root, RESERVE_MANIFEST);
	in = fopen(full, "re");
	if (!in && errno == ENOENT)
		return 0;
	if (!in || !reserve_is_ours(full)) {
		reserve_say(
			problem, len,
			in ? "%s is not klipper-pin's (its first line is not "
			     "the marker): move it away"
			   : "cannot read %s: %s",
			full, strerror(errno));
		if (in)
			fclose(in);
		return -1;
	}
	manifest->found = true;
	while (fgets(line, sizeof(line), in)) {
		number++;
		if (files_manifest_line(manifest, line) != 0) {
			reserve_say(problem, len,
				    "%s:%d: not a record of reserve", full,
				    number);
			fclose(in);
			return -1;
		}
	}
	fclose(in);
	return 0;
}

/* Is the file's content already text? */
static bool files_same(const char *full, const char *text)
{
	size_t length = strlen(text);
	char *have = malloc(length + 2);
	FILE *in = fopen(full, "re");
	bool same = false;

	if (have && in)
		same = fread(have, 1, length + 1, in) == length &&
		       memcmp(have, text, length) == 0;
	if (in)
		fclose(in);
	free(have);
	return same;
}

/* Adds to work the directories missing above path (inside the root),
 * shallowest first, after checking the deepest that exists is one we
 * can write in. */
static int files_dirs_for(struct files_work *work, const char *path,
			  char *problem, size_t len)
{
	char full[PATH_MAX];
	struct stat info;
	size_t root_length = strlen(work->root);

	files_full(full, work->root, path);
	for (char *slash = full + root_length + 1; (slash = strchr(slash, '/'));
	     slash++) {
		*slash = '\0';
		if (stat(full, &info) == 0) {
			if (!S_ISDIR(info.st_mode)) {
				reserve_say(problem, len,
					    "%s is in the way: not a directory",
					    full);
				return -1;
			}
		} else if (errno == ENOENT) {
			bool listed = false;

			for (size_t i = 0; i < work->make_count; i++)
				listed |= strcmp(work->make[i],
						 full + root_length) == 0;
			if (!listed && work->make_count == RESERVE_MAX_DIRS)
				return -1;
			if (!listed)
				snprintf(work->make[work->make_count++],
					 PATH_MAX, "%s", full + root_length);
		} else {
			reserve_say(problem, len, "cannot look at %s: %s", full,
				    strerror(errno));
			return -1;
		}
		*slash = '/';
	}
	return 0;
}

/* The deepest existing directory above path must be writable: checked
 * before anything is made, so that nothing is. */
static int files_writable_above(const char *root, const char *path,
				char *problem, size_t len)
{
	char full[PATH_MAX];
	struct stat info;
	char *slash;

	files_full(full, root, path);
	while ((slash = strrchr(full, '/')) && slash > full) {
		*slash = '\0';
		if (stat(full, &info) == 0)
			break;
	}
	if (access(full[0] ? full : "/", W_OK | X_OK) == 0)
		return 0;
	reserve_say(problem, len, "cannot write in %s: %s",
		    full[0] ? full : "/", strerror(errno));
	return -1;
}

/* A file at full that we may replace: absent, or ours. */
static int files_replaceable(const char *full, bool *existed, char *problem,
			     size_t len)
{
	struct stat info;

	*existed = lstat(full, &info) == 0;
	if (!*existed && (errno == ENOENT || errno == ENOTDIR))
		return 0;
	if (!*existed) {
		reserve_say(problem, len, "cannot look at %s: %s", full,
			    strerror(errno));
		return -1;
	}
	if (S_ISREG(info.st_mode) && reserve_is_ours(full))
		return 0;
	reserve_say(problem, len,
		    "%s is in the way: klipper-pin did not write it (no marker "
		    "on its first line); move it away, or merge it yourself",
		    full);
	return -1;
}

static bool files_planned(const struct reserve_plan *plan, const char *path)
{
	for (size_t i = 0; i < plan->count; i++)
		if (strcmp(plan->files[i].path, path) == 0)
			return true;
	return false;
}

/* Everything that could stop the apply, found before it starts. */
static int files_check(struct files_work *work, const struct reserve_plan *plan,
		       const struct reserve_manifest *old, char *problem,
		       size_t len)
{
	char full[PATH_MAX];
	bool existed;

	for (size_t i = 0; i < plan->count; i++) {
		const char *path = plan->files[i].path;

		files_full(full, work->root, path);
		if (files_replaceable(full, &work->existed[i], problem, len) ||
		    files_dirs_for(work, path, problem, len) ||
		    files_writable_above(work->root, path, problem, len))
			return -1;
		work->change[i] = !work->existed[i] ||
				  !files_same(full, plan->files[i].content);
	}
	for (size_t i = 0; i < old->file_count; i++) {
		files_full(full, work->root, old->files[i]);
		if (files_planned(plan, old->files[i]))
			continue;
		if (files_replaceable(full, &existed, problem, len) != 0)
			return -1;
		if (existed)
			snprintf(work->drop[work->drop_count++], PATH_MAX, "%s",
				 old->files[i]);
	}
	return files_dirs_for(work, RESERVE_MANIFEST, problem, len) ||
	       files_writable_above(work->root, RESERVE_MANIFEST, problem, len);
}

static int files_write_atomic(const char *full, const char *text)
{
	char temp[PATH_MAX];
	const char *slash = strrchr(full, '/');
	size_t length = strlen(text);
	int fd, saved;

	/* A name systemd skips: no ".conf" or unit suffix at its end. */
	snprintf(temp, sizeof(temp), "%.*s/.%s.XXXXXX", (int)(slash - full),
		 full, slash + 1);
	fd = mkostemp(temp, O_CLOEXEC);
	if (fd < 0)
		return -1;
	if (fchmod(fd, 0644) == 0 &&
	    write(fd, text, length) == (ssize_t)length && fsync(fd) == 0 &&
	    close(fd) == 0) {
		fd = -1;
		if (rename(temp, full) == 0)
			return 0;
	}
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlink(temp);
	errno = saved;
	return -1;
}

static int files_write_manifest(const char *root,
				const struct reserve_manifest *old,
				const struct files_work *work,
				const struct reserve_plan *plan)
{
	char text[RESERVE_TEXT * 4], full[PATH_MAX];
	size_t used = 0;

	used += (size_t)snprintf(
		text, sizeof(text),
		"%s\n# What reserve wrote under this root, for --undo: each "
		"directory it made\n# (\"dir\"), each file it wrote "
		"(\"file\").\n",
		RESERVE_MARKER);
	for (size_t i = 0; i < old->dir_count && used < sizeof(text); i++)
		used += (size_t)snprintf(text + used, sizeof(text) - used,
					 "dir %s\n", old->dirs[i]);
	for (size_t i = 0; i < work->make_count && used < sizeof(text); i++)
		used += (size_t)snprintf(text + used, sizeof(text) - used,
					 "dir %s\n", work->make[i]);
	for (size_t i = 0; i < plan->count && used < sizeof(text); i++)
		used += (size_t)snprintf(text + used, sizeof(text) - used,
					 "file %s\n", plan->files[i].path);
	files_full(full, root, RESERVE_MANIFEST);
	return used < sizeof(text) ? files_write_atomic(full, text) : -1;
}

/* Takes back what a failed apply did: the files it made, then its
 * directories, deepest first. Files of ours it replaced stay new. */
static void files_roll_back(const struct files_work *work,
			    const struct reserve_plan *plan, size_t written)
{
	char full[PATH_MAX];

	for (size_t i = 0; i < written; i++)
		if (work->change[i] && !work->existed[i]) {
			files_full(full, work->root, plan->files[i].path);
			unlink(full);
		}
	for (size_t i = work->make_count; i-- > 0;) {
		files_full(full, work->root, work->make[i]);
		rmdir(full);
	}
}

static int files_do(struct files_work *work, const struct reserve_plan *plan,
		    char *problem, size_t len)
{
	char full[PATH_MAX];
	size_t i = 0;

	for (size_t d = 0; d < work->make_count; d++) {
		files_full(full, work->root, work->make[d]);
		if (mkdir(full, 0755) != 0) {
			reserve_say(problem, len, "cannot make %s: %s", full,
				    strerror(errno));
			work->make_count = d; /* made so far */
			goto fail;
		}
	}
	for (; i < plan->count; i++) {
		files_full(full, work->root, plan->files[i].path);
		if (work->change[i] &&
		    files_write_atomic(full, plan->files[i].content) != 0) {
			reserve_say(problem, len, "cannot write %s: %s", full,
				    strerror(errno));
			goto fail;
		}
	}
	return 0;
fail:
	files_roll_back(work, plan, i);
	return -1;
}

static size_t files_changes(const struct files_work *work, size_t count)
{
	size_t changes = work->drop_count;

	for (size_t i = 0; i < count; i++)
		changes += work->change[i];
	return changes;
}

long reserve_apply(const char *root, const struct reserve_plan *plan,
		   char *problem, size_t len)
{
	static struct reserve_manifest old;
	static struct files_work work;
	char full[PATH_MAX];
	size_t changes;

	memset(&work, 0, sizeof(work));
	work.root = root;
	if (reserve_manifest_read(root, &old, problem, len) != 0 ||
	    files_check(&work, plan, &old, problem, len) != 0)
		return -1;
	changes = files_changes(&work, plan->count);
	if (changes && files_do(&work, plan, problem, len) != 0)
		return -1;
	if ((changes || !old.found) &&
	    files_write_manifest(root, &old, &work, plan) != 0) {
		reserve_say(problem, len, "cannot write the manifest %s%s: %s",
			    root, RESERVE_MANIFEST, strerror(errno));
		files_roll_back(&work, plan, plan->count);
		return -1;
	}
	for (size_t i = 0; i < plan->count; i++) {
		files_full(full, root, plan->files[i].path);
		printf("%s %s\n", work.change[i] ? "wrote" : "unchanged", full);
	}
	for (size_t i = 0; i < work.drop_count; i++) {
		files_full(full, root, work.drop[i]);
		if (unlink(full) == 0)
			printf("removed %s (no longer needed)\n", full);
	}
	return (long)changes;
}

/* Removes the directories reserve made, deepest first, when empty. */
static void files_remove_dirs(const char *root,
			      const struct reserve_manifest *manifest)
{
	char full[PATH_MAX];

	for (size_t i = manifest->dir_count; i-- > 0;) {
		files_full(full, root, manifest->dirs[i]);
		if (rmdir(full) == 0)
			printf("removed %s/\n", full);
		else if (errno != ENOENT)
			printf("kept %s/: %s (it holds files klipper-pin did "
			       "not write)\n",
			       full, strerror(errno));
	}
}

long reserve_undo(const char *root, char *problem, size_t len)
{
	static struct reserve_manifest manifest;
	char full[PATH_MAX];
	bool existed;
	long removed = 0;

	if (reserve_manifest_read(root, &manifest, problem, len) != 0)
		return -1;
	if (!manifest.found)
		return 0;
	for (size_t i = 0; i < manifest.file_count; i++) {
		files_full(full, root, manifest.files[i]);
		if (files_replaceable(full, &existed, problem, len) != 0)
			return -1;
	}
	for (size_t i = 0; i < manifest.file_count; i++) {
		files_full(full, root, manifest.files[i]);
		if (unlink(full) == 0) {
			printf("removed %s\n", full);
			removed++;
		} else if (errno != ENOENT) {
			reserve_say(problem, len, "cannot remove %s: %s", full,
				    strerror(errno));
			return -1;
		}
	}
	files_full(full, root, RESERVE_MANIFEST);
	if (unlink(full) != 0) {
		reserve_say(problem, len, "cannot remove %s: %s", full,
			    strerror(errno));
		return -1;
	}
	files_remove_dirs(root, &manifest);
	return removed;
}
