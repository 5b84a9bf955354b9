/*
 * /proc, read as the kernel writes it (proc(5)): a thread's stat, status,
 * schedstat and sched files; the processes and threads there are.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proc.h"

extern char **environ;

bool proc_path(char *out, size_t len, const char *root, const char *format, ...)
{
	va_list args;
	int used = snprintf(out, len, "%s", root), more = -1;

	va_start(args, format);
	if (used >= 0 && (size_t)used < len)
		/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized) */
		more = vsnprintf(out + used, len - (size_t)used, format, args);
	va_end(args);
	return more >= 0 && (size_t)more < len - (size_t)used;
}

long proc_read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t used = 0;

	buf[0] = '\0';
	if (fd < 0)
		return -1;
	for (;;) {
		ssize_t got = read(fd, buf + used, len - 1 - used);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			int saved = errno;

			close(fd);
			errno = saved;
			return -1;
		}
		if (got == 0)
			break;
		used += (size_t)got;
		if (used == len - 1) {
			close(fd);
			errno = E2BIG;
			return -1;
		}
	}
	close(fd);
	buf[used] = '\0';
	return (long)used;
}

/* A file of the thread's directory; a thread gone is ESRCH. */
static long proc_thread_file(const char *base, const char *name, char *buf,
			     size_t len, char *problem, size_t problem_len)
{
	char path[4096];
	long got;

	if (!proc_path(path, sizeof(path), "", "%s/%s", base, name)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	got = proc_read_file(path, buf, len);
	if (got < 0 && (errno == ENOENT || errno == ESRCH))
		errno = ESRCH;
	else if (got < 0)
		snprintf(problem, problem_len, "%s: %s", path, strerror(errno));
	return got;
}

/* A whole decimal number (a stat field), 0 when it is not one. */
static long long proc_number(const char *text)
{
	char *end;
	long long value = strtoll(text, &end, 10);

	return *end == '\0' ? value : 0;
}

static int proc_garbled(char *problem, size_t len, const char *base,
			const char *name, const char *expected)
{
	snprintf(problem, len, "%s/%s: not as the kernel writes it (%s)", base,
		 name, expected);
	errno = EINVAL;
	return -1;
}

/* stat: "tid (comm) state ppid ..." where comm may hold spaces and
 * parentheses: the fields start after the last ')'. */
static int proc_parse_stat(char *text, const char *base,
			   struct proc_thread *thread, char *problem,
			   size_t len)
{
	char *open = strchr(text, '(');
	char *close = strrchr(text, ')');
	char *fields[52];
	size_t count = 0;
	char *save = NULL;
	long clock_ticks = sysconf(_SC_CLK_TCK);

	if (!open || !close || close < open ||
	    close - open - 1 >= (long)sizeof(thread->name))
		return proc_garbled(problem, len, base, "stat",
				    "\"TID (NAME) STATE ...\"");
	memcpy(thread->name, open + 1, (size_t)(close - open - 1));
	thread->name[close - open - 1] = '\0';
	for (char *field = strtok_r(close + 1, " \n", &save);
	     field && count < 52; field = strtok_r(NULL, " \n", &save))
		fields[count++] = field;
	/* fields[0] is field 3 of proc(5): state; policy is field 41 */
	if (count < 39 || strlen(fields[0]) != 1)
		return proc_garbled(problem, len, base, "stat",
				    "at least 41 fields");
	char *end;
	unsigned long long utime = strtoull(fields[11], &end, 10);
	unsigned long long stime = strtoull(fields[12], &end, 10);
	unsigned long flags = strtoul(fields[6], &end, 10);

	thread->state = fields[0][0];
	thread->kernel = (flags & 0x00200000ul) != 0; /* PF_KTHREAD */
	thread->nice = (int)proc_number(fields[16]);
	thread->last_cpu = (int)proc_number(fields[36]);
	thread->priority = (int)proc_number(fields[37]);
	thread->policy = (int)proc_number(fields[38]);
	if (clock_ticks <= 0)
		clock_ticks = 100;
	thread->cpu_ns = (utime + stime) *
			 (1000000000ull / (unsigned long long)clock_ticks);
	return 0;
}

/* status: "Key:\tvalue" lines. */
static int proc_parse_status(char *text, const char *base,
			     struct proc_thread *thread, char *problem,
			     size_t len)
{
	bool have_cpus = false;
	char *save = NULL;

	for (char *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *value = strchr(line, ':');

		if (!value)
			continue;
		*value++ = '\0';
		value += strspn(value, " \t");
		if (strcmp(line, "Cpus_allowed_list") == 0) {
			snprintf(thread->cpus, sizeof(thread->cpus), "%s",
				 value);
			have_cpus = true;
		} else if (strcmp(line, "voluntary_ctxt_switches") == 0) {
			thread->voluntary = strtoull(value, NULL, 10);
		} else if (strcmp(line, "nonvoluntary_ctxt_switches") == 0) {
			thread->involuntary = strtoull(value, NULL, 10);
		}
	}
	if (!have_cpus)
		return proc_garbled(problem, len, base, "status",
				    "a Cpus_allowed_list line");
	return 0;
}

/* sched: "se.nr_migrations   :   12" among others. */
static void proc_parse_sched(const char *text, struct proc_thread *thread)
{
	const char *at = strstr(text, "\nse.nr_migrations");

	if (!at)
		return;
	at = strchr(at, ':');
	if (!at)
		return;
	thread->migrations = strtoull(at + 1, NULL, 10);
	thread->has_migrations = true;
}

/* schedstat: "run wait slices\n". */
static bool proc_three_numbers(const char *text, unsigned long long *a,
			       unsigned long long *b, unsigned long long *c)
{
	unsigned long long *values[] = { a, b, c };
	char *end;

	for (size_t i = 0; i < 3; i++) {
		while (*text == ' ')
			text++;
		if (*text < '0' || *text > '9')
			return false;
		*values[i] = strtoull(text, &end, 10);
		text = end;
	}
	return *text == '\n' || *text == '\0';
}

int proc_read_thread(const char *root, pid_t pid, pid_t tid,
		     struct proc_thread *thread, char *problem, size_t len)
{
	char base[4096], text[8192];
	unsigned long long run, wait, slices;

	memset(thread, 0, sizeof(*thread));
	thread->tid = tid;
	if (!proc_path(base, sizeof(base), root, "/proc/%d/task/%d", (int)pid,
		       (int)tid)) {
		errno = ENAMETOOLONG;
		snprintf(problem, len, "%s: path too long", root);
		return -1;
	}
	if (proc_thread_file(base, "stat", text, sizeof(text), problem, len) <
		    0 ||
	    proc_parse_stat(text, base, thread, problem, len) != 0)
		return -1;
	if (proc_thread_file(base, "status", text, sizeof(text), problem, len) <
		    0 ||
	    proc_parse_status(text, base, thread, problem, len) != 0)
		return -1;
	if (proc_thread_file(base, "schedstat", text, sizeof(text), problem,
			     len) >= 0) {
		if (!proc_three_numbers(text, &run, &wait, &slices))
			return proc_garbled(problem, len, base, "schedstat",
					    "three numbers");
		thread->has_schedstat = true;
		thread->run_ns = run;
		thread->wait_ns = wait;
	}
	text[0] = '\n';
	if (proc_thread_file(base, "sched", text + 1, sizeof(text) - 1, problem,
			     len) >= 0 ||
	    errno == E2BIG)
		proc_parse_sched(text, thread);
	return 0;
}

static int proc_compare_ids(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;

	return (x > y) - (x < y);
}

int proc_list_ids(const char *dir, pid_t **ids, size_t *count)
{
	DIR *listing = opendir(dir);
	struct dirent *entry;
	size_t used = 0, room = 64;
	pid_t *found;

	*ids = NULL;
	*count = 0;
	if (!listing)
		return -1;
	found = malloc(room * sizeof(*found));
	if (!found) {
		closedir(listing);
		return -1;
	}
	while ((entry = readdir(listing))) {
		char *end;
		long id = strtol(entry->d_name, &end, 10);

		if (*end || end == entry->d_name || id <= 0)
			continue;
		if (used == room) {
			pid_t *more = realloc(found, 2 * room * sizeof(*found));

			if (!more) {
				free(found);
				closedir(listing);
				errno = ENOMEM;
				return -1;
			}
			found = more;
			room *= 2;
		}
		found[used++] = (pid_t)id;
	}
	closedir(listing);
	qsort(found, used, sizeof(*found), proc_compare_ids);
	*ids = found;
	*count = used;
	return 0;
}

int proc_command_line(const char *root, pid_t pid, char *out, size_t len)
{
	char path[4096];
	long got;

	if (!proc_path(path, sizeof(path), root, "/proc/%d/cmdline",
		       (int)pid)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memset(out, 0, len); /* a longer one is cut: all of it is read */
	got = proc_read_file(path, out, len);
	if (got < 0 && errno == E2BIG) {
		got = (long)len - 1;
		out[got] = '\0';
	}
	if (got < 0)
		return -1;
	for (long i = 0; i < got; i++)
		if (out[i] == '\0')
			out[i] = ' ';
	while (got > 0 && out[got - 1] == ' ')
		out[--got] = '\0';
	return 0;
}

int proc_find_by_command(const char *root, const char *text, pid_t **pids,
			 size_t *count)
{
	char dir[4096], command[8192];
	pid_t *all;
	size_t total, kept = 0;

	if (!proc_path(dir, sizeof(dir), root, "/proc") ||
	    proc_list_ids(dir, &all, &total) != 0)
		return -1;
	for (size_t i = 0; i < total; i++)
		if (all[i] != getpid() &&
		    proc_command_line(root, all[i], command, sizeof(command)) ==
			    0 &&
		    strstr(command, text))
			all[kept++] = all[i];
	*pids = all;
	*count = kept;
	return 0;
}

pid_t proc_unit_main_pid(const char *unit, char *problem, size_t len)
{
	char *argv[] = { "systemctl", "show", "-p",	    "MainPID",
			 "--value",   "--",   (char *)unit, NULL };
	posix_spawn_file_actions_t actions;
	int out[2], status = 0;
	char text[64];
	size_t used = 0;
	pid_t child;

	if (pipe2(out, O_CLOEXEC) != 0) {
		snprintf(problem, len, "pipe: %s", strerror(errno));
		return -1;
	}
	posix_spawn_file_actions_init(&actions);
	posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
	int failed = posix_spawnp(&child, "systemctl", &actions, NULL, argv,
				  environ);
	posix_spawn_file_actions_destroy(&actions);
	close(out[1]);
	if (failed) {
		close(out[0]);
		snprintf(problem, len, "cannot run systemctl: %s",
			 strerror(failed));
		return -1;
	}
	for (;;) {
		ssize_t got =
			read(out[0], text + used, sizeof(text) - 1 - used);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0 || (used += (size_t)got) == sizeof(text) - 1)
			break;
	}
	close(out[0]);
	text[used] = '\0';
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	char *end;
	long pid = strtol(text, &end, 10);

	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || end == text ||
	    (*end && *end != '\n') || pid < 0) {
		snprintf(problem, len,
			 "systemctl show -p MainPID --value %s: failed "
			 "(is systemd running, and the unit known?)",
			 unit);
		return -1;
	}
	if (pid == 0)
		snprintf(problem, len,
			 "unit %s has no main process (MainPID=0): is it "
			 "running?",
			 unit);
	return (pid_t)pid;
}

const char *proc_policy_name(int policy)
{
	switch (policy) {
	case SCHED_OTHER:
		return "other";
	case SCHED_FIFO:
		return "fifo";
	case SCHED_RR:
		return "rr";
	case SCHED_BATCH:
		return "batch";
	case SCHED_IDLE:
		return "idle";
	default:
		return "?";
	}
}
