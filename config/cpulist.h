/*
 * CPU lists as `taskset -c` takes them ("2", "0-1", "0,2-3", "0-7:2"), and
 * the same syntax for lists of thread creation numbers. A list is kept as
 * ranges, so a list of large numbers costs no more than a small one.
 *
 * A CPU list may also name CPUs relative to the ones online, so that one
 * file serves boards of 2, 4 and 8 CPUs:
 *
 *   list     = item *( "," item )      spaces and tabs around items
 *   item     = end [ "-" end [ ":" stride ] ]
 *   end      = number | relative
 *   relative = "last" [ "-" count ]    the last online CPU, or the count-th
 *                                      online CPU before it
 *   number, count, stride = 1*DIGIT    stride 1 or more, count up to 8191
 *
 * "last-" followed by a digit is always a count ("last-1" is the CPU
 * before the last, never a range from last to 1): a range from a relative
 * name is "last-1-last". Every list taskset takes holds no letter, so keeps
 * its meaning. Examples, on CPUs 0-1 / 0-3 / 0-7 online:
 *
 *   last          1 / 3 / 7
 *   last-1        0 / 2 / 6
 *   last-1-last   0-1 / 2-3 / 6-7
 *   0-last-2      0 / 0-1 / 0-5
 *
 * Relative names count online CPUs, not numbers: on CPUs 0,2,5,7 online,
 * last-1 is 5. A range with a relative end covers the online CPUs between
 * its ends (its stride steps over them), so it names no offline CPU; an
 * end counted back past the first online CPU stops there, so that such a
 * range is shorter on a smaller board but never empty for it ("0-last-2"
 * on 2 CPUs is CPU 0). A single name counted back past the first online
 * CPU ("last-1" on 1 CPU) names no CPU here: the plan treats it as it
 * treats an offline CPU. So does a range with a relative end and no online
 * CPU between its ends ("3-last" on CPUs 0-1).
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

/* flags of a range */
#define CPULIST_LO_LAST 1u /* lo counts back from the last online CPU */
#define CPULIST_HI_LAST 2u /* hi likewise */
#define CPULIST_SPAN 4u	   /* with a relative end: written as a range */

struct cpulist_range {
	unsigned lo, hi, stride;
	/* 0 for numbers alone; with a relative end, lo and hi are counts
	 * back from the last online CPU and need not be in order. */
	unsigned flags;
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
	CPULIST_NAME,	    /* a word that is not "last": "first", "last1" */
	CPULIST_NEGATIVE,   /* "-1": count from the end with "last-1" */
	CPULIST_TOO_FAR,    /* "last-8192": a count above the maximum */
	CPULIST_NO_MEMORY,
};

/*
 * Parses text into *list (which the caller frees with cpulist_free). Every
 * number (and count after "last-") must be at most max. Relative names
 * are CPUs: taken when max is at most CPULIST_MAX_CPU, a CPULIST_SYNTAX
 * error otherwise (creation numbers have no "last"). On error *list is
 * left empty and, when bad is not NULL, *bad points at the offending
 * character of text.
 */
enum cpulist_error cpulist_parse(const char *text, unsigned max,
				 struct cpulist *list, const char **bad);

/* A short phrase for an error, for "expected ..." messages. */
const char *cpulist_strerror(enum cpulist_error error);

void cpulist_free(struct cpulist *list);

/*
 * cpulist_contains, cpulist_count and cpulist_to_set see the numbered
 * items only: a relative name has no number until cpulist_resolve gives it
 * one against the CPUs online.
 */
bool cpulist_contains(const struct cpulist *list, unsigned n);

/* The numbers in the list, in ascending order, duplicates removed. */
size_t cpulist_count(const struct cpulist *list);

/*
 * Sets in set (of setsize bytes, as CPU_ALLOC_SIZE gives) every CPU of the
 * list; CPUs beyond the set's size are left out. Does not clear set first.
 */
void cpulist_to_set(const struct cpulist *list, cpu_set_t *set, size_t setsize);

/* True when an item of the list names a CPU relative to the online ones. */
bool cpulist_is_relative(const struct cpulist *list);

/*
 * Sets in set every CPU the list names on a machine with the CPUs in
 * online (both of setsize bytes; set is not cleared first): numbers as
 * they are, online or not (the caller finds the ones that are not), and
 * relative names among the online CPUs, as the grammar above says. Items
 * that name no CPU here (a single relative name counted back past the
 * first online CPU, a range with a relative end and no online CPU between
 * its ends) are written, as cpulist_format_ranges writes them and comma
 * separated, into absent ("" when none; whole items only when len is too
 * small), and counted. Returns that count, or -1 when out of memory.
 */
long cpulist_resolve(const struct cpulist *list, const cpu_set_t *online,
		     size_t setsize, cpu_set_t *set, char *absent, size_t len);

/*
 * Writes set in the shortest taskset form ("0-2,5") into buf; "" for an
 * empty set. Returns the length the whole text needs, as snprintf does.
 */
size_t cpulist_format(const cpu_set_t *set, size_t setsize, char *buf,
		      size_t len);

/*
 * Writes the list's ranges as written ("1,4-8:2", "0-last-2") into buf;
 * returns the length the whole text needs, as snprintf does. For lists too
 * large for a CPU set, as match_index's may be, and for relative lists.
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
