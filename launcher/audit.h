/*
 * klipper-pin audit: what else may run on the CPUs a process is placed
 * on. audit.c reads the command line and decides; audit_tasks.c reads
 * every process and thread twice, an interval apart; audit_system.c reads
 * what the kernel, systemd and irqbalance are told about those CPUs;
 * audit_advice.c turns it into lines to write; audit_print.c prints it as
 * text or JSON. Every reader takes a root directory ("" for the machine's
 * own, else a tree a test built).
 */
#ifndef KLIPPER_PIN_AUDIT_H
#define KLIPPER_PIN_AUDIT_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "cpulist.h"
#include "proc.h"

#define AUDIT_TEXT_LEN 256
#define AUDIT_MAX_PROBLEMS 32

/* What could not be read, said once on stderr and kept for --json. */
struct audit_problems {
	char text[AUDIT_MAX_PROBLEMS][PROC_PROBLEM_LEN];
	size_t count; /* all of them, also those not kept */
	bool quiet;   /* kept, not printed (tests of the readers) */
};

void audit_problem(struct audit_problems *problems, const char *format, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- CPU sets, of CPULIST_SETSIZE bytes ---------------------------- */

cpu_set_t *audit_set_new(void); /* zeroed; NULL when out of memory */

/* A list as the kernel writes one ("0-3,5", "" for none, spaces and a
 * newline around it allowed) into set (cleared first): false, with set
 * empty, when it is not one (relative names are not the kernel's). */
bool audit_set_parse(const char *text, cpu_set_t *set);

/* A hex mask as smp_affinity and IRQBALANCE_BANNED_CPUS write it
 * ("f", "ff,ffffffff", "0x3"); false when it is not one. */
bool audit_set_parse_mask(const char *text, cpu_set_t *set);

bool audit_set_meets(const cpu_set_t *a, const cpu_set_t *b);
bool audit_set_within(const cpu_set_t *a, const cpu_set_t *b);
size_t audit_set_count(const cpu_set_t *set);

/* set as taskset writes it, in a static buffer of its own per call
 * slot (0-3): for messages that show a few sets at once. */
const char *audit_set_text(const cpu_set_t *set, int slot);

/* ---- processes and threads ---------------------------------------- */

struct audit_task {
	struct proc_thread thread;
	pid_t pid;
	char process[16];	   /* the process's comm */
	char unit[128];		   /* systemd unit, else the cgroup path */
	unsigned long long ran_ns; /* CPU time in the interval */
	bool there;		   /* allowed on a reserved CPU */
	bool only_there;	   /* allowed on reserved CPUs alone */
	bool per_cpu;		   /* a kernel thread bound to one CPU */
	bool audited;		   /* a thread of the audited process */
};

struct audit_sample {
	struct audit_sample_entry {
		pid_t pid, tid;
		unsigned long long ns;
	} * entries;
	size_t count;
};

struct audit_tasks {
	struct audit_task *task;
	size_t count;
	size_t unreadable; /* threads whose files are not the kernel's */
};

/* The CPU time of every thread now. Returns 0, or -1 when the process
 * list itself cannot be read (problem said). */
int audit_sample_take(const char *root, struct audit_sample *sample,
		      struct audit_problems *problems);
void audit_sample_free(struct audit_sample *sample);

/* Every thread now, with its CPU time since first. Returns 0 or -1. */
int audit_tasks_read(const char *root, const struct audit_sample *first,
		     struct audit_tasks *tasks,
		     struct audit_problems *problems);

/* The threads of one process alone, likewise. */
int audit_process_read(const char *root, pid_t pid,
		       const struct audit_sample *first,
		       struct audit_tasks *tasks,
		       struct audit_problems *problems);

/* Marks each task: audited (of pid), there / only_there (against
 * reserved), per_cpu. */
void audit_tasks_classify(struct audit_tasks *tasks, pid_t pid,
			  const cpu_set_t *reserved);
void audit_tasks_free(struct audit_tasks *tasks);

/* The systemd unit of a process from its cgroup file: the last path
 * component ending .service or .scope, else the cgroup path; "" when
 * the file cannot be read. */
void audit_unit_of(const char *root, pid_t pid, char *unit, size_t len);

/* ---- the system's settings ------------------------------------------ */

struct audit_irq {
	unsigned number;
	char name[AUDIT_TEXT_LEN];	/* from /proc/interrupts, or "" */
	char affinity[AUDIT_TEXT_LEN];	/* smp_affinity_list, as read */
	char effective[AUDIT_TEXT_LEN]; /* effective_affinity_list, or "" */
	bool garbled;			/* a list that is not one */
	bool device;			/* names a serial or USB device */
	unsigned long long fired;	/* on reserved CPUs, in the interval */
};

/* A line of a file that sets something: "AllowedCPUs=2-3". */
struct audit_setting {
	char file[AUDIT_TEXT_LEN];
	int line;      /* 0: not a file's line (a cgroup file) */
	char name[64]; /* the slice, or the key */
	char value[AUDIT_TEXT_LEN];
	bool user; /* user.conf, not system.conf */
};

#define AUDIT_MAX_SETTINGS 32

struct audit_settings {
	struct audit_setting item[AUDIT_MAX_SETTINGS];
	size_t count;
};

struct audit_system {
	struct audit_irq *irq;
	size_t irq_count;
	/* from /proc/cmdline; "" when not given */
	char isolcpus[AUDIT_TEXT_LEN], nohz_full[AUDIT_TEXT_LEN];
	/* /sys/devices/system/cpu/isolated and nohz_full; has_: the file
	 * exists (a kernel without NO_HZ_FULL has no nohz_full file) */
	char isolated[AUDIT_TEXT_LEN], nohz_full_now[AUDIT_TEXT_LEN];
	bool has_isolated, has_nohz_full;
	struct audit_settings slice_lines; /* AllowedCPUs= */
	struct audit_settings slice_sets;  /* cpuset.cpus.effective */
	struct audit_settings affinity;	   /* CPUAffinity= */
	bool irqbalance_installed, irqbalance_running;
	struct audit_settings banned; /* IRQBALANCE_BANNED_CPU(LIST|S)= */
};

/* The interrupt counts on the reserved CPUs now, per IRQ number, from
 * /proc/interrupts: a first reading, for audit_system_read. */
struct audit_fired {
	struct audit_fired_entry {
		unsigned number;
		unsigned long long count;
	} * entries;
	size_t count;
};

int audit_fired_take(const char *root, const cpu_set_t *reserved,
		     struct audit_fired *fired);
void audit_fired_free(struct audit_fired *fired);

/* Everything but the processes; what cannot be read is a problem said,
 * never a failure. irqbalance_running is left for the caller, who has
 * the processes. Returns 0, or -1 when out of memory. */
int audit_system_read(const char *root, const cpu_set_t *reserved,
		      const struct audit_fired *first,
		      struct audit_system *system,
		      struct audit_problems *problems);
void audit_system_free(struct audit_system *system);

/* The CPUs a "isolcpus=" value names, its flags (domain, managed_irq,
 * nohz) skipped. */
bool audit_isolcpus_set(const char *value, cpu_set_t *set);

/* The last CPUAffinity= of a manager (user or system), or NULL. */
const struct audit_setting *audit_affinity_now(const struct audit_system *s,
					       bool user);

/* The CPUs irqbalance is told to leave alone, into set; false when it is
 * told none. */
bool audit_banned_set(const struct audit_system *system, cpu_set_t *set);

/* ---- the whole report ---------------------------------------------- */

struct audit_report {
	const char *root;
	pid_t pid; /* 0: no process audited (--cpus alone) */
	char command[AUDIT_TEXT_LEN];
	char unit[128];
	cpu_set_t *online, *reserved, *others;
	size_t others_count;   /* online CPUs not reserved */
	bool reserved_given;   /* by --cpus, not the threads */
	bool reserved_by_plan; /* the threads' but [children]'s, the plan's */
	double seconds;	       /* the interval measured */
	struct audit_tasks tasks;
	struct audit_system system;
	struct audit_problems problems;
	/* the verdict: what else may run there */
	size_t processes, threads; /* user space, movable */
	size_t kernel_unbound;	   /* kernel threads not bound to one CPU */
	size_t kernel_per_cpu;	   /* unmovable */
	size_t audited_threads;
};

#define AUDIT_MAX_ADVICE 8

struct audit_advice {
	char what[AUDIT_TEXT_LEN];
	char lines[2048]; /* to write or run, newline separated */
	char cost[512];
};

/* What to do about what the report found, most useful first; returns
 * how many of at most AUDIT_MAX_ADVICE. */
size_t audit_advise(const struct audit_report *report,
		    struct audit_advice *advice);

/* A CPU share of one CPU, in percent, over the interval. */
double audit_percent(const struct audit_report *report, unsigned long long ns);

void audit_print_text(const struct audit_report *report,
		      const struct audit_advice *advice, size_t advice_count);
void audit_print_json(const struct audit_report *report,
		      const struct audit_advice *advice, size_t advice_count);

#endif
