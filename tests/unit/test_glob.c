/*
 * Unit tests of config/glob.c: every pattern against every text, with
 * glibc's fnmatch(3) (no flags) as the oracle, and a worst case that a
 * backtracking matcher would take exponential time over.
 */
#include <fnmatch.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "glob.h"

static const char *const patterns[] = {
	"", "*", "**", "?", "a", "a*", "*a", "a?c", "a*b*c", "*a*a*a*b",
	"[abc]", "[!abc]", "[^a]x", "[a-z]*", "[]a]", "[!]a]", "[a-]", "[-a]",
	"[z-a]", "[[:digit:]]*", "[[:alpha:]x]", "[![:space:]]", "[[:bogus:]]",
	"\\*", "a\\?b", "[\\]]", "[a\\-z]", "\\", "a\\", "[", "a[", "[a",
	"x[]", "*.so", "c_helper*.so", "python3.1?", "lib[ab].so",
	"stepper_*", "extruder*", "serialq*", "serialhdl ?cu", "*[0-9]",
	".*", "*/x", "\xc3\xa9*", "a[[", "[", "[[", "[[:", "[[:alpha",
};

static const char *const texts[] = {
	"", "a", "b", "abc", "axc", "*", "?", "a?b", "aXb", "]", "-", "x",
	"z", " ", "9lives", "aaab", "aaaaaaab", "abxbxc", "[", "a[", "[a",
	"x[]", "\\", "a\\", "c_helper.so", "c_helper_v2.so", "x-c_helper.so",
	"python3.11", "python3.9", "liba.so", "libc.so", "stepper_x",
	"extruder1", "serialq mcu", "serialhdl mcu", "stepper3", ".hidden",
	"a/x", "\xc3\xa9t\xc3\xa9", "\xff",
};

static void test_same_as_fnmatch(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(patterns) / sizeof(patterns[0]); i++)
		for (size_t j = 0; j < sizeof(texts) / sizeof(texts[0]); j++) {
			bool wanted = fnmatch(patterns[i], texts[j], 0) == 0;

			if (glob_match(patterns[i], texts[j]) != wanted)
				fail_msg("pattern '%s' text '%s': fnmatch "
					 "says %s",
					 patterns[i], texts[j],
					 wanted ? "match" : "no match");
		}
}

static void test_many_stars_take_linear_time(void **state)
{
	char pattern[64], text[4096];

	(void)state;
	/* "*a*a*...*b" against "aaaa...": exponential for a naive
	 * recursive matcher, pattern times text here. */
	for (size_t i = 0; i < 30; i++)
		memcpy(pattern + 2 * i, "*a", 2);
	memcpy(pattern + 60, "*b", 3);
	memset(text, 'a', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	assert_false(glob_match(pattern, text));
	text[sizeof(text) - 2] = 'b';
	assert_true(glob_match(pattern, text));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_same_as_fnmatch),
		cmocka_unit_test(test_many_stars_take_linear_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
