/*
 * Unit tests of config/cpulist.c: parsing CPU lists as `taskset -c` takes
 * them (with the error kinds and the `bad` pointer), membership and count,
 * filling a cpu_set_t, and formatting a set back in the shortest form.
 */
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
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
	static struct cpulist_range stale = { 1, 1, 1 };
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
	assert_int_equal(cpulist_parse("4000000000", CPULIST_MAX_INDEX, &list,
				       NULL),
			 CPULIST_OK);
	assert_true(cpulist_contains(&list, 4000000000u));
	cpulist_free(&list);
	assert_int_equal(cpulist_parse("4000000001", CPULIST_MAX_INDEX, &list,
				       NULL),
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
	parse_fails("a", CPULIST_SYNTAX, 0);
	parse_fails("1,x", CPULIST_SYNTAX, 2);
	parse_fails("-1", CPULIST_SYNTAX, 0);
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
		CPULIST_EMPTY,    CPULIST_SYNTAX,     CPULIST_REVERSED,
		CPULIST_TOO_BIG,  CPULIST_BAD_STRIDE, CPULIST_NO_MEMORY,
	};

	for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
		assert_true(strlen(cpulist_strerror(errors[i])) > 0);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(cpulist_strerror(errors[i]),
						cpulist_strerror(errors[j]));
	}
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
