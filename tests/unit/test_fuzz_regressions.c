/*
 * What the config fuzzer (tests/fuzz) found, kept as tests: the input that
 * made cpulist_format index cpu_set_t past its declared 16 words (UBSan);
 * a failed realloc taken for the end of the text (a config loaded without
 * its rest) or for a bad CPU list; and the nastiest inputs tried while
 * fuzzing, each with the exact outcome it must keep: the error's line and
 * message, or the plan it gives. The inputs are in tests/fuzz/corpus/.
 */
#include <dlfcn.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "plan.h"

static struct plan plan;
static struct plan_error error;

/*
 * realloc, interposed: the program's own definition comes before libc's.
 * Armed, it counts calls and fails the fail_at-th, as the fuzzer's
 * wrappers do. Under a sanitizer the real one is the sanitizer's (linked
 * into the program by clang, a library with gcc), never libc's behind it.
 */
static int realloc_calls, realloc_fail_at = -1;

void *realloc(void *old, size_t size)
{
	static void *(*real)(void *, size_t);

	if (realloc_fail_at >= 0 && ++realloc_calls == realloc_fail_at)
		return NULL;
	if (!real)
		*(void **)&real = dlsym(RTLD_DEFAULT, "__interceptor_realloc");
	if (!real)
		*(void **)&real = dlsym(RTLD_NEXT, "realloc");
	return real(old, size);
}

/* Loads text with its n-th realloc failing (0: counting only); returns
 * plan_load_text's result, and the calls made in *calls. */
static int load_with_realloc_failing(const char *text, int n, int *calls)
{
	int result;

	realloc_calls = 0;
	realloc_fail_at = n;
	result = plan_load_text(&plan, text, "test.conf", &error);
	realloc_fail_at = -1;
	*calls = realloc_calls;
	return result;
}

static int setup(void **state)
{
	(void)state;
	memset(&plan, 0, sizeof(plan));
	memset(&error, 0, sizeof(error));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	plan_free(&plan);
	return 0;
}

/* A set as wide as any kernel's, holding the CPUs of text. */
static cpu_set_t *set_of(const char *text)
{
	struct cpulist list;
	cpu_set_t *set = CPU_ALLOC(CPULIST_MAX_CPU + 1);

	assert_non_null(set);
	CPU_ZERO_S(CPULIST_SETSIZE, set);
	if (text[0]) {
		assert_int_equal(
			cpulist_parse(text, CPULIST_MAX_CPU, &list, NULL),
			CPULIST_OK);
		cpulist_to_set(&list, set, CPULIST_SETSIZE);
		cpulist_free(&list);
	}
	return set;
}

/* The CPUs of a set as text; "-" for none. */
static const char *text_of(const cpu_set_t *set)
{
	static char text[256];

	if (!set)
		return "-";
	cpulist_format(set, CPULIST_SETSIZE, text, sizeof(text));
	return text;
}

static void load_ok(const char *text)
{
	memset(&error, 0, sizeof(error));
	if (plan_load_text(&plan, text, "test.conf", &error) != 0)
		fail_msg("config should load, got %s:%d: %s", error.file,
			 error.line, error.message);
}

static void load_fails(const char *text, int line, const char *message)
{
	memset(&error, 0, sizeof(error));
	assert_int_equal(plan_load_text(&plan, text, "test.conf", &error), -1);
	assert_string_equal(error.file, "test.conf");
	assert_int_equal(error.line, line);
	assert_string_equal(error.message, message);
	assert_null(plan.rules);
	assert_null(plan.source);
}

static void resolve_on(const char *online_text)
{
	cpu_set_t *online = set_of(online_text);
	int result = plan_resolve(&plan, online, CPULIST_SETSIZE, &error);

	CPU_FREE(online);
	if (result)
		fail_msg("resolve failed: %s:%d: %s", error.file, error.line,
			 error.message);
}

/* ---- found by the fuzzer ------------------------------------------------- */

/*
 * The first input the fuzzer ran (crash-format-wide-set.conf) trapped in
 * UBSan: cpulist_format read set->__bits[16] and beyond, past the 1024
 * CPUs cpu_set_t declares, on the 8192-CPU sets the plan uses. Every
 * warning about a CPU not online goes through it.
 */
static void test_format_wider_than_cpu_set_t(void **state)
{
	static const char *const lists[] = {
		"8191",
		"1024",
		"1,63-64,1023-1024,8191",
		"0-8191",
	};
	char small[8];
	cpu_set_t *set;

	(void)state;
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		set = set_of(lists[i]);
		assert_string_equal(text_of(set), lists[i]);
		assert_int_equal(cpulist_format(set, CPULIST_SETSIZE, NULL, 0),
				 strlen(lists[i]));
		CPU_FREE(set);
	}
	set = set_of("");
	assert_string_equal(text_of(set), "");
	CPU_FREE(set);
	/* too small a buffer: whole items only, the whole length told */
	set = set_of("1,63-64,1023-1024,8191");
	assert_int_equal(
		cpulist_format(set, CPULIST_SETSIZE, small, sizeof(small)), 22);
	assert_string_equal(small, "1,63-64");
	CPU_FREE(set);
}

static void test_fuzzer_crash_input_warnings(void **state)
{
	(void)state;
	/* tests/fuzz/corpus/crash-format-wide-set.conf, on 1 CPU */
	load_ok("\xEF\xBB\xBF[main]\r\ncpus: 2 # c\r\n[children]\r\n"
		"cpus: 0-1\r\n");
	resolve_on("0");
	assert_int_equal(plan.warning_count, 2);
	assert_string_equal(plan.warnings[0],
			    "test.conf:2: CPU 2 in [main] is not online here "
			    "(online: 0): that placement is skipped");
	assert_string_equal(plan.warnings[1],
			    "test.conf:4: CPU 1 in [children] is not online "
			    "here (online: 0): placed on CPU 0 only");
	assert_null(plan.main.set);
	assert_true(plan.main.skipped);
	assert_string_equal(text_of(plan.children.set), "0");
	assert_false(plan.children.skipped);
}

static void test_default_plan_on_sparse_cpus(void **state)
{
	cpu_set_t *online = set_of("1,63-64,1023-1024,8191");

	(void)state;
	assert_int_equal(plan_load_default(&plan, online, CPULIST_SETSIZE), 0);
	CPU_FREE(online);
	assert_string_equal(text_of(plan.main.set), "1024");
	assert_string_equal(text_of(plan.rules[0].action.set), "8191");
	assert_string_equal(text_of(plan.children.set), "1,63-64,1023");
	assert_int_equal(plan.warning_count, 0);
}

/*
 * crash-oom-line-buffer.conf ("2"): when growing the line buffer failed,
 * the parser took it for the end of the text, and a config loaded
 * without the rest of its lines. crash-oom-cpu-list.conf: a failed
 * realloc in cpulist_parse was reported as a bad CPU list. Every realloc
 * of a load, failing, must now give "out of memory" on the line it read.
 */
static void test_failed_realloc_is_out_of_memory(void **state)
{
	/* Each realloc, in order, and the line being read: the line buffer
	 * grows, the rules grow, a CPU list's ranges grow. */
	static const struct {
		const char *text;
		int result; /* of the load with no failure */
		int calls;
		int lines[5];
	} cases[] = {
		{ "2", -1, 1, { 1 } },
		{ "[main]\ncpus: 0-8191:8191\nnice: -1\n", 0, 3, { 1, 2, 2 } },
		{ "[thread a]\nmatch_index: 1-4000000000:3\n",
		  0,
		  4,
		  { 1, 1, 2, 2 } },
		{ "[main]\n\n\ncpus: 2\n", 0, 3, { 1, 4, 4 } },
		{ "[thread a]\nmatch_name: a|b\ncpus: 1,2,3,4,5\n",
		  0,
		  5,
		  { 1, 1, 2, 3, 3 } },
	};
	int calls, upto;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *text = cases[i].text;

		assert_int_equal(load_with_realloc_failing(text, 0, &calls),
				 cases[i].result);
		plan_free(&plan);
		assert_int_equal(calls, cases[i].calls);
		for (int n = 1; n <= cases[i].calls; n++) {
			int result;

			memset(&error, 0, sizeof(error));
			result = load_with_realloc_failing(text, n, &upto);
			assert_int_equal(result, -1);
			assert_int_equal(upto, n);
			assert_string_equal(error.message, "out of memory");
			assert_int_equal(error.line, cases[i].lines[n - 1]);
			assert_null(plan.rules);
		}
	}
}

/* ---- the nastiest inputs tried ------------------------------------------- */

/* printer.cfg continues a value on an indented line; here the line is
 * read on its own, and is no key. */
static void test_indented_line_is_not_a_continuation(void **state)
{
	(void)state;
	load_fails("[thread a]\nmatch_name: a\n  b\n", 3,
		   "malformed line 'b', expected 'key: value' or a [section]");
}

static void test_empty_key(void **state)
{
	(void)state;
	load_fails("[main]\n: 2\n", 2,
		   "unknown key '' in [main], expected cpus, policy, priority "
		   "or nice");
	load_fails("[thread a]\n=\n", 2,
		   "unknown key '' in [thread a], expected match_library, "
		   "match_symbol, match_caller, match_name, match_index, cpus, "
		   "spread, rename, policy, priority or nice");
}

/* A lone CR ends no line: the header runs on into the key (and the CR is
 * shown escaped, as every byte outside printable ASCII). */
static void test_carriage_return_inside_a_line(void **state)
{
	(void)state;
	load_fails("[main]\rcpus: 1\n", 1,
		   "malformed section header '[main]\\x0dcpus: 1', expected "
		   "[klipper-pin], [main], [thread NAME] or [children]");
}

/* A byte order mark counts only at the start of the file. */
static void test_bom_after_the_first_line(void **state)
{
	(void)state;
	load_fails(
		"[main]\n\xEF\xBB\xBF"
		"cpus: 1\n",
		2,
		"unknown key '\\xef\\xbb\\xbfcpus' in [main], expected cpus, "
		"policy, priority or nice");
}

/* Debian's libinih reads 198 bytes of a line and a newline: a line of 198
 * bytes goes to it whole, one more goes by the stand-in (parse_reader);
 * either way the value comes back whole. */
static void test_line_at_libinih_limit(void **state)
{
	char text[256], value[190];

	(void)state;
	for (size_t length = 184; length < 190; length++) {
		memset(value, 'v', length);
		value[length] = '\0';
		snprintf(text, sizeof(text), "[thread a]\nmatch_name: %s\n",
			 value);
		load_ok(text);
		assert_string_equal(plan.rules[0].match_name.alternatives[0],
				    value);
		plan_free(&plan);
	}
}

static void test_stride_to_the_last_cpu(void **state)
{
	(void)state;
	load_ok("[main]\ncpus: 0-8191:8191\n");
	assert_int_equal(cpulist_count(&plan.main.cpus), 2);
	assert_true(cpulist_contains(&plan.main.cpus, 0));
	assert_true(cpulist_contains(&plan.main.cpus, 8191));
	assert_false(cpulist_contains(&plan.main.cpus, 8190));
	resolve_on("0-3");
	assert_string_equal(text_of(plan.main.set), "0");
	assert_int_equal(plan.warning_count, 1);
	assert_string_equal(plan.warnings[0],
			    "test.conf:2: CPU 8191 in [main] is not online "
			    "here (online: 0-3): placed on CPU 0 only");
	plan_free(&plan);
	load_fails("[main]\ncpus: 0-8192:8192\n", 2,
		   "bad CPU list '0-8192:8192' for 'cpus': a CPU above 8191, "
		   "the most any kernel has");
}

static void test_match_index_at_the_limit(void **state)
{
	struct plan_thread thread = { "c_helper.so", NULL, "python3", NULL,
				      4000000000ul };

	(void)state;
	load_ok("[thread last]\nmatch_index: 4000000000\ncpus: 0\n");
	assert_ptr_equal(plan_match(&plan, &thread), &plan.rules[0]);
	thread.seq = 3999999999ul;
	assert_null(plan_match(&plan, &thread));
	thread.seq = 4000000001ul;
	assert_null(plan_match(&plan, &thread));
	plan_free(&plan);
	load_fails("[thread a]\nmatch_index: 4000000001\n", 2,
		   "bad match_index '4000000001' (a number above the maximum "
		   "at '4000000001'), expected creation numbers as a list: 1, "
		   "2-4, 1,3");
}

/* strict fails on the first action, in plan order, that names a CPU not
 * online: [main] before the rules, whatever the order in the file. */
static void test_strict_fails_on_main_first(void **state)
{
	cpu_set_t *online = set_of("0");

	(void)state;
	load_ok("[klipper-pin]\nstrict: yes\n[thread a]\ncpus: 5\n"
		"[main]\ncpus: 7\n");
	assert_int_equal(plan_resolve(&plan, online, CPULIST_SETSIZE, &error),
			 -1);
	CPU_FREE(online);
	assert_string_equal(error.file, "test.conf");
	assert_int_equal(error.line, 6);
	assert_string_equal(error.message,
			    "CPU 7 in [main] is not online here (online: 0) "
			    "and strict is on");
}

static void test_spread_over_gapped_cpus(void **state)
{
	static const long turns[] = { 0, 2, 5, 7, 0, 2 };

	(void)state;
	load_ok("[thread steps]\nspread: all\n");
	resolve_on("0,2,5,7");
	assert_string_equal(text_of(plan.rules[0].action.set), "0,2,5,7");
	for (size_t i = 0; i < sizeof(turns) / sizeof(turns[0]); i++)
		assert_int_equal(plan_action_next_cpu(&plan.rules[0].action),
				 turns[i]);
	/* resolved again on fewer CPUs: the turn goes on over the new set */
	resolve_on("0");
	assert_int_equal(plan_action_next_cpu(&plan.rules[0].action), 0);
	assert_int_equal(plan_action_next_cpu(&plan.main), -1);
}

static void test_header_with_a_bracket_too_many(void **state)
{
	(void)state;
	load_fails("[main]]\ncpus: 1\n", 1,
		   "unknown section [main]] (did you mean [main]?), expected "
		   "[klipper-pin], [main], [thread NAME] or [children]");
	load_fails("[   ]\n", 1,
		   "unknown section [], expected [klipper-pin], [main], "
		   "[thread NAME] or [children]");
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_format_wider_than_cpu_set_t),
		T(test_fuzzer_crash_input_warnings),
		T(test_default_plan_on_sparse_cpus),
		T(test_failed_realloc_is_out_of_memory),
		T(test_indented_line_is_not_a_continuation),
		T(test_empty_key),
		T(test_carriage_return_inside_a_line),
		T(test_bom_after_the_first_line),
		T(test_line_at_libinih_limit),
		T(test_stride_to_the_last_cpu),
		T(test_match_index_at_the_limit),
		T(test_strict_fails_on_main_first),
		T(test_spread_over_gapped_cpus),
		T(test_header_with_a_bracket_too_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
