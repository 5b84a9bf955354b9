/*
 * Unit tests of config/cpulist.c: parsing CPU lists as `taskset -c` takes
 * them (with the error kinds and the `bad` pointer), membership and count,
 * filling a cpu_set_t, and formatting a set back in the shortest form; the
 * names relative to the online CPUs ("last", "last-1", "0-last-2"), their
 * errors, and what they resolve to on 1 to 16 CPUs and on gapped sets.
 */
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cpulist.h"

/* Parses text that must be valid; the caller frees the list. */
static struct cpulist parse_ok(const char *text)
{
	struct cpulist list;
	const char *bad = NULL;
	enum cpulist_error error =
		cpulist_parse(text, CPULIST_MAX_CPU, &list, &bad);

	if (error != CPULIST_OK)
		fail_msg("'%s' should parse, got '%s' at '%s'", text,
			 cpulist_strerror(error), bad ? bad : "(null)");
	return list;
}

/* Parses text that must fail with error, at offset bad_at of text. */
static void parse_fails(const char *text, enum cpulist_error expected,
			size_t bad_at)
{
	/* Filled in, to see that a failed parse leaves it empty. */
	static struct cpulist_range stale = { 1, 1, 1, 0 };
	struct cpulist list = { &stale, 1 };
	const char *bad = NULL;
	enum cpulist_error error =
		cpulist_parse(text, CPULIST_MAX_CPU, &list, &bad);

	if (error != expected)
		fail_msg("'%s': expected error %d (%s), got %d (%s)", text,
			 expected, cpulist_strerror(expected), error,
			 cpulist_strerror(error));
	assert_null(list.ranges);
	assert_int_equal(list.count, 0);
	assert_non_null(bad);
	if ((size_t)(bad - text) != bad_at)
		fail_msg("'%s': bad points at offset %td ('%s'), expected %zu",
			 text, bad - text, bad, bad_at);
}

/* Checks that exactly the numbers in members (ending in -1), all below
 * limit, are in list. */
static void assert_members(const struct cpulist *list, const int *members,
			   unsigned limit)
{
	size_t expected = 0;

	for (unsigned n = 0; n < limit; n++) {
		bool want = false;

		for (const int *m = members; *m >= 0; m++)
			want = want || (unsigned)*m == n;
		if (cpulist_contains(list, n) != want)
			fail_msg("cpulist_contains(%u) is %d, expected %d", n,
				 !want, want);
		expected += want;
	}
	assert_int_equal(cpulist_count(list), expected);
}

static cpu_set_t *new_set(void)
{
	cpu_set_t *set = CPU_ALLOC(CPULIST_MAX_CPU + 1);

	assert_non_null(set);
	CPU_ZERO_S(CPULIST_SETSIZE, set);
	return set;
}

/* ---- parsing: valid lists ---------------------------------------------- */

static void test_parse_single_cpu(void **state)
{
	(void)state;
	struct cpulist list = parse_ok("2");

	assert_int_equal(list.count, 1);
	assert_members(&list, (const int[]){ 2, -1 }, 16);
	cpulist_free(&list);
}

static void test_parse_range(void **state)
{
	(void)state;
	struct cpulist list = parse_ok("0-1");

	assert_members(&list, (const int[]){ 0, 1, -1 }, 16);
	cpulist_free(&list);
}

static void test_parse_list_of_items(void **state)
{
	(void)state;
	struct cpulist list = parse_ok("0,2-3");

	assert_int_equal(list.count, 2);
	assert_members(&list, (const int[]){ 0, 2, 3, -1 }, 16);
	cpulist_free(&list);
}

static void test_parse_stride(void **state)
{
	(void)state;
	struct cpulist list = parse_ok("0-7:2");

	assert_members(&list, (const int[]){ 0, 2, 4, 6, -1 }, 16);
	cpulist_free(&list);

	/* A stride need not land on the end of the range. */
	list = parse_ok("1-8:3");
	assert_members(&list, (const int[]){ 1, 4, 7, -1 }, 16);
	cpulist_free(&list);
}

static void test_parse_spaces_around_items(void **state)
{
	(void)state;
	struct cpulist list = parse_ok("  0 ,\t2-3 , 5  ");

	assert_members(&list, (const int[]){ 0, 2, 3, 5, -1 }, 16);
	cpulist_free(&list);
}

static void test_parse_overlaps_counted_once(void **state)
{
	(void)state;
	struct cpulist list = parse_ok("0-3,2-5,4,1");

	assert_members(&list, (const int[]){ 0, 1, 2, 3, 4, 5, -1 }, 16);
	cpulist_free(&list);

	list = parse_ok("0-7:2,0-7:4,3");
	assert_members(&list, (const int[]){ 0, 2, 3, 4, 6, -1 }, 16);
	cpulist_free(&list);
}

static void test_parse_highest_cpu_accepted(void **state)
{
	(void)state;
	struct cpulist list = parse_ok("8191");

	assert_true(cpulist_contains(&list, 8191));
	assert_false(cpulist_contains(&list, 8190));
	assert_int_equal(cpulist_count(&list), 1);
	cpulist_free(&list);

	list = parse_ok("0-8191");
	assert_int_equal(cpulist_count(&list), 8192);
	cpulist_free(&list);
}

static void test_parse_max_is_the_callers(void **state)
{
	(void)state;
	struct cpulist list;

	/* match_index uses the same syntax up to CPULIST_MAX_INDEX. */
	assert_int_equal(
		cpulist_parse("4000000000", CPULIST_MAX_INDEX, &list, NULL),
		CPULIST_OK);
	assert_true(cpulist_contains(&list, 4000000000u));
	cpulist_free(&list);
	assert_int_equal(
		cpulist_parse("4000000001", CPULIST_MAX_INDEX, &list, NULL),
		CPULIST_TOO_BIG);
	assert_int_equal(cpulist_parse("5", 4, &list, NULL), CPULIST_TOO_BIG);
	assert_int_equal(cpulist_parse("4", 4, &list, NULL), CPULIST_OK);
	cpulist_free(&list);
}

/* ---- parsing: errors and where they are -------------------------------- */

static void test_parse_cpu_8192_too_big(void **state)
{
	(void)state;
	parse_fails("8192", CPULIST_TOO_BIG, 0);
	parse_fails("0-8192", CPULIST_TOO_BIG, 2);
	parse_fails("1,99999", CPULIST_TOO_BIG, 2);
	/* Far beyond any integer type: must not wrap round to a small CPU. */
	parse_fails("18446744073709551617", CPULIST_TOO_BIG, 0);
}

static void test_parse_reversed_range(void **state)
{
	(void)state;
	parse_fails("3-1", CPULIST_REVERSED, 2);
	parse_fails("0,5-4", CPULIST_REVERSED, 4);
}

static void test_parse_not_a_number(void **state)
{
	(void)state;
	parse_fails("1-", CPULIST_SYNTAX, 2);
	parse_fails("1 2", CPULIST_SYNTAX, 2);
	parse_fails("1-3:", CPULIST_SYNTAX, 4);
	parse_fails("1-3:x", CPULIST_SYNTAX, 4);
	parse_fails("2a", CPULIST_SYNTAX, 1);
}

static void test_parse_empty_list_or_item(void **state)
{
	(void)state;
	parse_fails("", CPULIST_EMPTY, 0);
	parse_fails("   ", CPULIST_EMPTY, 0);
	parse_fails(",", CPULIST_EMPTY, 0);
	parse_fails("1,,2", CPULIST_EMPTY, 2);
	parse_fails("1,", CPULIST_EMPTY, 2);
}

static void test_parse_zero_stride(void **state)
{
	(void)state;
	struct cpulist list;

	assert_int_equal(cpulist_parse("0-7:0", CPULIST_MAX_CPU, &list, NULL),
			 CPULIST_BAD_STRIDE);
	assert_null(list.ranges);
	assert_int_equal(list.count, 0);
}

static void test_parse_bad_pointer_may_be_null(void **state)
{
	(void)state;
	struct cpulist list;

	assert_int_equal(cpulist_parse("3-1", CPULIST_MAX_CPU, &list, NULL),
			 CPULIST_REVERSED);
	assert_int_equal(list.count, 0);
}

static void test_strerror_says_something_for_each(void **state)
{
	(void)state;
	const enum cpulist_error errors[] = {
		CPULIST_EMPTY,	  CPULIST_SYNTAX,     CPULIST_REVERSED,
		CPULIST_TOO_BIG,  CPULIST_BAD_STRIDE, CPULIST_NAME,
		CPULIST_NEGATIVE, CPULIST_TOO_FAR,    CPULIST_NO_MEMORY,
	};

	for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
		assert_true(strlen(cpulist_strerror(errors[i])) > 0);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(cpulist_strerror(errors[i]),
						cpulist_strerror(errors[j]));
	}
}

/* ---- names relative to the online CPUs --------------------------------- */

/* The list's items as cpulist_format_ranges writes them. */
static const char *ranges_text(const struct cpulist *list)
{
	static char text[256];

	assert_true(cpulist_format_ranges(list, text, sizeof(text)) <
		    sizeof(text));
	return text;
}

static void test_parse_relative_names(void **state)
{
	(void)state;
	struct cpulist list = parse_ok("last");

	assert_int_equal(list.count, 1);
	assert_int_equal(list.ranges[0].lo, 0);
	assert_int_equal(list.ranges[0].flags,
			 CPULIST_LO_LAST | CPULIST_HI_LAST);
	assert_true(cpulist_is_relative(&list));
	cpulist_free(&list);

	list = parse_ok("last-2");
	assert_int_equal(list.ranges[0].lo, 2);
	assert_int_equal(list.ranges[0].hi, 2);
	assert_false(list.ranges[0].flags & CPULIST_SPAN);
	cpulist_free(&list);

	/* "last-" and a digit is a count; the range comes after it */
	list = parse_ok("last-1-last");
	assert_int_equal(list.count, 1);
	assert_int_equal(list.ranges[0].lo, 1);
	assert_int_equal(list.ranges[0].hi, 0);
	assert_int_equal(list.ranges[0].flags,
			 CPULIST_SPAN | CPULIST_LO_LAST | CPULIST_HI_LAST);
	cpulist_free(&list);

	list = parse_ok("0-last-2");
	assert_int_equal(list.ranges[0].lo, 0);
	assert_int_equal(list.ranges[0].hi, 2);
	assert_int_equal(list.ranges[0].flags, CPULIST_SPAN | CPULIST_HI_LAST);
	cpulist_free(&list);

	list = parse_ok("last-3-5:2");
	assert_int_equal(list.ranges[0].flags, CPULIST_SPAN | CPULIST_LO_LAST);
	assert_int_equal(list.ranges[0].stride, 2);
	cpulist_free(&list);

	/* the highest count, spaces around items, and mixed with numbers */
	list = parse_ok(" last-8191 ,\t1, last-0 ");
	assert_int_equal(list.count, 3);
	assert_int_equal(list.ranges[0].lo, 8191);
	assert_int_equal(list.ranges[2].lo, 0);
	cpulist_free(&list);
}

/* Every list taskset takes keeps its meaning: no item of it is relative. */
static void test_taskset_lists_are_not_relative(void **state)
{
	(void)state;
	static const char *const lists[] = { "2",     "0-1",  "0,2-3",
					     "0-7:2", "8191", "1,3-5,7-15:4",
					     "3-3",   "3-3:2" };

	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		struct cpulist list = parse_ok(lists[i]);

		/* kept as before: no flag at all */
		assert_false(cpulist_is_relative(&list));
		for (size_t j = 0; j < list.count; j++)
			assert_int_equal(list.ranges[j].flags, 0);
		cpulist_free(&list);
	}
}

static void test_parse_relative_errors(void **state)
{
	(void)state;
	/* words that are not "last" */
	parse_fails("a", CPULIST_NAME, 0);
	parse_fails("1,x", CPULIST_NAME, 2);
	parse_fails("first", CPULIST_NAME, 0);
	parse_fails("Last", CPULIST_NAME, 0);
	parse_fails("LAST", CPULIST_NAME, 0);
	parse_fails("last1", CPULIST_NAME, 0);
	parse_fails("lastly", CPULIST_NAME, 0);
	parse_fails("last_1", CPULIST_NAME, 0);
	parse_fails("last-x", CPULIST_NAME, 5);
	parse_fails("0-all", CPULIST_NAME, 2);
	/* Python's negative indexes: said so, and where */
	parse_fails("-1", CPULIST_NEGATIVE, 0);
	parse_fails("0--1", CPULIST_NEGATIVE, 2);
	parse_fails("-2--1", CPULIST_NEGATIVE, 0);
	/* a count no machine has a CPU for */
	parse_fails("last-8192", CPULIST_TOO_FAR, 5);
	parse_fails("0,last-99999999999999999999", CPULIST_TOO_FAR, 7);
	parse_fails("0-last-8192", CPULIST_TOO_FAR, 7);
	/* a range that runs backwards */
	parse_fails("last-last-1", CPULIST_REVERSED, 5);
	parse_fails("last-1-last-3", CPULIST_REVERSED, 7);
	/* malformed */
	parse_fails("last-", CPULIST_SYNTAX, 5);
	parse_fails("last-1-", CPULIST_SYNTAX, 7);
	parse_fails("last:2", CPULIST_SYNTAX, 4);
	parse_fails("last last", CPULIST_SYNTAX, 5);
	parse_fails("last - 1", CPULIST_SYNTAX, 5);
	parse_fails("last+1", CPULIST_SYNTAX, 4);
	parse_fails("last-1-last:0", CPULIST_BAD_STRIDE, 13);
	parse_fails("last,", CPULIST_EMPTY, 5);
}

static void test_relative_names_only_in_cpu_lists(void **state)
{
	(void)state;
	struct cpulist list;
	const char *bad = NULL;

	/* creation numbers have no "last": a plain syntax error there */
	assert_int_equal(cpulist_parse("last", CPULIST_MAX_INDEX, &list, &bad),
			 CPULIST_SYNTAX);
	assert_null(list.ranges);
	assert_int_equal(cpulist_parse("1,-1", CPULIST_MAX_INDEX, &list, &bad),
			 CPULIST_SYNTAX);
	assert_int_equal(bad[0], '-');
	/* below CPULIST_MAX_CPU the caller's maximum bounds counts too */
	assert_int_equal(cpulist_parse("last-10", 10, &list, NULL), CPULIST_OK);
	cpulist_free(&list);
	assert_int_equal(cpulist_parse("last-11", 10, &list, &bad),
			 CPULIST_TOO_FAR);
	assert_string_equal(bad, "11");
}

/* Membership, count and sets see numbers only: relative names wait for
 * cpulist_resolve. */
static void test_relative_items_have_no_number(void **state)
{
	(void)state;
	struct cpulist list = parse_ok("last,1,0-last-2,last-3-last");
	cpu_set_t *set = new_set();

	assert_members(&list, (const int[]){ 1, -1 }, 16);
	cpulist_to_set(&list, set, CPULIST_SETSIZE);
	assert_int_equal(CPU_COUNT_S(CPULIST_SETSIZE, set), 1);
	assert_true(CPU_ISSET_S(1, CPULIST_SETSIZE, set));
	cpulist_free(&list);

	list = parse_ok("last-1");
	assert_int_equal(cpulist_count(&list), 0);
	assert_false(cpulist_contains(&list, 0));
	cpulist_free(&list);
	CPU_FREE(set);
}

static void test_format_ranges_as_written(void **state)
{
	(void)state;
	static const char *const lists[] = {
		"last",
		"last-1",
		"last-1-last",
		"0-last-2",
		"last-3-last:2",
		"last-2-5",
		"last-2-last-2",
		"1,last,4-7:3,last-8191",
		/* from the last CPU to CPU 12, not last-12 (the fuzzer) */
		"last-0-12",
		"last-0-12:3",
		"last-last",
	};

	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		struct cpulist list = parse_ok(lists[i]), again;

		assert_string_equal(ranges_text(&list), lists[i]);
		again = parse_ok(ranges_text(&list));
		assert_int_equal(again.count, list.count);
		assert_memory_equal(again.ranges, list.ranges,
				    list.count * sizeof(*list.ranges));
		cpulist_free(&again);
		cpulist_free(&list);
	}
	/* "last-0" is "last" */
	struct cpulist list = parse_ok("last-0");

	assert_string_equal(ranges_text(&list), "last");
	cpulist_free(&list);
}

/* Resolves text on the online CPUs of online_text: the CPUs as text, and
 * the items that name none here in *absent ("" when none). */
static const char *resolve(const char *text, const char *online_text,
			   const char **absent_out)
{
	static char cpus[512], absent[256];
	struct cpulist list = parse_ok(text),
		       online_list = parse_ok(online_text);
	cpu_set_t *online = new_set(), *set = new_set();
	long missing;

	cpulist_to_set(&online_list, online, CPULIST_SETSIZE);
	missing = cpulist_resolve(&list, online, CPULIST_SETSIZE, set, absent,
				  sizeof(absent));
	assert_true(missing >= 0);
	assert_int_equal(missing == 0, absent[0] == '\0');
	cpulist_format(set, CPULIST_SETSIZE, cpus, sizeof(cpus));
	cpulist_free(&list);
	cpulist_free(&online_list);
	CPU_FREE(online);
	CPU_FREE(set);
	if (absent_out)
		*absent_out = absent;
	else if (absent[0])
		fail_msg("'%s' on %s: '%s' names no CPU here", text,
			 online_text, absent);
	return cpus;
}

/* On n CPUs (0 to n-1) online, n from 1 to 16. */
static void test_resolve_on_one_to_sixteen_cpus(void **state)
{
	(void)state;
	char online[16], want[64];
	const char *absent;

	for (unsigned n = 1; n <= 16; n++) {
		unsigned before = n >= 2 ? n - 2 : 0; /* last-1, clamped */

		snprintf(online, sizeof(online), n == 1 ? "0" : "0-%u", n - 1);

		snprintf(want, sizeof(want), "%u", n - 1);
		assert_string_equal(resolve("last", online, NULL), want);
		assert_string_equal(resolve("last-0", online, NULL), want);

		/* a single name: none past the first online CPU */
		if (n >= 2) {
			snprintf(want, sizeof(want), "%u", n - 2);
			assert_string_equal(resolve("last-1", online, NULL),
					    want);
		} else {
			assert_string_equal(resolve("last-1", online, &absent),
					    "");
			assert_string_equal(absent, "last-1");
		}
		assert_string_equal(resolve("last-15", online, &absent),
				    n == 16 ? "0" : "");
		assert_string_equal(absent, n == 16 ? "" : "last-15");

		/* ranges: shorter on a smaller board, never empty */
		snprintf(want, sizeof(want), before == n - 1 ? "%u" : "%u-%u",
			 before, n - 1);
		assert_string_equal(resolve("last-1-last", online, NULL), want);
		snprintf(want, sizeof(want), n <= 3 ? "0" : "0-%u", n - 3);
		assert_string_equal(resolve("0-last-2", online, NULL), want);
		snprintf(want, sizeof(want), n <= 4 ? "0-%u" : "%u-%u",
			 n <= 4 ? n - 1 : n - 4, n - 1);
		if (n == 1)
			snprintf(want, sizeof(want), "0");
		assert_string_equal(resolve("last-3-last", online, NULL), want);
		assert_string_equal(resolve("last-20-last-18", online, NULL),
				    "0");
		snprintf(want, sizeof(want), n == 1 ? "0" : "0-%u", n - 1);
		assert_string_equal(resolve("0-last", online, NULL), want);
	}
}

/* The lists of the shipped config on the boards it is written for. */
static void test_resolve_on_two_four_eight_cpus(void **state)
{
	(void)state;
	static const struct {
		const char *list, *on2, *on4, *on8;
	} cases[] = {
		{ "last", "1", "3", "7" },
		{ "last-1", "0", "2", "6" },
		{ "last-1-last", "0-1", "2-3", "6-7" },
		{ "0-last-2", "0", "0-1", "0-5" },
		{ "0-last:2", "0", "0,2", "0,2,4,6" },
		{ "last-3-last", "0-1", "0-3", "4-7" },
		{ "0,last", "0-1", "0,3", "0,7" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_string_equal(resolve(cases[i].list, "0-1", NULL),
				    cases[i].on2);
		assert_string_equal(resolve(cases[i].list, "0-3", NULL),
				    cases[i].on4);
		assert_string_equal(resolve(cases[i].list, "0-7", NULL),
				    cases[i].on8);
	}
}

/* Relative names count online CPUs, not numbers; a range with a relative
 * end covers the online CPUs between its ends, and no other. */
static void test_resolve_counts_online_cpus(void **state)
{
	(void)state;
	const char *absent;

	assert_string_equal(resolve("last", "0,2,5,7", NULL), "7");
	assert_string_equal(resolve("last-1", "0,2,5,7", NULL), "5");
	assert_string_equal(resolve("last-3", "0,2,5,7", NULL), "0");
	assert_string_equal(resolve("0-last-2", "0,2,5,7", NULL), "0,2");
	assert_string_equal(resolve("1-last", "0,2,5,7", NULL), "2,5,7");
	assert_string_equal(resolve("last-2-6", "0,2,5,7", NULL), "2,5");
	assert_string_equal(resolve("0-last:2", "0,2,5,7", NULL), "0,5");
	assert_string_equal(resolve("last-3-last:3", "0,2,5,7", NULL), "0,7");
	/* CPU 0 offline: "0-last" is the online CPUs from 0 up, no gap */
	assert_string_equal(resolve("0-last", "1-3", NULL), "1-3");
	assert_string_equal(resolve("last-1", "4,9-12", NULL), "11");
	/* at the top of what any kernel has */
	assert_string_equal(resolve("last-1-last", "0,8191", NULL), "0,8191");
	assert_string_equal(resolve("last-1", "8190-8191", NULL), "8190");
	/* from the last CPU to a number */
	assert_string_equal(resolve("last-0-12", "0-3", NULL), "3");
	/* no online CPU between the ends */
	assert_string_equal(resolve("last-0-1", "0-3", &absent), "");
	assert_string_equal(absent, "last-0-1");
	assert_string_equal(resolve("3-last", "0-1", &absent), "");
	assert_string_equal(absent, "3-last");
	assert_string_equal(resolve("1-last-2", "0-1", &absent), "");
	assert_string_equal(absent, "1-last-2");
	assert_string_equal(resolve("last-1-0", "0,1", &absent), "0");
	assert_string_equal(absent, "");
	/* numbers stand for themselves, online or not */
	assert_string_equal(resolve("3-4,last", "0-1,5", &absent), "3-5");
	assert_string_equal(absent, "");
}

/* Numbers stand for themselves, online or not: the caller decides. */
static void test_resolve_keeps_numbers(void **state)
{
	(void)state;
	const char *absent;

	assert_string_equal(resolve("0,5,last", "0-1", &absent), "0-1,5");
	assert_string_equal(absent, "");
	assert_string_equal(resolve("2-3,last-4", "0-1", &absent), "2-3");
	assert_string_equal(absent, "last-4");
	assert_string_equal(resolve("4-7", "0-3", NULL), "4-7");
}

/* The items that name no CPU here: each as written, comma-separated,
 * counted; whole items only when the buffer is small. */
static void test_resolve_absent_items(void **state)
{
	(void)state;
	struct cpulist list =
		parse_ok("last-1,0,last-2-last-1:2,5-last,last-9");
	struct cpulist one = parse_ok("0");
	cpu_set_t *online = new_set(), *set = new_set();
	char absent[64], small[12];

	cpulist_to_set(&one, online, CPULIST_SETSIZE);
	/* last-2-last-1 clamps to CPU 0: it names one */
	assert_int_equal(cpulist_resolve(&list, online, CPULIST_SETSIZE, set,
					 absent, sizeof(absent)),
			 3);
	assert_string_equal(absent, "last-1,5-last,last-9");
	assert_int_equal(cpulist_resolve(&list, online, CPULIST_SETSIZE, set,
					 small, sizeof(small)),
			 3);
	assert_string_equal(small, "last-1");
	assert_int_equal(
		cpulist_resolve(&list, online, CPULIST_SETSIZE, set, small, 1),
		3);
	assert_string_equal(small, "");
	assert_int_equal(
		cpulist_resolve(&list, online, CPULIST_SETSIZE, set, NULL, 0),
		3);

	/* no CPU online at all: every relative item is absent */
	CPU_ZERO_S(CPULIST_SETSIZE, online);
	CPU_ZERO_S(CPULIST_SETSIZE, set);
	assert_int_equal(cpulist_resolve(&list, online, CPULIST_SETSIZE, set,
					 absent, sizeof(absent)),
			 4);
	assert_string_equal(absent, "last-1,last-2-last-1:2,5-last,last-9");
	/* the number is set all the same */
	assert_int_equal(CPU_COUNT_S(CPULIST_SETSIZE, set), 1);
	cpulist_free(&list);
	cpulist_free(&one);
	CPU_FREE(online);
	CPU_FREE(set);
}

/* A smaller set than the largest: relative names stay within it. */
static void test_resolve_small_set_size(void **state)
{
	(void)state;
	size_t small = CPU_ALLOC_SIZE(64);
	cpu_set_t *online = CPU_ALLOC(64), *set = CPU_ALLOC(64);
	struct cpulist list = parse_ok("last-1-last,100");
	char absent[16], text[32];

	assert_non_null(online);
	assert_non_null(set);
	CPU_ZERO_S(small, online);
	CPU_ZERO_S(small, set);
	CPU_SET_S(3, small, online);
	CPU_SET_S(63, small, online);
	assert_int_equal(cpulist_resolve(&list, online, small, set, absent,
					 sizeof(absent)),
			 0);
	cpulist_format(set, small, text, sizeof(text));
	assert_string_equal(text, "3,63");
	cpulist_free(&list);
	CPU_FREE(online);
	CPU_FREE(set);
}

/* ---- membership, count ------------------------------------------------- */

static void test_empty_list_contains_nothing(void **state)
{
	(void)state;
	struct cpulist list = { NULL, 0 };

	assert_false(cpulist_contains(&list, 0));
	assert_int_equal(cpulist_count(&list), 0);
	cpulist_free(&list);
	assert_null(list.ranges);
}

static void test_count_of_a_zero_only_list(void **state)
{
	(void)state;
	struct cpulist list = parse_ok("0");

	assert_int_equal(cpulist_count(&list), 1);
	cpulist_free(&list);
}

/* ---- to a set ---------------------------------------------------------- */

static void test_to_set_sets_each_cpu(void **state)
{
	(void)state;
	struct cpulist list = parse_ok("0,2-3,8191");
	cpu_set_t *set = new_set();

	cpulist_to_set(&list, set, CPULIST_SETSIZE);
	assert_int_equal(CPU_COUNT_S(CPULIST_SETSIZE, set), 4);
	assert_true(CPU_ISSET_S(0, CPULIST_SETSIZE, set));
	assert_false(CPU_ISSET_S(1, CPULIST_SETSIZE, set));
	assert_true(CPU_ISSET_S(2, CPULIST_SETSIZE, set));
	assert_true(CPU_ISSET_S(3, CPULIST_SETSIZE, set));
	assert_true(CPU_ISSET_S(8191, CPULIST_SETSIZE, set));
	cpulist_free(&list);
	CPU_FREE(set);
}

static void test_to_set_keeps_what_was_set(void **state)
{
	(void)state;
	struct cpulist list = parse_ok("0-7:2");
	cpu_set_t *set = new_set();

	CPU_SET_S(7, CPULIST_SETSIZE, set);
	cpulist_to_set(&list, set, CPULIST_SETSIZE);
	assert_int_equal(CPU_COUNT_S(CPULIST_SETSIZE, set), 5);
	assert_true(CPU_ISSET_S(7, CPULIST_SETSIZE, set));
	assert_true(CPU_ISSET_S(6, CPULIST_SETSIZE, set));
	assert_false(CPU_ISSET_S(5, CPULIST_SETSIZE, set));
	cpulist_free(&list);
	CPU_FREE(set);
}

static void test_to_set_leaves_out_cpus_beyond_the_set(void **state)
{
	(void)state;
	struct cpulist list = parse_ok("1,63-64,8000");
	size_t small = CPU_ALLOC_SIZE(64);
	/* A bigger allocation than small, to see that nothing past small
	 * bytes is written. */
	cpu_set_t *set = new_set();

	cpulist_to_set(&list, set, small);
	assert_int_equal(CPU_COUNT_S(CPULIST_SETSIZE, set), 2);
	assert_true(CPU_ISSET_S(1, CPULIST_SETSIZE, set));
	assert_true(CPU_ISSET_S(63, CPULIST_SETSIZE, set));
	assert_false(CPU_ISSET_S(64, CPULIST_SETSIZE, set));
	assert_false(CPU_ISSET_S(8000, CPULIST_SETSIZE, set));
	cpulist_free(&list);
	CPU_FREE(set);
}

/* ---- formatting -------------------------------------------------------- */

/* Formats the set the list text names. */
static void assert_formats_as(const char *list_text, const char *expected)
{
	struct cpulist list = parse_ok(list_text);
	cpu_set_t *set = new_set();
	char buf[64];
	size_t length;

	cpulist_to_set(&list, set, CPULIST_SETSIZE);
	length = cpulist_format(set, CPULIST_SETSIZE, buf, sizeof(buf));
	assert_string_equal(buf, expected);
	assert_int_equal(length, strlen(expected));
	cpulist_free(&list);
	CPU_FREE(set);
}

static void test_format_shortest_form(void **state)
{
	(void)state;
	assert_formats_as("5,0,1,2", "0-2,5");
	assert_formats_as("3", "3");
	assert_formats_as("0-7:2", "0,2,4,6");
	assert_formats_as("0-3,2-5", "0-5");
	assert_formats_as("8191", "8191");
	assert_formats_as("0-8191", "0-8191");
	assert_formats_as("0,8190-8191", "0,8190-8191");
	assert_formats_as("1-3,5-7,9", "1-3,5-7,9");
}

static void test_format_empty_set(void **state)
{
	(void)state;
	cpu_set_t *set = new_set();
	char buf[8] = "junk";

	assert_int_equal(cpulist_format(set, CPULIST_SETSIZE, buf, sizeof(buf)),
			 0);
	assert_string_equal(buf, "");
	CPU_FREE(set);
}

/* Whatever the form chosen for a pair ("1-2" or "1,2"), it parses back to
 * the same set. */
static void test_format_round_trips(void **state)
{
	(void)state;
	const char *lists[] = { "1,2", "0,2-3", "0-63:3", "7,100-102,4095" };

	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		struct cpulist list = parse_ok(lists[i]), again;
		cpu_set_t *set = new_set(), *back = new_set();
		char buf[256];

		cpulist_to_set(&list, set, CPULIST_SETSIZE);
		cpulist_format(set, CPULIST_SETSIZE, buf, sizeof(buf));
		again = parse_ok(buf);
		cpulist_to_set(&again, back, CPULIST_SETSIZE);
		assert_true(CPU_EQUAL_S(CPULIST_SETSIZE, set, back));
		assert_int_equal(cpulist_count(&list), cpulist_count(&again));
		cpulist_free(&list);
		cpulist_free(&again);
		CPU_FREE(set);
		CPU_FREE(back);
	}
}

static void test_format_truncates_like_snprintf(void **state)
{
	(void)state;
	struct cpulist list = parse_ok("0-2,5");
	cpu_set_t *set = new_set();
	char buf[16];

	cpulist_to_set(&list, set, CPULIST_SETSIZE);

	/* Room for the text but not its NUL: the needed length, and a
	 * shorter text that is still terminated and a prefix. */
	for (size_t len = 1; len <= 5; len++) {
		memset(buf, 'x', sizeof(buf));
		assert_int_equal(cpulist_format(set, CPULIST_SETSIZE, buf, len),
				 5);
		assert_true(strlen(buf) < len);
		assert_memory_equal(buf, "0-2,5", strlen(buf));
		/* nothing written beyond len */
		for (size_t i = len; i < sizeof(buf); i++)
			assert_int_equal(buf[i], 'x');
	}
	assert_int_equal(cpulist_format(set, CPULIST_SETSIZE, buf, 6), 5);
	assert_string_equal(buf, "0-2,5");

	/* No buffer at all: only the length, as snprintf(NULL, 0, ...). */
	assert_int_equal(cpulist_format(set, CPULIST_SETSIZE, NULL, 0), 5);
	cpulist_free(&list);
	CPU_FREE(set);
}

static void test_format_small_set_size(void **state)
{
	(void)state;
	size_t small = CPU_ALLOC_SIZE(64);
	cpu_set_t *set = CPU_ALLOC(64);
	char buf[32];

	assert_non_null(set);
	CPU_ZERO_S(small, set);
	CPU_SET_S(62, small, set);
	CPU_SET_S(63, small, set);
	CPU_SET_S(0, small, set);
	assert_int_equal(cpulist_format(set, small, buf, sizeof(buf)),
			 strlen("0,62-63"));
	assert_string_equal(buf, "0,62-63");
	CPU_FREE(set);
}

/* ---- online CPUs ------------------------------------------------------- */

static void test_read_online_clears_and_finds_cpus(void **state)
{
	(void)state;
	cpu_set_t *set = new_set();
	long online = sysconf(_SC_NPROCESSORS_ONLN);

	CPU_SET_S(8191, CPULIST_SETSIZE, set);
	assert_int_equal(cpulist_read_online(set, CPULIST_SETSIZE), 0);
	assert_true(CPU_COUNT_S(CPULIST_SETSIZE, set) >= 1);
	if (online > 0 && online < 8191)
		assert_int_equal(CPU_COUNT_S(CPULIST_SETSIZE, set), online);
	CPU_FREE(set);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_single_cpu),
		cmocka_unit_test(test_parse_range),
		cmocka_unit_test(test_parse_list_of_items),
		cmocka_unit_test(test_parse_stride),
		cmocka_unit_test(test_parse_spaces_around_items),
		cmocka_unit_test(test_parse_overlaps_counted_once),
		cmocka_unit_test(test_parse_highest_cpu_accepted),
		cmocka_unit_test(test_parse_max_is_the_callers),
		cmocka_unit_test(test_parse_cpu_8192_too_big),
		cmocka_unit_test(test_parse_reversed_range),
		cmocka_unit_test(test_parse_not_a_number),
		cmocka_unit_test(test_parse_empty_list_or_item),
		cmocka_unit_test(test_parse_zero_stride),
		cmocka_unit_test(test_parse_bad_pointer_may_be_null),
		cmocka_unit_test(test_strerror_says_something_for_each),
		cmocka_unit_test(test_empty_list_contains_nothing),
		cmocka_unit_test(test_count_of_a_zero_only_list),
		cmocka_unit_test(test_to_set_sets_each_cpu),
		cmocka_unit_test(test_to_set_keeps_what_was_set),
		cmocka_unit_test(test_to_set_leaves_out_cpus_beyond_the_set),
		cmocka_unit_test(test_format_shortest_form),
		cmocka_unit_test(test_format_empty_set),
		cmocka_unit_test(test_format_round_trips),
		cmocka_unit_test(test_format_truncates_like_snprintf),
		cmocka_unit_test(test_format_small_set_size),
		cmocka_unit_test(test_read_online_clears_and_finds_cpus),
		cmocka_unit_test(test_parse_relative_names),
		cmocka_unit_test(test_taskset_lists_are_not_relative),
		cmocka_unit_test(test_parse_relative_errors),
		cmocka_unit_test(test_relative_names_only_in_cpu_lists),
		cmocka_unit_test(test_relative_items_have_no_number),
		cmocka_unit_test(test_format_ranges_as_written),
		cmocka_unit_test(test_resolve_on_one_to_sixteen_cpus),
		cmocka_unit_test(test_resolve_on_two_four_eight_cpus),
		cmocka_unit_test(test_resolve_counts_online_cpus),
		cmocka_unit_test(test_resolve_keeps_numbers),
		cmocka_unit_test(test_resolve_absent_items),
		cmocka_unit_test(test_resolve_small_set_size),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
