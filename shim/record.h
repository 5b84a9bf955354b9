/*
 * The placement table: where `klipper-pin status` finds what placed each
 * thread without reading the log (which may be the journal, or none).
 *
 * The launched process keeps it in memory of its own, a memfd named
 * RECORD_NAME (its descriptor at 100 or above, close-on-exec, closed in a
 * forked child), mapped shared: a placement is a copy into a slot, with
 * no system call; the kernel frees it all when the process ends. status
 * opens /proc/PID/fd/N (allowed to the process's own user and root) and
 * reads the slots, each guarded by a sequence count: odd while written,
 * so a reader retries a slot that changed under it.
 */
#ifndef KLIPPER_PIN_RECORD_H
#define KLIPPER_PIN_RECORD_H

#include <sched.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define RECORD_NAME "klipper-pin-placements"
#define RECORD_MAGIC 0x316e69702d706b6bull /* "kpk-pin1" */
#define RECORD_SLOTS 1024
#define RECORD_MASK_BYTES 128 /* CPUs 0-1023; a larger one is not kept */

struct record_slot {
	_Atomic uint32_t sequence; /* odd while written */
	_Atomic int32_t tid;	   /* 0: free */
	uint64_t seq;		   /* creation number, 0 for the main thread */
	char event[8];		   /* main, thread, rename */
	char rule[48];		   /* the rule's name, cut to fit */
	char result[40];	   /* "ok" or what the kernel refused, cut */
	uint32_t want_bytes;	   /* 0: the rule asked no CPUs (inherit) */
	uint8_t want[RECORD_MASK_BYTES];
};

struct record_table {
	uint64_t magic;
	int32_t pid;
	uint32_t slot_count;
	char config[256]; /* the config file, "" for the built-in plan */
	/* [children]'s CPUs (0 bytes: it sets none): the ones the plan
	 * leaves to other work, so `audit` knows which are reserved */
	uint32_t children_bytes;
	uint8_t children[RECORD_MASK_BYTES];
	struct record_slot slots[RECORD_SLOTS];
};

/* In the launched process: makes the table (nothing when it cannot);
 * children is [children]'s CPU set of setsize bytes, or NULL. */
void record_open(pid_t pid, const char *config, const cpu_set_t *children,
		 size_t setsize);

/* Writes a placement of thread tid into *slot, claiming one when *slot is
 * -1 (none is left: nothing kept). No system call, no lock, no stdio. */
void record_placement(int *slot, pid_t tid, const char *event,
		      unsigned long long seq, const char *rule,
		      const cpu_set_t *want, size_t setsize,
		      const char *result);

/* The thread of slot has ended: the slot is free again. */
void record_release(int slot);

/* In a forked child: the parent's table is the parent's alone. */
void record_forget(void);

#endif
