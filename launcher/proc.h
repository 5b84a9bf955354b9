/*
 * What the kernel says of processes and threads, read from /proc: for
 * `status` and `audit`. Every reader takes a root directory ("" for the
 * machine's own /proc, else a tree a test built) and returns -1 with
 * errno ESRCH when the process or thread is gone (threads come and go
 * while they are read), EINVAL when a file is not what the kernel writes
 * (problem then says which file and what), or another errno from open.
 */
#ifndef KLIPPER_PIN_PROC_H
#define KLIPPER_PIN_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define PROC_PROBLEM_LEN 512

struct proc_thread {
	pid_t tid;
	/* comm, as the kernel has it: at most 15 bytes for a program's
	 * thread; Linux 6 writes a kernel worker's longer (up to 64:
	 * "kworker/1:2H-kblockd") */
	char name[65];
	char state;	 /* R, S, D, T, Z, I, ... */
	bool kernel;	 /* a kernel thread (PF_KTHREAD) */
	char cpus[1024]; /* Cpus_allowed_list */
	int last_cpu;	 /* the CPU it last ran on */
	int policy;	 /* SCHED_OTHER, ... */
	int priority;	 /* real-time priority, 0 for other/batch/idle */
	int nice;
	unsigned long long cpu_ns; /* user + system time */
	/* /proc/.../schedstat: absent on kernels without CONFIG_SCHEDSTATS
	 * ("0 0 0" where schedstats are compiled in but off) */
	bool has_schedstat;
	unsigned long long run_ns, wait_ns;
	unsigned long long voluntary, involuntary; /* context switches */
	bool has_migrations; /* se.nr_migrations in .../sched */
	unsigned long long migrations;
};

/* root + path, formatted; false when it does not fit. */
bool proc_path(char *out, size_t len, const char *root, const char *format, ...)
	__attribute__((format(printf, 4, 5)));

/* A whole small file, NUL-terminated; its length, or -1 with errno
 * (E2BIG when it does not fit). */
long proc_read_file(const char *path, char *buf, size_t len);

/* The thread tid of process pid. */
int proc_read_thread(const char *root, pid_t pid, pid_t tid,
		     struct proc_thread *thread, char *problem, size_t len);

/* The numbers of the directories in dir (processes in /proc, threads in
 * /proc/PID/task), ascending; *ids is malloc'd (free it). */
int proc_list_ids(const char *dir, pid_t **ids, size_t *count);

/* Processes whose command line (arguments joined by spaces) contains
 * text, but this one; ascending. */
int proc_find_by_command(const char *root, const char *text, pid_t **pids,
			 size_t *count);

/* A process's command line, arguments joined by spaces, cut to len. */
int proc_command_line(const char *root, pid_t pid, char *out, size_t len);

/* A unit's MainPID, as `systemctl show -p MainPID --value UNIT` says:
 * 0 (with problem said) when it has none, -1 when it cannot be asked. */
pid_t proc_unit_main_pid(const char *unit, char *problem, size_t len);

/* Policy as the config names it: other, batch, idle, fifo, rr, or "?". */
const char *proc_policy_name(int policy);

#endif
