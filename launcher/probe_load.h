/*
 * The contention klipper-pin probe measures under: busy processes (one
 * forked child spinning on each CPU asked, pinned there) and busy sibling
 * threads of the probe's own process, in bursts. Nothing started here
 * outlives the probe: each child has PR_SET_PDEATHSIG (SIGKILL), checks
 * that its parent is still the one that forked it, and is killed and
 * reaped by probe_load_stop.
 */
#ifndef KLIPPER_PIN_PROBE_LOAD_H
#define KLIPPER_PIN_PROBE_LOAD_H

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* A sibling's burst: this long busy, then this long asleep. */
#define PROBE_SIBLING_BUSY_NS 2000000L
#define PROBE_SIBLING_IDLE_NS 1000000L

struct probe_load {
	pid_t *children; /* the busy processes, 0 once reaped */
	size_t child_count;
	pthread_t *siblings;
	size_t sibling_count;
	atomic_bool stop; /* tells the siblings to end */
};

/*
 * Forks one busy child per CPU of cpus (setsize bytes; NULL or empty:
 * none), each pinned there. Call it from the thread that lives the whole
 * run (the death signal follows the thread that forked). Returns 0, or -1
 * with errno (and the children forked so far stopped).
 */
int probe_load_start_children(struct probe_load *load, const cpu_set_t *cpus,
			      size_t setsize);

/* Starts count busy sibling threads where the calling thread may run.
 * Returns 0, or an error number (and the siblings started so far
 * stopped). Again after probe_load_stop_siblings: a new set. */
int probe_load_start_siblings(struct probe_load *load, size_t count);

/* Stops and joins the siblings alone (the children spin on). */
void probe_load_stop_siblings(struct probe_load *load);

/* Stops and joins the siblings, kills (SIGKILL) and reaps every child,
 * frees what load holds. Safe to call on a zeroed load and twice. */
void probe_load_stop(struct probe_load *load);

#endif
