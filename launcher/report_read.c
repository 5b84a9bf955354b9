/*
 * klipper-pin report: reading a log, a plain file or a .gz through
 * `gzip -dc` run as a child (the runtime dependencies stay libc and
 * libinih), line by line, with a last line cut short set apart.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "report.h"

extern char **environ;

static bool report_gzipped(const char *path)
{
	size_t length = strlen(path);

	return length > 3 && strcmp(path + length - 3, ".gz") == 0;
}

static int report_spawn_gzip(struct report_input *input, char *problem,
			     size_t size)
{
	int pipes[2], error;
	posix_spawn_file_actions_t actions;
	char *argv[] = { "gzip", "-dc", "--", (char *)input->path, NULL };

	if (pipe2(pipes, O_CLOEXEC) != 0) {
		snprintf(problem, size, "pipe: %s", strerror(errno));
		return -1;
	}
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_adddup2(&actions, pipes[1], STDOUT_FILENO);
	/* gzip's own message would name the file again: its status says it. */
	posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null",
					 O_WRONLY, 0);
	error = posix_spawnp(&input->child, "gzip", &actions, NULL, argv,
			     environ);
	posix_spawn_file_actions_destroy(&actions);
	close(pipes[1]);
	if (error) {
		close(pipes[0]);
		input->child = 0;
		if (error == ENOENT)
			snprintf(problem, size,
				 "cannot read a .gz: gzip not found in PATH "
				 "(install gzip, or gunzip the file)");
		else
			snprintf(problem, size, "cannot run gzip: %s",
				 strerror(error));
		return -1;
	}
	input->file = fdopen(pipes[0], "r");
	if (!input->file) {
		snprintf(problem, size, "fdopen: %s", strerror(errno));
		close(pipes[0]);
		kill(input->child, SIGTERM);
		waitpid(input->child, NULL, 0);
		input->child = 0;
		return -1;
	}
	return 0;
}

int report_open(struct report_input *input, const char *path, char *problem,
		size_t size)
{
	struct stat st;

	memset(input, 0, sizeof(*input));
	input->path = path;
	/* Open first, so that a missing file is named as such, gz or not. */
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(problem, size, "%s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		snprintf(problem, size, "is a directory");
		return -1;
	}
	if (report_gzipped(path)) {
		close(fd);
		return report_spawn_gzip(input, problem, size);
	}
	input->file = fdopen(fd, "r");
	if (!input->file) {
		snprintf(problem, size, "%s", strerror(errno));
		close(fd);
		return -1;
	}
	return 0;
}

const char *report_next(struct report_input *input, char *problem, size_t size)
{
	ssize_t length;

	errno = 0;
	length = getline(&input->line, &input->size, input->file);
	if (length < 0) {
		if (ferror(input->file))
			snprintf(problem, size, "read: %s", strerror(errno));
		return NULL;
	}
	if (input->line[length - 1] != '\n') {
		input->cut = true;
		return NULL;
	}
	input->line[--length] = '\0';
	if (length > 0 && input->line[length - 1] == '\r')
		input->line[--length] = '\0';
	return input->line;
}

int report_close(struct report_input *input, char *problem, size_t size)
{
	int status, result = 0;

	if (input->file)
		fclose(input->file);
	input->file = NULL;
	free(input->line);
	input->line = NULL;
	if (input->child > 0) {
		while (waitpid(input->child, &status, 0) < 0 && errno == EINTR)
			;
		input->child = 0;
		/* 127: the child could not exec gzip (where posix_spawnp
		 * cannot tell its caller, as under qemu-user). gzip -d: 1
		 * an error (not gzip, corrupt, cut), 2 a warning. */
		if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
			snprintf(problem, size,
				 "cannot read a .gz: gzip not found in PATH "
				 "(install gzip, or gunzip the file)");
			result = -1;
		} else if (!WIFEXITED(status) || WEXITSTATUS(status) == 1) {
			snprintf(problem, size,
				 "not a valid gzip file (corrupt or cut "
				 "short): gzip -dc failed");
			result = -1;
		}
	}
	return result;
}
