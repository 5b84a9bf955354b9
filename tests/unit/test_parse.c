/*
 * Unit tests of config/parse.c: every key of the config file and every
 * error, with the line it names and what the message says, through
 * plan_load_text and (for reading a real file) plan_load_file. Comments,
 * long lines, CRLF line endings and a UTF-8 BOM are here too.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "plan.h"

static struct plan plan;
static struct plan_error error;

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

/* Loads text that must be valid. */
static void load_ok(const char *text)
{
	memset(&error, 0, sizeof(error));
	if (plan_load_text(&plan, text, "test.conf", &error) != 0)
		fail_msg("config should load, got %s:%d: %s\n--- config:\n%s",
			 error.file, error.line, error.message, text);
	assert_non_null(plan.source);
	assert_string_equal(plan.source, "test.conf");
}

/* Checks that error.message holds each of the NULL-ended parts. */
static void assert_message_has(const char *first, ...)
{
	va_list parts;

	va_start(parts, first);
	for (const char *part = first; part; part = va_arg(parts, const char *))
		if (!strstr(error.message, part))
			fail_msg("'%s' not in the message '%s'", part,
				 error.message);
	va_end(parts);
}

/* Loads text that must fail on line; the message must hold each part
 * given after it (NULL-ended). */
#define load_fails(text, line, ...)                                            \
	load_fails_at(__LINE__, text, line, __VA_ARGS__, (const char *)NULL)

static void load_fails_at(int at, const char *text, int line, ...)
{
	va_list parts;

	memset(&error, 0, sizeof(error));
	if (plan_load_text(&plan, text, "test.conf", &error) == 0)
		fail_msg("(test line %d) config should fail on line %d, but "
			 "loaded\n--- config:\n%s",
			 at, line, text);
	assert_string_equal(error.file, "test.conf");
	if (error.line != line)
		fail_msg("(test line %d) error on line %d, expected %d: %s", at,
			 error.line, line, error.message);
	va_start(parts, line);
	for (const char *part = va_arg(parts, const char *); part;
	     part = va_arg(parts, const char *))
		if (!strstr(error.message, part))
			fail_msg("(test line %d) '%s' not in the message '%s'",
				 at, part, error.message);
	va_end(parts);
	/* A failed load leaves the plan freed. */
	assert_null(plan.rules);
	assert_null(plan.source);
}

static const struct plan_rule *rule_named(const char *name)
{
	for (size_t i = 0; i < plan.rule_count; i++)
		if (strcmp(plan.rules[i].name, name) == 0)
			return &plan.rules[i];
	fail_msg("no rule [thread %s]", name);
	return NULL;
}

/* ---- defaults and [klipper-pin] ---------------------------------------- */

static void test_empty_file_gives_defaults(void **state)
{
	(void)state;
	load_ok("");
	assert_int_equal(plan.log, PLAN_LOG_STDERR);
	assert_int_equal(plan.log_format, PLAN_FORMAT_TEXT);
	assert_false(plan.strict);
	assert_int_equal(plan.main.cpus_kind, PLAN_CPUS_UNSET);
	assert_int_equal(plan.main.policy, PLAN_POLICY_UNSET);
	assert_int_equal(plan.children.cpus_kind, PLAN_CPUS_UNSET);
	assert_int_equal(plan.children.policy, PLAN_POLICY_UNSET);
	assert_int_equal(plan.rule_count, 0);
}

static void test_log_destinations(void **state)
{
	(void)state;
	load_ok("[klipper-pin]\nlog: syslog\n");
	assert_int_equal(plan.log, PLAN_LOG_SYSLOG);
	plan_free(&plan);
	load_ok("[klipper-pin]\nlog: none\n");
	assert_int_equal(plan.log, PLAN_LOG_NONE);
	plan_free(&plan);
	load_ok("[klipper-pin]\nlog: stderr\n");
	assert_int_equal(plan.log, PLAN_LOG_STDERR);
	plan_free(&plan);
	load_ok("[klipper-pin]\nlog: /var/log/klipper-pin.log\n");
	assert_int_equal(plan.log, PLAN_LOG_FILE);
	assert_string_equal(plan.log_path, "/var/log/klipper-pin.log");
}

static void test_log_relative_path_is_an_error(void **state)
{
	(void)state;
	load_fails("[klipper-pin]\n\nlog: klipper-pin.log\n", 3,
		   "klipper-pin.log", "log", "absolute path");
	load_fails("[klipper-pin]\nlog: Stderr\n", 2, "Stderr", "stderr");
}

static void test_log_format(void **state)
{
	(void)state;
	load_ok("[klipper-pin]\nlog_format: json\n");
	assert_int_equal(plan.log_format, PLAN_FORMAT_JSON);
	plan_free(&plan);
	load_ok("[klipper-pin]\nlog_format: text\n");
	assert_int_equal(plan.log_format, PLAN_FORMAT_TEXT);
	plan_free(&plan);
	load_fails("[klipper-pin]\nlog_format: xml\n", 2, "xml", "text",
		   "json");
}

static void test_strict(void **state)
{
	(void)state;
	load_ok("[klipper-pin]\nstrict: yes\n");
	assert_true(plan.strict);
	plan_free(&plan);
	load_ok("[klipper-pin]\nstrict: no\n");
	assert_false(plan.strict);
	plan_free(&plan);
	load_ok("[klipper-pin]\nstrict: True\n");
	assert_true(plan.strict);
	plan_free(&plan);
	load_fails("[klipper-pin]\nstrict: maybe\n", 2, "maybe", "strict",
		   "expected yes, no, true, false, on, off, 1 or 0");
}

/* Every word Klipper's config takes for a boolean, in any case. */
static void test_strict_words(void **state)
{
	static const struct {
		const char *word;
		bool strict;
	} words[] = {
		{ "yes", true },    { "no", false }, { "true", true },
		{ "false", false }, { "on", true },  { "off", false },
		{ "1", true },	    { "0", false },  { "ON", true },
		{ "False", false },
	};
	char text[64];

	(void)state;
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		snprintf(text, sizeof(text), "[klipper-pin]\nstrict: %s\n",
			 words[i].word);
		load_ok(text);
		assert_int_equal(plan.strict, words[i].strict);
		plan_free(&plan);
	}
	load_fails("[klipper-pin]\nstrict: y\n", 2, "'y'");
	load_fails("[klipper-pin]\nstrict: 2\n", 2, "'2'");
}

static void test_empty_value_is_an_error(void **state)
{
	(void)state;
	load_fails("[klipper-pin]\nlog:\n", 2, "'log'");
	load_fails("[thread a]\nmatch_name:   \n", 2, "'match_name'");
}

/* ---- [main] and [children] --------------------------------------------- */

static void test_main_section(void **state)
{
	(void)state;
	load_ok("[main]\ncpus: 2\npolicy: fifo\npriority: 50\nnice: -5\n");
	assert_int_equal(plan.main.cpus_kind, PLAN_CPUS_LIST);
	assert_false(plan.main.spread);
	assert_int_equal(plan.main.cpus_line, 2);
	assert_int_equal(cpulist_count(&plan.main.cpus), 1);
	assert_true(cpulist_contains(&plan.main.cpus, 2));
	assert_int_equal(plan.main.policy, PLAN_POLICY_FIFO);
	assert_int_equal(plan.main.priority, 50);
	assert_true(plan.main.has_nice);
	assert_int_equal(plan.main.nice, -5);
	assert_string_equal(plan.main.rename, "");
	/* resolving is left to plan_resolve */
	assert_null(plan.main.set);
}

static void test_children_section(void **state)
{
	(void)state;
	load_ok("[children]\ncpus: 0-1\nnice: 10\n");
	assert_int_equal(plan.children.cpus_kind, PLAN_CPUS_LIST);
	assert_int_equal(cpulist_count(&plan.children.cpus), 2);
	assert_true(cpulist_contains(&plan.children.cpus, 0));
	assert_true(cpulist_contains(&plan.children.cpus, 1));
	assert_int_equal(plan.children.nice, 10);
	assert_int_equal(plan.children.policy, PLAN_POLICY_UNSET);
}

static void test_equals_sign_and_spaced_header(void **state)
{
	(void)state;
	load_ok("[ main ]\ncpus = 3\n");
	assert_true(cpulist_contains(&plan.main.cpus, 3));
}

/* ---- [thread NAME] ----------------------------------------------------- */

static void test_thread_section_every_key(void **state)
{
	(void)state;
	load_ok("[thread serial]\n"
		"match_library: c_helper.so\n"
		"match_symbol: background_thread\n"
		"match_caller: python3*\n"
		"match_name: serialq*|serialhdl *\n"
		"match_index: 1,3-4\n"
		"cpus: 3\n"
		"rename: klippy-serial\n"
		"policy: rr\n"
		"priority: 10\n"
		"nice: 19\n");
	assert_int_equal(plan.rule_count, 1);
	const struct plan_rule *rule = &plan.rules[0];

	assert_string_equal(rule->name, "serial");
	assert_int_equal(rule->line, 1);
	assert_int_equal(rule->match_library.count, 1);
	assert_string_equal(rule->match_library.alternatives[0], "c_helper.so");
	assert_int_equal(rule->match_symbol.count, 1);
	assert_string_equal(rule->match_symbol.alternatives[0],
			    "background_thread");
	assert_int_equal(rule->match_caller.count, 1);
	assert_string_equal(rule->match_caller.alternatives[0], "python3*");
	assert_int_equal(rule->match_name.count, 2);
	assert_string_equal(rule->match_name.alternatives[0], "serialq*");
	assert_string_equal(rule->match_name.alternatives[1], "serialhdl *");
	assert_int_equal(cpulist_count(&rule->match_index), 3);
	assert_true(cpulist_contains(&rule->match_index, 1));
	assert_false(cpulist_contains(&rule->match_index, 2));
	assert_true(cpulist_contains(&rule->match_index, 4));
	assert_int_equal(rule->action.cpus_kind, PLAN_CPUS_LIST);
	assert_int_equal(rule->action.cpus_line, 7);
	assert_true(cpulist_contains(&rule->action.cpus, 3));
	assert_string_equal(rule->action.rename, "klippy-serial");
	assert_int_equal(rule->action.policy, PLAN_POLICY_RR);
	assert_int_equal(rule->action.priority, 10);
	assert_true(rule->action.has_nice);
	assert_int_equal(rule->action.nice, 19);
}

static void test_thread_rules_keep_file_order(void **state)
{
	(void)state;
	load_ok("[thread b]\ncpus: 1\n\n[main]\ncpus: 0\n[thread a]\n"
		"cpus: 2\n[thread my serial ]\nmatch_index: 7\n");
	assert_int_equal(plan.rule_count, 3);
	assert_string_equal(plan.rules[0].name, "b");
	assert_int_equal(plan.rules[0].line, 1);
	assert_string_equal(plan.rules[1].name, "a");
	assert_int_equal(plan.rules[1].line, 6);
	/* inner spaces kept, outer ones trimmed */
	assert_string_equal(plan.rules[2].name, "my serial");
	assert_int_equal(plan.rules[2].action.cpus_kind, PLAN_CPUS_UNSET);
}

static void test_pattern_alternatives_trimmed(void **state)
{
	(void)state;
	load_ok("[thread steps]\nmatch_name: stepper_* | extruder*|x\n");
	const struct plan_rule *rule = rule_named("steps");

	assert_int_equal(rule->match_name.count, 3);
	assert_string_equal(rule->match_name.alternatives[0], "stepper_*");
	assert_string_equal(rule->match_name.alternatives[1], "extruder*");
	assert_string_equal(rule->match_name.alternatives[2], "x");
}

static void test_empty_pattern_alternative_is_an_error(void **state)
{
	(void)state;
	load_fails("[thread a]\nmatch_name: a||b\n", 2, "match_name", "glob");
	load_fails("[thread a]\nmatch_library: a|\n", 2, "match_library");
}

static void test_match_index_zero_is_an_error(void **state)
{
	(void)state;
	load_fails("[thread a]\nmatch_index: 0\n", 2, "match_index", "1");
	load_fails("[thread a]\nmatch_index: 0-3\n", 2, "match_index");
	load_fails("[thread a]\nmatch_index: 2,x\n", 2, "match_index", "2,x");
	load_fails("[thread a]\nmatch_index: 4000000001\n", 2, "match_index");
}

static void test_match_index_large_numbers(void **state)
{
	(void)state;
	load_ok("[thread a]\nmatch_index: 100000-100002, 4000000000\n");
	assert_true(cpulist_contains(&plan.rules[0].match_index, 100001));
	assert_true(cpulist_contains(&plan.rules[0].match_index, 4000000000u));
	assert_false(cpulist_contains(&plan.rules[0].match_index, 1));
}

static void test_cpus_all_and_inherit(void **state)
{
	(void)state;
	load_ok("[thread a]\ncpus: all\n[thread b]\ncpus: inherit\n"
		"[main]\ncpus: all\n");
	assert_int_equal(rule_named("a")->action.cpus_kind, PLAN_CPUS_ALL);
	assert_int_equal(rule_named("b")->action.cpus_kind, PLAN_CPUS_INHERIT);
	assert_int_equal(plan.main.cpus_kind, PLAN_CPUS_ALL);
}

static void test_spread(void **state)
{
	(void)state;
	load_ok("[thread steps]\nspread: 0-1,3\n[thread all]\nspread: all\n");
	const struct plan_action *action = &rule_named("steps")->action;

	assert_true(action->spread);
	assert_int_equal(action->cpus_kind, PLAN_CPUS_LIST);
	assert_int_equal(action->cpus_line, 2);
	assert_int_equal(cpulist_count(&action->cpus), 3);
	assert_true(rule_named("all")->action.spread);
	assert_int_equal(rule_named("all")->action.cpus_kind, PLAN_CPUS_ALL);
}

static void test_spread_inherit_is_an_error(void **state)
{
	(void)state;
	load_fails("[thread a]\nspread: inherit\n", 2, "spread", "inherit");
}

static void test_rename(void **state)
{
	(void)state;
	/* 15 bytes: the kernel's limit, accepted whole */
	load_ok("[thread a]\nrename: abcdefghijklmno\n");
	assert_string_equal(plan.rules[0].action.rename, "abcdefghijklmno");
	plan_free(&plan);
	load_fails("[thread a]\nrename: abcdefghijklmnop\n", 2, "rename",
		   "abcdefghijklmnop", "15 bytes");
}

static void test_policies(void **state)
{
	(void)state;
	const struct {
		const char *name;
		enum plan_policy policy;
	} policies[] = {
		{ "other", PLAN_POLICY_OTHER },
		{ "batch", PLAN_POLICY_BATCH },
		{ "idle", PLAN_POLICY_IDLE },
	};

	for (size_t i = 0; i < sizeof(policies) / sizeof(policies[0]); i++) {
		char text[64];

		snprintf(text, sizeof(text), "[main]\npolicy: %s\n",
			 policies[i].name);
		load_ok(text);
		assert_int_equal(plan.main.policy, policies[i].policy);
		assert_int_equal(plan.main.priority, 0);
		plan_free(&plan);
	}
	load_ok("[children]\npolicy: fifo\npriority: 1\n");
	assert_int_equal(plan.children.policy, PLAN_POLICY_FIFO);
	assert_int_equal(plan.children.priority, 1);
	plan_free(&plan);
	load_ok("[main]\npriority: 99\npolicy: rr\n");
	assert_int_equal(plan.main.policy, PLAN_POLICY_RR);
	assert_int_equal(plan.main.priority, 99);
	plan_free(&plan);
	load_fails("[main]\npolicy: realtime\n", 2, "realtime", "policy",
		   "fifo");
}

static void test_priority_out_of_range(void **state)
{
	(void)state;
	load_fails("[main]\npolicy: fifo\npriority: 0\n", 3, "priority",
		   "1 to 99");
	load_fails("[main]\npolicy: fifo\npriority: 100\n", 3, "priority",
		   "100", "1 to 99");
	load_fails("[main]\npolicy: fifo\npriority: 5x\n", 3, "priority");
	load_fails("[main]\npolicy: fifo\npriority: -1\n", 3, "priority");
}

static void test_priority_needs_fifo_or_rr(void **state)
{
	(void)state;
	load_fails("[main]\npriority: 10\n", 2, "priority", "fifo", "rr");
	load_fails("[thread a]\ncpus: 1\npriority: 10\npolicy: other\n", 3,
		   "priority", "[thread a]", "fifo");
	/* the section's end is noticed at the next header, too */
	load_fails("[main]\npriority: 10\n\n[children]\ncpus: 0\n", 2,
		   "priority", "[main]");
}

static void test_fifo_needs_priority(void **state)
{
	(void)state;
	load_fails("[main]\ncpus: 1\npolicy: fifo\n", 3, "fifo", "priority",
		   "1-99");
	load_fails("[thread a]\npolicy: rr\n[thread b]\ncpus: 1\n", 2, "rr",
		   "priority", "[thread a]");
}

static void test_nice_range(void **state)
{
	(void)state;
	load_ok("[main]\nnice: -20\n");
	assert_int_equal(plan.main.nice, -20);
	plan_free(&plan);
	load_ok("[main]\nnice: 19\n");
	assert_int_equal(plan.main.nice, 19);
	plan_free(&plan);
	load_ok("[main]\nnice: 0\n");
	assert_true(plan.main.has_nice);
	assert_int_equal(plan.main.nice, 0);
	plan_free(&plan);
	load_fails("[main]\nnice: -21\n", 2, "nice", "-21", "-20 to 19");
	load_fails("[main]\nnice: 20\n", 2, "nice", "-20 to 19");
	load_fails("[main]\nnice: low\n", 2, "nice", "low");
}

/* ---- CPU lists in the file --------------------------------------------- */

static void test_bad_cpu_lists(void **state)
{
	(void)state;
	load_fails("[main]\ncpus: 3-1\n", 2, "'3-1'", "cpus", "expected");
	load_fails("[main]\ncpus: a\n", 2, "'a'", "cpus", "expected");
	load_fails("[main]\ncpus: 99999\n", 2, "99999", "cpus", "8191");
	load_fails("[main]\ncpus: 8192\n", 2, "8192", "8191");
	load_fails("[main]\ncpus:\n", 2, "cpus", "expected");
	load_fails("[main]\ncpus: 1,,2\n", 2, "cpus", "1,,2");
	load_fails("[thread a]\nspread: 0-7:0\n", 2, "spread", "0-7:0");
	load_fails("[children]\ncpus: -1\n", 2, "cpus");
}

static void test_highest_cpu_parses(void **state)
{
	(void)state;
	load_ok("[main]\ncpus: 8191\n");
	assert_true(cpulist_contains(&plan.main.cpus, 8191));
}

static void test_cpus_and_spread_both(void **state)
{
	(void)state;
	load_fails("[thread a]\ncpus: 1\nspread: 2-3\n", 3, "cpus", "spread",
		   "line 2");
	load_fails("[thread a]\nspread: 2-3\n# x\ncpus: 1\n", 4, "cpus",
		   "spread");
}

/* ---- sections and keys ------------------------------------------------- */

static void test_unknown_section(void **state)
{
	(void)state;
	load_fails("[main]\ncpus: 1\n[printer]\n", 3, "[printer]", "expected",
		   "[main]", "[thread NAME]");
	assert_null(strstr(error.message, "did you mean"));
}

static void test_unknown_section_near_miss(void **state)
{
	(void)state;
	load_fails("[mian]\ncpus: 1\n", 1, "[mian]", "did you mean [main]");
	load_fails("[klipper_pin]\n", 1, "did you mean [klipper-pin]");
	load_fails("[chidren]\n", 1, "did you mean [children]");
	load_fails("[threads serial]\n", 1, "[threads serial]",
		   "(did you mean [thread serial]?)");
	load_fails("[thread_serial]\n", 1, "(did you mean [thread serial]?)");
	load_fails("[thread:serial]\n", 1, "(did you mean [thread serial]?)");
	load_fails("[threadx]\n", 1, "(did you mean [thread NAME]?)");
}

/* Section names are matched exactly, as Klipper matches its own; one
 * written in capitals gets the lower-case name as its hint. */
static void test_section_names_are_lower_case(void **state)
{
	(void)state;
	load_fails("[MAIN]\ncpus: 1\n", 1,
		   "unknown section [MAIN] (did you mean [main]? section names "
		   "are lower case)");
	load_fails("[Thread Serial]\n", 1,
		   "(did you mean [thread Serial]? section names are lower "
		   "case)");
	load_fails("[Children]\n", 1, "did you mean [children]? section");
	load_fails("[KLIPPER-PIN]\n", 1, "did you mean [klipper-pin]?");
	/* a slip and capitals: no note about case */
	load_fails("[MIAN]\n", 1, "(did you mean [main]?)");
	assert_null(strstr(error.message, "lower case"));
	/* the name of a rule keeps its case */
	load_ok("[thread Serial]\ncpus: 1\n[thread serial]\ncpus: 2\n");
	assert_int_equal(plan.rule_count, 2);
}

static void test_malformed_section_header(void **state)
{
	(void)state;
	load_fails("[main\ncpus: 1\n", 1, "[main", "expected");
	load_fails("[main] cpus: 1\n", 1, "expected");
}

static void test_thread_without_name(void **state)
{
	(void)state;
	load_fails("[main]\n[thread]\ncpus: 1\n", 2, "[thread NAME]");
	load_fails("[thread   ]\n", 1, "[thread NAME]");
}

static void test_unknown_key_with_suggestion(void **state)
{
	(void)state;
	load_fails("[thread serial]\ncpu: 2\n", 2,
		   "unknown key 'cpu' in [thread serial] "
		   "(did you mean 'cpus'?)");
	load_fails("[main]\n\npolicy: fifo\npriorty: 5\n", 4, "'priorty'",
		   "did you mean 'priority'");
	/* the misspelt priority is not also reported missing */
	assert_int_equal(error.count, 1);
	load_fails("[main]\nCPU: 2\n", 2, "did you mean 'cpus'");
	load_fails("[thread a]\nmatch_nam: x\n", 2,
		   "did you mean "
		   "'match_name'");
}

static void test_unknown_key_without_suggestion(void **state)
{
	(void)state;
	load_fails("[main]\ncolour: red\n", 2, "'colour'", "[main]", "expected",
		   "cpus", "nice");
	assert_null(strstr(error.message, "did you mean"));
}

static void test_key_in_wrong_section(void **state)
{
	(void)state;
	load_fails("[main]\nlog: syslog\n", 2, "'log'", "[main]",
		   "[klipper-pin]");
	load_fails("[main]\nmatch_name: x\n", 2, "'match_name'", "[main]",
		   "[thread NAME]");
	load_fails("[children]\nrename: x\n", 2, "'rename'", "[children]");
	load_fails("[main]\nspread: 0-1\n", 2, "'spread'", "[main]");
	load_fails("[klipper-pin]\ncpus: 1\n", 2, "'cpus'", "[klipper-pin]",
		   "[main]");
}

static void test_key_before_any_section(void **state)
{
	(void)state;
	load_fails("cpus: 2\n[main]\n", 1, "'cpus'", "section");
	load_fails("# header\n\nlog: none\n", 3, "'log'", "section");
}

static void test_malformed_line(void **state)
{
	(void)state;
	load_fails("[main]\ncpus 2\n", 2, "cpus 2", "expected", "key: value");
	load_fails("[main]\ncpus: 1\n\n\njust words\n", 5, "just words");
}

static void test_duplicate_key(void **state)
{
	(void)state;
	load_fails("[main]\ncpus: 1\nnice: 1\ncpus: 2\n", 4, "duplicate",
		   "'cpus'", "[main]", "line 2");
	load_fails("[thread a]\nmatch_name: x\nmatch_name: y\n", 3, "duplicate",
		   "match_name");
	/* the same key in two sections is fine */
	load_ok("[main]\ncpus: 1\n[children]\ncpus: 2\n[thread a]\ncpus: 3\n"
		"[thread b]\ncpus: 3\n");
}

static void test_duplicate_section(void **state)
{
	(void)state;
	load_fails("[main]\ncpus: 1\n[main]\n", 3, "duplicate", "[main]");
	load_fails("[children]\n[klipper-pin]\n[children]\n", 3, "duplicate",
		   "[children]");
	load_fails("[klipper-pin]\n[klipper-pin]\n", 2, "duplicate",
		   "[klipper-pin]");
	load_fails("[thread a]\ncpus: 1\n[thread b]\n[thread a]\n", 4,
		   "duplicate", "[thread a]", "line 1");
}

/* ---- every error at once ---------------------------------------------- */

/* The error number i (0: the first) of the last load: line and message. */
static int error_line(size_t i)
{
	return i == 0 ? error.line : error.more[i - 1].line;
}

static const char *error_message(size_t i)
{
	return i == 0 ? error.message : error.more[i - 1].message;
}

/* Checks the errors of the last load: count of them, each on its line and
 * holding its part, in file order. */
#define assert_errors(...)                                                     \
	assert_errors_at(__LINE__, (const struct expected_error[]){            \
					   __VA_ARGS__, { 0, NULL } })

struct expected_error {
	int line;
	const char *part;
};

static void assert_errors_at(int at, const struct expected_error *want)
{
	size_t count = 0;

	while (want[count].part)
		count++;
	if (error.count != count)
		fail_msg("(test line %d) %zu errors, expected %zu; the first: "
			 "%d: %s",
			 at, error.count, count, error.line, error.message);
	for (size_t i = 0; i < count; i++)
		if (error_line(i) != want[i].line ||
		    !strstr(error_message(i), want[i].part))
			fail_msg("(test line %d) error %zu is %d: %s, expected "
				 "%d: ...%s...",
				 at, i + 1, error_line(i), error_message(i),
				 want[i].line, want[i].part);
}

static void load_with_errors(const char *text)
{
	memset(&error, 0, sizeof(error));
	assert_int_equal(plan_load_text(&plan, text, "test.conf", &error), -1);
	assert_string_equal(error.file, "test.conf");
	assert_null(plan.source);
	assert_null(plan.rules);
}

static void test_every_error_at_once(void **state)
{
	(void)state;
	load_with_errors("[klipper-pin]\n"   /* 1 */
			 "strict: maybe\n"   /* 2 */
			 "log_format: xml\n" /* 3 */
			 "[main]\n"	     /* 4 */
			 "priority: 10\n"    /* 5: no fifo, told at 10 */
			 "cpu: 2\n"	     /* 6 */
			 "nice: 50\n"	     /* 7 */
			 "just words\n"	     /* 8 */
			 "\n"		     /* 9 */
			 "[thread serial]\n" /* 10 */
			 "cpus: 3\n"	     /* 11 */
			 "spread: 2-3\n"     /* 12 */
			 "policy: fifo\n"    /* 13: no priority */
			 "rename: far-too-long-a-name\n" /* 14 */
			 "[thread serial]\n"		 /* 15 */
			 "match_index: 0\n" /* 16: checked all the same */
			 "[children]\n"	    /* 17 */
			 "cpus: 9000\n");   /* 18 */
	assert_errors(
		{ 2, "bad value 'maybe' for 'strict'" },
		{ 3, "bad log format 'xml'" },
		{ 5, "'priority' in [main] needs 'policy: fifo'" },
		{ 6, "unknown key 'cpu' in [main] (did you mean 'cpus'?)" },
		{ 7, "bad nice '50'" }, { 8, "malformed line 'just words'" },
		{ 12, "'cpus' and 'spread' both given" },
		{ 13, "'policy: fifo' in [thread serial] needs a 'priority'" },
		{ 14, "bad rename 'far-too-long-a-name'" },
		{ 15, "duplicate section [thread serial] (first on line 10)" },
		{ 16, "bad match_index '0'" },
		{ 18, "bad CPU list '9000' for 'cpus': a CPU above 8191" });
}

/* A line of plan_error_each's, collected. */
static void collect(void *context, const char *text)
{
	char *lines = context;

	strcat(lines, text);
	strcat(lines, "\n");
}

static void test_forty_errors_are_counted(void **state)
{
	char text[4096], lines[64 * 1024] = "";
	size_t used;

	(void)state;
	used = (size_t)sprintf(text, "[main]\n");
	for (int i = 0; i < 40; i++)
		used += (size_t)sprintf(text + used, "nice%d: 1\n", i);
	load_with_errors(text);
	assert_int_equal(error.count, 40);
	assert_true(error.count > PLAN_ERRORS_KEPT + 1);
	for (size_t i = 0; i <= PLAN_ERRORS_KEPT; i++) {
		char key[32];

		snprintf(key, sizeof(key), "'nice%zu'", i);
		assert_int_equal(error_line(i), (int)i + 2);
		assert_non_null(strstr(error_message(i), key));
	}
	plan_error_each(&error, collect, lines);
	assert_non_null(strstr(lines, "test.conf:2: unknown key 'nice0'"));
	assert_non_null(strstr(lines, "test.conf:26: unknown key 'nice24'"));
	assert_null(strstr(lines, "'nice25'"));
	assert_non_null(strstr(lines, "\n... and 15 more errors\n"));
}

/* Errors found at a section's end come in line order all the same, also
 * past the errors a plan_error keeps. */
static void test_errors_in_file_order_past_the_kept_ones(void **state)
{
	char text[4096];
	size_t used;

	(void)state;
	used = (size_t)sprintf(text, "[main]\npriority: 5\n");
	for (int i = 0; i < 30; i++)
		used += (size_t)sprintf(text + used, "colour: %d\n", i);
	load_with_errors(text);
	assert_int_equal(error.count, 31);
	assert_int_equal(error.line, 2);
	assert_message_has("'priority' in [main] needs", NULL);
	for (size_t i = 1; i <= PLAN_ERRORS_KEPT; i++)
		assert_int_equal(error_line(i), (int)i + 2);
}

/* Keys under a header that is wrong are not each an error: fixing the
 * header is the one fix. */
static void test_keys_under_a_broken_header_are_skipped(void **state)
{
	(void)state;
	load_with_errors("[mian]\ncpus: x\nbogus: 1\n"
			 "[main\nnice: 99\n"
			 "[printer]\nkinematics: corexy\n"
			 "[main]\ncpus: y\n");
	assert_errors({ 1, "unknown section [mian] (did you mean [main]?)" },
		      { 4, "malformed section header '[main'" },
		      { 6, "unknown section [printer]" },
		      { 9, "bad CPU list 'y'" });
	/* keys before any section: one error for the missing header */
	load_with_errors("cpus: 2\nnice: 1\nbogus\n[main]\nnice: 1\n");
	assert_errors({ 1, "key 'cpus' outside any section" },
		      { 3, "malformed line 'bogus'" });
}

/* A second [main] is an error, and its keys are still checked, against
 * that section alone. */
static void test_duplicate_section_keys_are_checked(void **state)
{
	(void)state;
	load_with_errors("[main]\ncpus: 1\n[main]\ncpus: 2\nnice: 99\n"
			 "[klipper-pin]\n[klipper-pin]\nlog: x\n"
			 "[thread]\npolicy: rr\n");
	assert_errors({ 3, "duplicate section [main]" }, { 5, "bad nice" },
		      { 7, "duplicate section [klipper-pin]" },
		      { 8, "bad log destination 'x'" },
		      { 9, "section [thread] needs a name" },
		      { 10, "'policy: rr' in [thread] needs a 'priority'" });
}

/* A bad policy or priority is one error, not also one about the pair. */
static void test_no_second_error_about_the_pair(void **state)
{
	(void)state;
	load_with_errors("[main]\npolicy: realtime\npriority: 10\n");
	assert_errors({ 2, "bad policy 'realtime'" });
	load_with_errors("[main]\npolicy: fifo\npriority: 100\n");
	assert_errors({ 3, "bad priority '100'" });
	load_with_errors("[main]\npolicy: fifo\npriority: 5\npriority: 6\n");
	assert_errors({ 4, "duplicate key 'priority'" });
}

/* ---- what messages echo ------------------------------------------------- */

/* True when every byte of every message kept is printable ASCII. */
static bool messages_printable(void)
{
	size_t kept = error.count < PLAN_ERRORS_KEPT + 1 ? error.count
							 : PLAN_ERRORS_KEPT + 1;

	for (size_t i = 0; i < kept; i++)
		for (const char *p = error_message(i); *p; p++)
			if (*p < 0x20 || *p > 0x7e)
				return false;
	return true;
}

static void test_control_bytes_are_escaped(void **state)
{
	(void)state;
	load_fails("[main]\n\x1b[31mcpus: 1\n", 2,
		   "unknown key '\\x1b[31mcpus' in [main]");
	load_fails("[main]\ncpus: 1\x1b]0;title\x07\n", 2,
		   "bad CPU list '1\\x1b]0", "title\\x07'");
	load_fails("[ma\x1bin]\n", 1, "unknown section [ma\\x1bin]");
	load_fails("[klipper-pin]\nlog: \x1b[2Jx\n", 2,
		   "bad log destination '\\x1b[2Jx'");
	load_fails("[thread \x9b]\npolicy: fifo\n", 2, "[thread \\x9b]");
	load_fails("[main]\nnice: \xff\xfe\n", 2, "bad nice '\\xff\\xfe'");
	load_fails("\x01\n", 1, "malformed line '\\x01'");
	/* a whole file of them: no message holds a raw byte */
	load_with_errors("[\x1b]\n[main]\n\x1b: \x1b\ncpus: \x7f\n"
			 "[thread \x1b]\n[thread \x1b]\nrename: \x1b\x1b\n"
			 "policy: \x1b\nmatch_name: a||\x1b\n");
	assert_true(error.count >= 6);
	assert_true(messages_printable());
}

static void test_comments_only_file_loads(void **state)
{
	(void)state;
	load_ok("# klipper-pin.conf\n; nothing yet\n\n   # indented\n");
	assert_int_equal(plan.rule_count, 0);
	assert_int_equal(plan.main.cpus_kind, PLAN_CPUS_UNSET);
	plan_free(&plan);
	load_ok("\n\n\n");
	plan_free(&plan);
	load_ok("\xEF\xBB\xBF");
}

/* ---- comments, line endings, BOM ---------------------------------------- */

static void test_comments(void **state)
{
	(void)state;
	load_ok("# a comment\n"
		"; another\n"
		"   # indented comment\n"
		"[main]   # the main thread\n"
		"cpus: 2   # main core\n"
		"[thread serial] ; rule\n"
		"cpus: 3\t; tab before the comment\n"
		"match_name: serialq*  #  current Klipper\n");
	assert_int_equal(cpulist_count(&plan.main.cpus), 1);
	assert_true(cpulist_contains(&plan.main.cpus, 2));
	const struct plan_rule *rule = rule_named("serial");

	assert_int_equal(cpulist_count(&rule->action.cpus), 1);
	assert_true(cpulist_contains(&rule->action.cpus, 3));
	assert_string_equal(rule->match_name.alternatives[0], "serialq*");
}

static void test_hash_inside_value_is_kept(void **state)
{
	(void)state;
	load_ok("[thread a]\nmatch_name: a#b\nrename: x;y\n"
		"[klipper-pin]\nlog: /tmp/kp#1.log\n");
	assert_string_equal(plan.rules[0].match_name.alternatives[0], "a#b");
	assert_string_equal(plan.rules[0].action.rename, "x;y");
	assert_string_equal(plan.log_path, "/tmp/kp#1.log");
}

static void test_comment_keeps_line_numbers(void **state)
{
	(void)state;
	load_fails("# 1\n; 2\n[main]\n# 4\n\ncpus: x\n", 6, "cpus");
}

static void test_crlf_line_endings(void **state)
{
	(void)state;
	load_ok("[klipper-pin]\r\nlog: /tmp/kp.log\r\n\r\n[main]\r\n"
		"cpus: 2\r\n[thread a]\r\nmatch_name: serialq*\r\n"
		"rename: x\r\n");
	assert_string_equal(plan.log_path, "/tmp/kp.log");
	assert_true(cpulist_contains(&plan.main.cpus, 2));
	assert_string_equal(plan.rules[0].name, "a");
	assert_string_equal(plan.rules[0].match_name.alternatives[0],
			    "serialq*");
	assert_string_equal(plan.rules[0].action.rename, "x");
	plan_free(&plan);
	load_fails("[main]\r\ncpus: 1\r\nnice: 50\r\n", 3, "nice");
}

static void test_utf8_bom(void **state)
{
	(void)state;
	load_ok("\xEF\xBB\xBF[main]\ncpus: 1\n");
	assert_true(cpulist_contains(&plan.main.cpus, 1));
	plan_free(&plan);
	load_ok("\xEF\xBB\xBF# comment\n[main]\ncpus: 1\n");
	plan_free(&plan);
	load_fails("\xEF\xBB\xBF[main]\ncpus: 1\ncpus: 2\n", 3, "duplicate");
}

/* ---- long lines --------------------------------------------------------- */

/* "match_name: " followed by an alternation of count-byte names. */
static char *long_match_line(size_t length)
{
	char *text = malloc(length + 64);
	size_t used;

	assert_non_null(text);
	used = (size_t)sprintf(text, "[thread a]\nmatch_name: ");
	for (size_t i = 0; i < length; i++)
		text[used++] = (char)('a' + i % 26);
	text[used++] = '\n';
	text[used] = '\0';
	return text;
}

static void test_line_under_the_limit_is_whole(void **state)
{
	(void)state;
	/* "match_name: " and 170 bytes: within libinih's 200 */
	char *text = long_match_line(170);

	load_ok(text);
	assert_int_equal(strlen(plan.rules[0].match_name.alternatives[0]), 170);
	free(text);
}

/* Lines of 10 KB and 1 MB, past libinih's 200 bytes: the value whole. */
static void test_long_lines_parse_whole(void **state)
{
	const size_t lengths[] = { 200, 250, 10 * 1024, 1024 * 1024 };

	(void)state;
	for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
		char *text = long_match_line(lengths[i]);
		const char *value;

		load_ok(text);
		assert_int_equal(plan.rules[0].match_name.count, 1);
		value = plan.rules[0].match_name.alternatives[0];
		assert_int_equal(strlen(value), lengths[i]);
		assert_memory_equal(value, strstr(text, ": ") + 2, lengths[i]);
		plan_free(&plan);
		free(text);
	}
}

/* Across libinih's limit, no value comes back shorter than written. */
static void test_no_line_length_cuts_a_value(void **state)
{
	(void)state;
	for (size_t length = 150; length < 260; length++) {
		char *text = long_match_line(length);

		load_ok(text);
		assert_int_equal(
			strlen(plan.rules[0].match_name.alternatives[0]),
			length);
		plan_free(&plan);
		free(text);
	}
}

/* A long line splits as libinih splits a short one: at the first ':' or
 * '=', the spaces around the key and the value trimmed. */
static void test_long_line_splits_as_a_short_one(void **state)
{
	static const struct {
		const char *before, *after;
	} forms[] = {
		{ "match_name :  ", ":x=y  # c\n" },
		{ "Match_Name=", ":x=y\n" },
		{ "match_name\t= \t", ":x=y ; c\n" },
	};
	char text[1024], pad[400];
	char *long_text;

	(void)state;
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		for (size_t length = 1; length < sizeof(pad); length += 398) {
			memset(pad, 'p', length);
			pad[length] = '\0';
			snprintf(text, sizeof(text), "[thread a]\n%s%s%s",
				 forms[i].before, pad, forms[i].after);
			load_ok(text);
			const char *value =
				plan.rules[0].match_name.alternatives[0];

			assert_int_equal(strlen(value), length + 4);
			assert_memory_equal(value, pad, length);
			assert_string_equal(value + length, ":x=y");
			plan_free(&plan);
		}
	}
	/* a long line with an error names its key and keeps to the point */
	long_text = long_match_line(10000);
	memcpy(strstr(long_text, "match_name"), "match_nane", 10);
	load_fails(long_text, 2, "unknown key 'match_nane'",
		   "did you mean 'match_name'");
	free(long_text);
}

/* 256 CPUs written out, as a 256-CPU machine's list: about 1 KB. */
static void test_cpu_list_of_256_cpus(void **state)
{
	char *text = malloc(4096);
	size_t used;

	(void)state;
	assert_non_null(text);
	used = (size_t)sprintf(text, "[main]\ncpus: 0");
	for (unsigned cpu = 2; cpu <= 510; cpu += 2)
		used += (size_t)sprintf(text + used, ",%u", cpu);
	strcpy(text + used, "\n[thread a]\nspread: 1");
	used += strlen(text + used);
	for (unsigned cpu = 3; cpu <= 511; cpu += 2)
		used += (size_t)sprintf(text + used, ",%u", cpu);
	strcpy(text + used, "\n");
	assert_true(strlen(text) > 1800);
	load_ok(text);
	assert_int_equal(cpulist_count(&plan.main.cpus), 256);
	assert_int_equal(cpulist_count(&plan.rules[0].action.cpus), 256);
	for (unsigned cpu = 0; cpu < 512; cpu++) {
		assert_int_equal(cpulist_contains(&plan.main.cpus, cpu),
				 cpu % 2 == 0);
		assert_int_equal(
			cpulist_contains(&plan.rules[0].action.cpus, cpu),
			cpu % 2 == 1);
	}
	free(text);
}

/* A long bad value is shown cut, so that the message still says what
 * was expected; the value itself was never cut. */
static void test_long_bad_value_is_shown_cut(void **state)
{
	char *text = malloc(20000);
	size_t used;

	(void)state;
	assert_non_null(text);
	used = (size_t)sprintf(text, "[main]\ncpus: ");
	for (unsigned i = 0; i < 2000; i++)
		used += (size_t)sprintf(text + used, "%u,", i % 8);
	strcpy(text + used, "x\n");
	load_fails(text, 2, "bad CPU list '0,1,2,3,", "...'", "at 'x'",
		   "expected CPUs as taskset -c takes them");
	free(text);
}

static void test_long_comment_is_fine(void **state)
{
	(void)state;
	char text[1024];
	int used = snprintf(text, sizeof(text), "[main]\ncpus: 2   # ");

	memset(text + used, 'c', 600);
	strcpy(text + used + 600, "\nnice: 1\n");
	load_ok(text);
	assert_int_equal(cpulist_count(&plan.main.cpus), 1);
	assert_true(cpulist_contains(&plan.main.cpus, 2));
	assert_int_equal(plan.main.nice, 1);
}

/* ---- plan_load_file ----------------------------------------------------- */

static char temp_path[64];

/* Writes length bytes of text to a new temporary file (temp_path). */
static void write_temp(const char *text, size_t length)
{
	int fd;

	snprintf(temp_path, sizeof(temp_path), "/tmp/test_parse.XXXXXX");
	fd = mkstemp(temp_path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, length), (ssize_t)length);
	close(fd);
}

static void test_load_file(void **state)
{
	(void)state;
	const char text[] = "[main]\ncpus: 2\n[thread x]\nspread: 0-1\n";

	write_temp(text, strlen(text));
	assert_int_equal(plan_load_file(&plan, temp_path, &error), 0);
	assert_string_equal(plan.source, temp_path);
	assert_true(cpulist_contains(&plan.main.cpus, 2));
	assert_true(plan.rules[0].action.spread);
	unlink(temp_path);
}

static void test_load_file_error_names_it(void **state)
{
	(void)state;
	const char text[] = "[main]\n\ncpu: 2\n";

	write_temp(text, strlen(text));
	assert_int_equal(plan_load_file(&plan, temp_path, &error), -1);
	assert_string_equal(error.file, temp_path);
	assert_int_equal(error.line, 3);
	assert_message_has("'cpu'", "did you mean 'cpus'", NULL);
	unlink(temp_path);
}

static void test_load_file_missing(void **state)
{
	(void)state;
	assert_int_equal(
		plan_load_file(&plan, "/nonexistent/klipper-pin.conf", &error),
		-1);
	assert_string_equal(error.file, "/nonexistent/klipper-pin.conf");
	assert_int_equal(error.line, 0);
	assert_message_has("cannot read", strerror(ENOENT), NULL);
	assert_null(plan.source);
}

/* Loads temp_path, which must fail for want of permission; 0 if it did. */
static int load_unreadable(void)
{
	struct plan mine = { 0 };
	struct plan_error why = { 0 };

	if (plan_load_file(&mine, temp_path, &why) != -1)
		return 1;
	if (why.line != 0 || strcmp(why.file, temp_path) != 0 ||
	    !strstr(why.message, "cannot read") ||
	    !strstr(why.message, strerror(EACCES)))
		return 2;
	return 0;
}

static void test_load_file_unreadable(void **state)
{
	(void)state;
	const char text[] = "[main]\ncpus: 2\n";
	int status;
	pid_t child;

	write_temp(text, strlen(text));
	assert_int_equal(chmod(temp_path, 0), 0);
	if (geteuid() != 0) {
		assert_int_equal(load_unreadable(), 0);
		unlink(temp_path);
		return;
	}
	/* root reads any file: try as nobody, in a child */
	child = fork();
	assert_true(child >= 0);
	if (child == 0)
		_exit(setgid(65534) || setuid(65534) ? 3 : load_unreadable());
	assert_int_equal(waitpid(child, &status, 0), child);
	unlink(temp_path);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static void test_load_file_directory(void **state)
{
	(void)state;
	/* fopen succeeds on a directory; it is told before reading */
	assert_int_equal(plan_load_file(&plan, "/tmp", &error), -1);
	assert_string_equal(error.file, "/tmp");
	assert_int_equal(error.line, 0);
	assert_int_equal(error.count, 1);
	assert_message_has("cannot read the config", "is a directory", NULL);
	assert_null(plan.source);
}

static void test_load_file_long_lines(void **state)
{
	const size_t lengths[] = { 5000, 10 * 1024, 1024 * 1024 };

	(void)state;
	for (size_t i = 0; i < sizeof(lengths) / sizeof(lengths[0]); i++) {
		char *text = long_match_line(lengths[i]);

		write_temp(text, strlen(text));
		assert_int_equal(plan_load_file(&plan, temp_path, &error), 0);
		assert_int_equal(
			strlen(plan.rules[0].match_name.alternatives[0]),
			lengths[i]);
		assert_memory_equal(plan.rules[0].match_name.alternatives[0],
				    strstr(text, ": ") + 2, lengths[i]);
		plan_free(&plan);
		unlink(temp_path);
		free(text);
	}
}

static void test_load_file_nul_byte(void **state)
{
	(void)state;
	const char text[] = "[main]\ncpus: 2\0 3\nnice: x\n";

	write_temp(text, sizeof(text) - 1);
	assert_int_equal(plan_load_file(&plan, temp_path, &error), -1);
	assert_int_equal(error.line, 2);
	assert_message_has("NUL", NULL);
	/* and reads on */
	assert_int_equal(error.count, 2);
	assert_int_equal(error.more[0].line, 3);
	assert_non_null(strstr(error.more[0].message, "bad nice 'x'"));
	unlink(temp_path);
}

static void test_load_file_crlf_and_bom(void **state)
{
	(void)state;
	const char text[] = "\xEF\xBB\xBF[main]\r\ncpus: 2 # c\r\n"
			    "[children]\r\ncpus: 0-1\r\n";

	write_temp(text, strlen(text));
	assert_int_equal(plan_load_file(&plan, temp_path, &error), 0);
	assert_int_equal(cpulist_count(&plan.main.cpus), 1);
	assert_true(cpulist_contains(&plan.main.cpus, 2));
	assert_int_equal(cpulist_count(&plan.children.cpus), 2);
	unlink(temp_path);
}

static void test_last_line_without_newline(void **state)
{
	(void)state;
	load_ok("[main]\ncpus: 5");
	assert_true(cpulist_contains(&plan.main.cpus, 5));
}

/* Klipper's config reader ignores the case of keys; so does this one. */
static void test_keys_ignore_case(void **state)
{
	(void)state;
	load_ok("[main]\nCPUS: 1\nPolicy: batch\n");
	assert_int_equal(plan.main.cpus_kind, PLAN_CPUS_LIST);
	assert_true(cpulist_contains(&plan.main.cpus, 1));
	assert_int_equal(plan.main.policy, PLAN_POLICY_BATCH);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_empty_file_gives_defaults),
		T(test_keys_ignore_case),
		T(test_log_destinations),
		T(test_log_relative_path_is_an_error),
		T(test_log_format),
		T(test_strict),
		T(test_strict_words),
		T(test_empty_value_is_an_error),
		T(test_main_section),
		T(test_children_section),
		T(test_equals_sign_and_spaced_header),
		T(test_thread_section_every_key),
		T(test_thread_rules_keep_file_order),
		T(test_pattern_alternatives_trimmed),
		T(test_empty_pattern_alternative_is_an_error),
		T(test_match_index_zero_is_an_error),
		T(test_match_index_large_numbers),
		T(test_cpus_all_and_inherit),
		T(test_spread),
		T(test_spread_inherit_is_an_error),
		T(test_rename),
		T(test_policies),
		T(test_priority_out_of_range),
		T(test_priority_needs_fifo_or_rr),
		T(test_fifo_needs_priority),
		T(test_nice_range),
		T(test_bad_cpu_lists),
		T(test_highest_cpu_parses),
		T(test_cpus_and_spread_both),
		T(test_unknown_section),
		T(test_unknown_section_near_miss),
		T(test_section_names_are_lower_case),
		T(test_malformed_section_header),
		T(test_thread_without_name),
		T(test_unknown_key_with_suggestion),
		T(test_unknown_key_without_suggestion),
		T(test_key_in_wrong_section),
		T(test_key_before_any_section),
		T(test_malformed_line),
		T(test_duplicate_key),
		T(test_duplicate_section),
		T(test_every_error_at_once),
		T(test_forty_errors_are_counted),
		T(test_errors_in_file_order_past_the_kept_ones),
		T(test_keys_under_a_broken_header_are_skipped),
		T(test_duplicate_section_keys_are_checked),
		T(test_no_second_error_about_the_pair),
		T(test_control_bytes_are_escaped),
		T(test_comments_only_file_loads),
		T(test_comments),
		T(test_hash_inside_value_is_kept),
		T(test_comment_keeps_line_numbers),
		T(test_crlf_line_endings),
		T(test_utf8_bom),
		T(test_line_under_the_limit_is_whole),
		T(test_long_lines_parse_whole),
		T(test_no_line_length_cuts_a_value),
		T(test_long_line_splits_as_a_short_one),
		T(test_cpu_list_of_256_cpus),
		T(test_long_bad_value_is_shown_cut),
		T(test_long_comment_is_fine),
		T(test_load_file),
		T(test_load_file_error_names_it),
		T(test_load_file_missing),
		T(test_load_file_unreadable),
		T(test_load_file_directory),
		T(test_load_file_long_lines),
		T(test_load_file_nul_byte),
		T(test_load_file_crlf_and_bom),
		T(test_last_line_without_newline),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
