/*
 * Placing one thread: CPU affinity, scheduling policy and nice value, as an
 * action of the plan says, then reading back what the kernel now reports.
 * Nothing here uses stdio or more than a few hundred bytes of stack: it
 * runs on the program's threads, whose stacks may be small.
 */
#ifndef KLIPPER_PIN_PLACE_H
#define KLIPPER_PIN_PLACE_H

#include <sched.h>
#include <stdbool.h>
#include <sys/types.h>

#include "plan.h"

/* A thread's scheduling as the kernel has it (sched_getattr). */
struct shim_sched_value {
	int policy; /* SCHED_OTHER ... without SCHED_RESET_ON_FORK */
	int priority;
	int nice;
	bool reset_on_fork;
};

/* A thread's scheduling before the shim first changed it, and what the
 * shim left, so that a process forked from that thread can start as it
 * would have without the shim. */
struct shim_sched {
	bool changed;
	struct shim_sched_value before, after;
};

struct shim_placement {
	/* in: the CPUs chosen for this thread (NULL: leave them), and
	 * whether pthread_create placed it already or failed to (errno). */
	const cpu_set_t *want;
	bool affinity_done;
	int affinity_error;
	cpu_set_t *now;		  /* a set of setsize bytes to read into */
	struct shim_sched *sched; /* the thread's own, kept for fork */

	/* out: for the log */
	char want_text[256];
	char cpus_text[256];
	const char *policy;
	int priority;
	bool has_nice;
	int nice;
	char result[160];
};

/*
 * Applies action to thread tid (a thread of this process; 0 for the
 * calling thread) and fills placement->result; with read_back, also what
 * the kernel reports afterwards, reading CPU sets setsize bytes wide (at
 * least the kernel's own size: see shim_kernel_setsize). Keeps errno.
 * Never fails: what the kernel refuses is written into placement->result.
 */
void shim_place(const struct plan_action *action, pid_t tid, size_t setsize,
		bool read_back, struct shim_placement *placement);

/*
 * In a process just forked from a thread whose scheduling the shim
 * changed: puts back what the thread had before, unless the program
 * changed it since (then the program's own setting stands).
 */
void shim_sched_restore(const struct shim_sched *sched);

/* The size of the kernel's CPU sets, in bytes (what sched_getaffinity
 * accepts at the least), or CPULIST_SETSIZE when it cannot tell. */
size_t shim_kernel_setsize(void);

/* The symbolic name of an errno value ("EPERM"), for log results. */
const char *shim_errno_name(int error);

#endif
