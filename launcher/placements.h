/*
 * The shim's placement table of a running process (shim/record.h), read
 * through /proc/PID/fd: for `status` (what placed each thread) and
 * `audit` (which CPUs the plan leaves to other work).
 */
#ifndef KLIPPER_PIN_PLACEMENTS_H
#define KLIPPER_PIN_PLACEMENTS_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "record.h"

struct placements {
	char config[256];	   /* "" for the built-in plan */
	cpu_set_t *children;	   /* CPULIST_SETSIZE bytes; NULL: none set */
	struct record_slot *slots; /* the slots in use, each as written */
	size_t count;
};

/* Reads the table of process pid. Returns 0; or -1 with errno: EACCES or
 * EPERM when the process is not ours to read, ENOENT when it has none
 * (not launched by klipper-pin, or it closed the descriptor). */
int placements_read(const char *root, pid_t pid, struct placements *table);

/* The slot of thread tid, or NULL. */
const struct record_slot *placements_find(const struct placements *table,
					  pid_t tid);

void placements_free(struct placements *table);

#endif
