/*
 * The drop-in `klipper-pin systemd install` writes: its text, and the
 * file itself, written and removed so that nothing else is touched.
 */
#include "systemd_dropin.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The line remove looks for to know the directory is install's. */
#define DROPIN_MADE_DIR                                                        \
	"# klipper-pin created this directory: `klipper-pin systemd "          \
	"remove` removes it once empty."

#define DROPIN_TEXT_MAX 65536

static void dropin_limits(FILE *out, const struct dropin_content *content)
{
	if (content->rtprio > 0)
		fprintf(out,
			"# The config asks for real-time priority %d (fifo or "
			"rr): let klippy's\n# user set it without being "
			"root.\nLimitRTPRIO=%d\n",
			content->rtprio, content->rtprio);
	if (content->nice < 0)
		fprintf(out,
			"# The config asks for nice %d: let klippy's user set "
			"it (\"-N\" is a\n# nice value, as systemd.exec(5) "
			"reads it).\nLimitNICE=%d\n",
			content->nice, content->nice);
}

char *dropin_text(const struct dropin_content *content)
{
	char *text = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&text, &size);

	if (!out)
		return NULL;
	fprintf(out, "%s\n", DROPIN_MARKER);
	if (content->created_dir)
		fprintf(out, "%s\n", DROPIN_MADE_DIR);
	fprintf(out,
		"#\n# Runs the ExecStart= of %s:%d\n"
		"# under klipper-pin, which places klippy's threads on CPUs "
		"as\n# %s says.\n"
		"# With --on-error run, a mistake in that file never keeps "
		"klippy from\n# starting: it starts unplaced, and the journal "
		"says why.\n",
		content->wrapped_file, content->wrapped_line, content->config);
	fputs("\n[Service]\n", out);
	if (content->exec_start_pre)
		fprintf(out,
			"# Rebuilds klipper-pin after an update; the leading "
			"'-': a failure never\n# keeps klippy from "
			"starting.\nExecStartPre=%s\n",
			content->exec_start_pre);
	fprintf(out,
		"# An empty ExecStart= clears the one before: one command "
		"runs.\nExecStart=\nExecStart=%s\n",
		content->exec_start);
	dropin_limits(out, content);
	if (fclose(out) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

bool dropin_is_ours(const char *text)
{
	size_t length = strlen(DROPIN_MARKER);

	return strncmp(text, DROPIN_MARKER, length) == 0 &&
	       (text[length] == '\n' || text[length] == '\0');
}

bool dropin_made_dir(const char *text)
{
	for (const char *line = text; line && *line == '#';
	     line = strchr(line, '\n'), line = line ? line + 1 : NULL)
		if (strncmp(line, DROPIN_MADE_DIR, strlen(DROPIN_MADE_DIR)) ==
		    0)
			return true;
	return false;
}

int dropin_read(const char *path, char **text)
{
	FILE *file = fopen(path, "re");
	size_t got;

	*text = NULL;
	if (!file)
		return errno == ENOENT || errno == ENOTDIR ? 1 : -1;
	*text = malloc(DROPIN_TEXT_MAX + 1);
	got = *text ? fread(*text, 1, DROPIN_TEXT_MAX, file) : 0;
	if (!*text || ferror(file)) {
		fclose(file);
		free(*text);
		*text = NULL;
		errno = EIO;
		return -1;
	}
	(*text)[got] = '\0';
	fclose(file);
	return 0;
}

static int dropin_write_fd(int fd, const char *text)
{
	size_t length = strlen(text), done = 0;

	while (done < length) {
		ssize_t wrote = write(fd, text + done, length - done);

		if (wrote < 0 && errno == EINTR)
			continue;
		if (wrote < 0)
			return -1;
		done += (size_t)wrote;
	}
	return fchmod(fd, 0644) == 0 && fsync(fd) == 0 ? 0 : -1;
}

/* The rename reaches the disk only once the directory is synced. */
static void dropin_sync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

int dropin_write(const char *dir, bool make_dir, const char *text,
		 char *problem, size_t len)
{
	char temporary[PATH_MAX], path[PATH_MAX];
	int fd, failed;

	snprintf(path, sizeof(path), "%s/%s", dir, DROPIN_NAME);
	/* Not ending in .conf: systemd never reads it half written. */
	snprintf(temporary, sizeof(temporary), "%s/.%s.XXXXXX", dir,
		 DROPIN_NAME);
	if (make_dir && mkdir(dir, 0755) != 0) {
		snprintf(problem, len, "cannot make %s: %s", dir,
			 strerror(errno));
		return -1;
	}
	fd = mkstemp(temporary);
	failed = fd < 0 || dropin_write_fd(fd, text) != 0;
	if (fd >= 0 && close(fd) != 0)
		failed = 1;
	if (!failed && rename(temporary, path) != 0)
		failed = 1;
	if (failed) {
		snprintf(problem, len, "cannot write %s: %s", path,
			 strerror(errno));
		if (fd >= 0)
			unlink(temporary);
		if (make_dir)
			rmdir(dir);
		return -1;
	}
	dropin_sync_dir(dir);
	return 0;
}

int dropin_remove(const char *dir, bool remove_dir, char *problem, size_t len)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, DROPIN_NAME);
	if (unlink(path) != 0) {
		snprintf(problem, len, "cannot remove %s: %s", path,
			 strerror(errno));
		return -1;
	}
	/* ENOTEMPTY: someone else's drop-ins live there now; keep it. */
	if (remove_dir && rmdir(dir) != 0 && errno != ENOTEMPTY &&
	    errno != EEXIST) {
		snprintf(problem, len, "removed %s, but cannot remove %s: %s",
			 path, dir, strerror(errno));
		return -1;
	}
	if (access(dir, F_OK) == 0) {
		dropin_sync_dir(dir);
	} else {
		char parent[PATH_MAX];

		snprintf(parent, sizeof(parent), "%s", dir);
		*strrchr(parent, '/') = '\0';
		dropin_sync_dir(parent[0] ? parent : "/");
	}
	return 0;
}
