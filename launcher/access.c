/*
 * Access checks, as a user: in a forked child that takes the user's ids
 * when that is someone else, reporting back through a pipe one line per
 * finding ("E text" or "W text").
 */
#include "access.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

struct access_sink {
	access_report report;
	void *context;
	int fd; /* the pipe to the parent, or -1: report directly */
	const char *who;
	int errors;
};

static void access_say(struct access_sink *sink, bool error, const char *format,
		       ...) __attribute__((format(printf, 3, 4)));

static void access_say(struct access_sink *sink, bool error, const char *format,
		       ...)
{
	char text[1400];
	va_list args;

	va_start(args, format);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized) */
	vsnprintf(text + 2, sizeof(text) - 3, format, args);
	va_end(args);
	sink->errors += error;
	if (sink->fd < 0) {
		sink->report(sink->context, error, text + 2);
		return;
	}
	text[0] = error ? 'E' : 'W';
	text[1] = ' ';
	size_t length = strlen(text);

	text[length] = '\n';
	(void)!write(sink->fd, text, length + 1);
}

static void access_config(struct access_sink *sink, const char *config)
{
	struct stat info;
	int fd;

	if (!config[0])
		return;
	if (stat(config, &info) == 0 && S_ISDIR(info.st_mode)) {
		access_say(sink, true, "the config %s is a directory", config);
		return;
	}
	fd = open(config, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		access_say(sink, true, "%s cannot read the config %s: %s",
			   sink->who, config, strerror(errno));
		return;
	}
	close(fd);
}

static void access_log_file(struct access_sink *sink, const char *path)
{
	char dir[PATH_MAX];
	struct stat info;
	char *slash;
	int fd;

	if (lstat(path, &info) == 0) {
		if (S_ISLNK(info.st_mode)) {
			access_say(sink, true,
				   "the log %s is a symbolic link: "
				   "symbolic links are refused (the log is "
				   "opened with O_NOFOLLOW); name the file "
				   "itself",
				   path);
			return;
		}
		if (!S_ISREG(info.st_mode) && !S_ISCHR(info.st_mode)) {
			access_say(sink, true,
				   "the log %s is a %s: expected a regular "
				   "file (to log to a pipe, use 'log: "
				   "stderr' and redirect it)",
				   path,
				   S_ISFIFO(info.st_mode)   ? "FIFO"
				   : S_ISSOCK(info.st_mode) ? "socket"
				   : S_ISDIR(info.st_mode)  ? "directory"
							    : "special file");
			return;
		}
		fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW |
					O_NOCTTY | O_NONBLOCK);
		if (fd < 0)
			access_say(sink, true, "%s cannot write the log %s: %s",
				   sink->who, path, strerror(errno));
		else
			close(fd);
		return;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	if (stat(dir, &info) != 0) {
		access_say(sink, true,
			   "the log %s cannot be made: its directory %s: %s",
			   path, dir, strerror(errno));
	} else if (!S_ISDIR(info.st_mode)) {
		access_say(sink, true,
			   "the log %s cannot be made: %s is not a directory",
			   path, dir);
	} else if (access(dir, W_OK | X_OK) != 0) {
		access_say(sink, true,
			   "%s cannot make the log %s: the directory %s is "
			   "not writable",
			   sink->who, path, dir);
	}
}

static void access_syslog(struct access_sink *sink)
{
	struct sockaddr_un address = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	memcpy(address.sun_path, "/dev/log", sizeof("/dev/log"));
	if (fd < 0 ||
	    connect(fd, (struct sockaddr *)&address, sizeof(address)) != 0)
		access_say(sink, false,
			   "log: syslog, but nothing listens on /dev/log "
			   "(%s): placement lines would be lost",
			   strerror(errno));
	if (fd >= 0)
		close(fd);
}

static void access_all(struct access_sink *sink, const char *config,
		       const struct plan *plan)
{
	access_config(sink, config);
	if (plan && plan->log == PLAN_LOG_FILE)
		access_log_file(sink, plan->log_path);
	if (plan && plan->log == PLAN_LOG_SYSLOG)
		access_syslog(sink);
}

/* Runs the checks as pw in a child; relays what it found. */
static int access_as(const struct passwd *pw, const char *config,
		     const struct plan *plan, struct access_sink *sink)
{
	int channel[2], status;
	pid_t child;
	FILE *lines;
	char line[1500];

	if (pipe2(channel, O_CLOEXEC) != 0)
		return -1;
	child = fork();
	if (child < 0) {
		close(channel[0]);
		close(channel[1]);
		return -1;
	}
	if (child == 0) {
		close(channel[0]);
		sink->fd = channel[1];
		if (initgroups(pw->pw_name, pw->pw_gid) != 0 ||
		    setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
			access_say(sink, true, "cannot become %s: %s",
				   pw->pw_name, strerror(errno));
			_exit(1);
		}
		access_all(sink, config, plan);
		_exit(0);
	}
	close(channel[1]);
	lines = fdopen(channel[0], "r");
	while (lines && fgets(line, sizeof(line), lines)) {
		bool error = line[0] == 'E';

		line[strcspn(line, "\n")] = '\0';
		sink->errors += error;
		sink->report(sink->context, error, line + 2);
	}
	if (lines)
		fclose(lines);
	else
		close(channel[0]);
	waitpid(child, &status, 0);
	return 0;
}

int access_check(const char *user, const char *config, const struct plan *plan,
		 access_report report, void *context)
{
	struct access_sink sink = { report, context, -1, "klipper-pin", 0 };
	char who[300];
	struct passwd *pw = NULL;
	char *end;

	if (!user) {
		access_all(&sink, config, plan);
		return sink.errors;
	}
	errno = 0;
	pw = getpwnam(user);
	if (!pw) {
		unsigned long uid = strtoul(user, &end, 10);

		if (*user && !*end)
			pw = getpwuid((uid_t)uid);
	}
	if (!pw) {
		snprintf(who, sizeof(who), "no user '%s' on this machine",
			 user);
		report(context, true, who);
		return -1;
	}
	snprintf(who, sizeof(who), "user %s", pw->pw_name);
	sink.who = who;
	if (pw->pw_uid == geteuid()) {
		access_all(&sink, config, plan);
		return sink.errors;
	}
	if (geteuid() != 0) {
		snprintf(who, sizeof(who),
			 "checking as user %s needs root (sudo klipper-pin "
			 "check --user %s), or run the check as %s",
			 pw->pw_name, user, pw->pw_name);
		report(context, true, who);
		return -1;
	}
	if (access_as(pw, config, plan, &sink) != 0) {
		report(context, true, "cannot start the check as that user");
		return -1;
	}
	return sink.errors;
}
