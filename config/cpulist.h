/*
 * CPU lists as `taskset -c` takes them ("2", "0-1", "0,2-3", "0-7:2"), and
 * the same syntax for lists of thread creation numbers. A list is kept as
 * ranges, so a list of large numbers costs no more than a small one.
 */
#ifndef KLIPPER_PIN_CPULIST_H
#define KLIPPER_PIN_CPULIST_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>

/* Creation numbers in match_index go up to this. */
#define CPULIST_MAX_INDEX 4000000000u

/* No kernel can have a CPU above this (CONFIG_NR_CPUS is at most 8192). */
#define CPULIST_MAX_CPU 8191u

struct cpulist_range {
	unsigned lo, hi, stride;
};

struct cpulist {
	struct cpulist_range *ranges;
	size_t count;
};

enum cpulist_error {
	CPULIST_OK = 0,
	CPULIST_EMPTY,	    /* nothing, or an empty item as in "1,,2" */
	CPULIST_SYNTAX,	    /* not a number where one was expected */
	CPULIST_REVERSED,   /* "3-1" */
	CPULIST_TOO_BIG,    /* a number above the maximum */
	CPULIST_BAD_STRIDE, /* "0-7:0" */
	CPULIST_NO_MEMORY,
};

/*
 * Parses text into *list (which the caller frees with cpulist_free). Every
 * number must be at most max. On error *list is left empty and, when bad is
 * not NULL, *bad points at the offending character of text.
 */
enum cpulist_error cpulist_parse(const char *text, unsigned max,
				 struct cpulist *list, const char **bad);

/* A short phrase for an error, for "expected ..." messages. */
const char *cpulist_strerror(enum cpulist_error error);

void cpulist_free(struct cpulist *list);

bool cpulist_contains(const struct cpulist *list, unsigned n);

/* The numbers in the list, in ascending order, duplicates removed. */
size_t cpulist_count(const struct cpulist *list);

/*
 * Sets in set (of setsize bytes, as CPU_ALLOC_SIZE gives) every CPU of the
 * list; CPUs beyond the set's size are left out. Does not clear set first.
 */
void cpulist_to_set(const struct cpulist *list, cpu_set_t *set, size_t setsize);

/*
 * Writes set in the shortest taskset form ("0-2,5") into buf; "" for an
 * empty set. Returns the length the whole text needs, as snprintf does.
 */
size_t cpulist_format(const cpu_set_t *set, size_t setsize, char *buf,
		      size_t len);

/*
 * Writes the list's ranges as written ("1,4-8:2") into buf; returns the
 * length the whole text needs, as snprintf does. For lists too large for a
 * CPU set, as match_index's may be.
 */
size_t cpulist_format_ranges(const struct cpulist *list, char *buf, size_t len);

/* Bytes of a set big enough for any CPU a kernel can have. */
#define CPULIST_SETSIZE CPU_ALLOC_SIZE(CPULIST_MAX_CPU + 1)

/*
 * Reads the CPUs online now (/sys/devices/system/cpu/online, else
 * sysconf) into set, which is cleared first. Returns 0, or -1 with errno.
 */
int cpulist_read_online(cpu_set_t *set, size_t setsize);

#endif
