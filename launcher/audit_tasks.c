/*
 * Every process and thread, read twice an interval apart, so that audit
 * can say who may run on the reserved CPUs and who did run, how much.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit.h"

/* The thread's CPU time to the nanosecond where schedstat has it (its
 * "0 0 0" means off), else to the clock tick from stat. */
static unsigned long long audit_thread_ns(const struct proc_thread *thread)
{
	return thread->has_schedstat && thread->run_ns ? thread->run_ns
						       : thread->cpu_ns;
}

/* Reads one thread; a thread gone is skipped quietly, one whose files
 * are not the kernel's is a problem. Returns 1 read, 0 skipped. */
static int audit_read_one(const char *root, pid_t pid, pid_t tid,
			  struct proc_thread *thread,
			  struct audit_problems *problems)
{
	char problem[PROC_PROBLEM_LEN] = "";

	if (proc_read_thread(root, pid, tid, thread, problem,
			     sizeof(problem)) == 0)
		return 1;
	int error = errno;

	if (error == ESRCH)
		return 0;
	audit_problem(problems, "%s", problem[0] ? problem : strerror(error));
	return -1;
}

/* The thread ids of a process; none when it is gone. */
static int audit_threads_of(const char *root, pid_t pid, pid_t **tids,
			    size_t *count)
{
	char dir[4096];

	if (!proc_path(dir, sizeof(dir), root, "/proc/%d/task", (int)pid))
		return -1;
	if (proc_list_ids(dir, tids, count) != 0) {
		*tids = NULL;
		*count = 0;
	}
	return 0;
}

static int audit_processes(const char *root, pid_t **pids, size_t *count,
			   struct audit_problems *problems)
{
	char dir[4096];

	if (!proc_path(dir, sizeof(dir), root, "/proc") ||
	    proc_list_ids(dir, pids, count) != 0) {
		audit_problem(problems, "cannot list %s/proc: %s", root,
			      strerror(errno));
		return -1;
	}
	return 0;
}

static int audit_sample_add(struct audit_sample *sample, size_t *room,
			    pid_t pid, pid_t tid, unsigned long long ns)
{
	if (sample->count == *room) {
		size_t more = *room ? 2 * *room : 256;
		void *grown = realloc(sample->entries,
				      more * sizeof(*sample->entries));

		if (!grown)
			return -1;
		sample->entries = grown;
		*room = more;
	}
	sample->entries[sample->count++] =
		(struct audit_sample_entry){ pid, tid, ns };
	return 0;
}

int audit_sample_take(const char *root, struct audit_sample *sample,
		      struct audit_problems *problems)
{
	struct audit_problems ignored = { .quiet = true };
	struct proc_thread thread;
	pid_t *pids, *tids;
	size_t count, tid_count, room = 0;

	memset(sample, 0, sizeof(*sample));
	if (audit_processes(root, &pids, &count, problems) != 0)
		return -1;
	for (size_t i = 0; i < count; i++) {
		if (audit_threads_of(root, pids[i], &tids, &tid_count) != 0)
			continue;
		/* The second reading says what is garbled, once. */
		for (size_t j = 0; j < tid_count; j++)
			if (audit_read_one(root, pids[i], tids[j], &thread,
					   &ignored) == 1 &&
			    audit_sample_add(sample, &room, pids[i], tids[j],
					     audit_thread_ns(&thread)) != 0)
				break;
		free(tids);
	}
	free(pids);
	return 0;
}

void audit_sample_free(struct audit_sample *sample)
{
	free(sample->entries);
	sample->entries = NULL;
	sample->count = 0;
}

/* The first reading of a thread: entries are in (pid, tid) order. */
static const struct audit_sample_entry *
audit_sample_find(const struct audit_sample *sample, pid_t pid, pid_t tid)
{
	size_t low = 0, high = sample->count;

	while (low < high) {
		size_t middle = low + (high - low) / 2;
		const struct audit_sample_entry *entry =
			&sample->entries[middle];

		if (entry->pid == pid && entry->tid == tid)
			return entry;
		if (entry->pid < pid || (entry->pid == pid && entry->tid < tid))
			low = middle + 1;
		else
			high = middle;
	}
	return NULL;
}

/* The unit in a cgroup path: "/system.slice/klipper.service" gives
 * "klipper.service"; a path with none gives itself. */
static void audit_unit_in_path(const char *path, char *unit, size_t len)
{
	const char *best = NULL;
	size_t best_len = 0;

	for (const char *p = path; *p;) {
		size_t part;

		p += strspn(p, "/");
		part = strcspn(p, "/");
		if ((part > 8 && strncmp(p + part - 8, ".service", 8) == 0) ||
		    (part > 6 && strncmp(p + part - 6, ".scope", 6) == 0)) {
			best = p;
			best_len = part;
		}
		p += part;
	}
	if (best)
		snprintf(unit, len, "%.*s", (int)best_len, best);
	else
		snprintf(unit, len, "%s", path);
}

void audit_unit_of(const char *root, pid_t pid, char *unit, size_t len)
{
	char path[4096], text[8192], fallback[4096] = "";
	char *save = NULL;

	unit[0] = '\0';
	if (!proc_path(path, sizeof(path), root, "/proc/%d/cgroup", (int)pid) ||
	    proc_read_file(path, text, sizeof(text)) < 0)
		return;
	/* "0::PATH" is cgroup v2's, "N:name=systemd:PATH" systemd's own
	 * hierarchy under v1: the first that names a unit wins. */
	for (char *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		char *controllers = strchr(line, ':');
		char *cgroup =
			controllers ? strchr(controllers + 1, ':') : NULL;

		if (!cgroup)
			continue;
		*cgroup++ = '\0';
		if (strcmp(controllers + 1, "") != 0 &&
		    strcmp(controllers + 1, "name=systemd") != 0)
			continue;
		audit_unit_in_path(cgroup, unit, len);
		if (strcmp(unit, cgroup) != 0)
			return;
		if (!fallback[0] || strlen(cgroup) > strlen(fallback))
			snprintf(fallback, sizeof(fallback), "%s", cgroup);
	}
	snprintf(unit, len, "%s", fallback);
}

static int audit_tasks_add(struct audit_tasks *tasks, size_t *room,
			   const struct audit_task *task)
{
	if (tasks->count == *room) {
		size_t more = *room ? 2 * *room : 256;
		void *grown = realloc(tasks->task, more * sizeof(*tasks->task));

		if (!grown)
			return -1;
		tasks->task = grown;
		*room = more;
	}
	tasks->task[tasks->count++] = *task;
	return 0;
}

/* The threads of one process, with the process's name and unit. */
static int audit_read_process(const char *root, pid_t pid,
			      const struct audit_sample *first,
			      struct audit_tasks *tasks, size_t *room,
			      struct audit_problems *problems)
{
	struct audit_task task = { .pid = pid };
	pid_t *tids;
	size_t count, start = tasks->count;
	int failed = 0;

	if (audit_threads_of(root, pid, &tids, &count) != 0)
		return 0;
	audit_unit_of(root, pid, task.unit, sizeof(task.unit));
	for (size_t i = 0; i < count && !failed; i++) {
		int got = audit_read_one(root, pid, tids[i], &task.thread,
					 problems);
		const struct audit_sample_entry *before;
		unsigned long long now;

		if (got < 0)
			tasks->unreadable++;
		if (got != 1)
			continue;
		now = audit_thread_ns(&task.thread);
		before = audit_sample_find(first, pid, tids[i]);
		/* A thread born in the interval ran all its time in it. */
		task.ran_ns = !before		 ? now
			      : now > before->ns ? now - before->ns
						 : 0;
		failed = audit_tasks_add(tasks, room, &task);
	}
	free(tids);
	/* The process's name is its main thread's, else its first's. */
	char name[16] = "";

	for (size_t i = start; i < tasks->count; i++)
		if (tasks->task[i].thread.tid == pid || !name[0])
			memcpy(name, tasks->task[i].thread.name, sizeof(name));
	for (size_t i = start; i < tasks->count; i++)
		memcpy(tasks->task[i].process, name, sizeof(name));
	return failed;
}

int audit_tasks_read(const char *root, const struct audit_sample *first,
		     struct audit_tasks *tasks, struct audit_problems *problems)
{
	pid_t *pids;
	size_t count, room = 0;
	int failed = 0;

	memset(tasks, 0, sizeof(*tasks));
	if (audit_processes(root, &pids, &count, problems) != 0)
		return -1;
	/* audit itself is no work on the CPUs it audits. */
	for (size_t i = 0; i < count && !failed; i++)
		failed = (root[0] || pids[i] != getpid()) &&
			 audit_read_process(root, pids[i], first, tasks, &room,
					    problems);
	free(pids);
	if (failed)
		audit_problem(problems, "out of memory reading %s/proc", root);
	return failed ? -1 : 0;
}

int audit_process_read(const char *root, pid_t pid,
		       const struct audit_sample *first,
		       struct audit_tasks *tasks,
		       struct audit_problems *problems)
{
	size_t room = 0;

	memset(tasks, 0, sizeof(*tasks));
	return audit_read_process(root, pid, first, tasks, &room, problems);
}

void audit_tasks_classify(struct audit_tasks *tasks, pid_t pid,
			  const cpu_set_t *reserved)
{
	cpu_set_t *allowed = audit_set_new();

	if (!allowed)
		return;
	for (size_t i = 0; i < tasks->count; i++) {
		struct audit_task *task = &tasks->task[i];

		/* A list we cannot read may hold anything: count it there. */
		bool read = audit_set_parse(task->thread.cpus, allowed);

		/* A zombie runs nowhere again. */
		bool gone =
			task->thread.state == 'Z' || task->thread.state == 'X';

		task->audited = pid > 0 && task->pid == pid;
		task->there =
			!gone && (!read || audit_set_meets(allowed, reserved));
		task->only_there = read && audit_set_count(allowed) &&
				   audit_set_within(allowed, reserved);
		task->per_cpu = read && task->thread.kernel &&
				audit_set_count(allowed) == 1;
	}
	free(allowed);
}

void audit_tasks_free(struct audit_tasks *tasks)
{
	free(tasks->task);
	memset(tasks, 0, sizeof(*tasks));
}
