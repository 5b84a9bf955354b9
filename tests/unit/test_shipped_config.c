/*
 * The shipped config/klipper-pin.conf, resolved as on boards of 1, 2, 4, 8
 * and 16 CPUs (0 to n-1 online), against each of klippy's threads as the
 * SPEC's table lists them: on current Klipper, which names its threads,
 * and on older Klipper, which names none; and the demo's threads, which
 * are named the same but live in the demo's executable. Each thread must
 * land where the config's comments say, with no warning on 2 CPUs or
 * more. On 1 CPU there is no second-to-last CPU: [main] and [thread
 * serial-reader] are skipped with a warning each, all else is on CPU 0.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "plan.h"

#define SHIPPED "config/klipper-pin.conf"

/* Where each kind of thread goes on one board. */
struct board {
	unsigned cpus;	    /* online: 0 to cpus-1 */
	const char *main;   /* main thread and serial reader */
	const char *serial; /* serial threads, fifo */
	const char *steps;  /* step threads, one CPU each in turn */
	const char *rest;   /* housekeeping threads and children */
};

static const struct board boards[] = {
	{ 2, "0", "1", "0-1", "0" },
	{ 4, "2", "3", "2-3", "0-1" },
	{ 8, "6", "7", "6-7", "0-5" },
	{ 16, "14", "15", "14-15", "0-13" },
};

static struct plan plan;

/* Loads the shipped file and resolves it on CPUs 0 to cpus-1. */
static void load_on(unsigned cpus)
{
	struct plan_error error;
	cpu_set_t *online = CPU_ALLOC(CPULIST_MAX_CPU + 1);

	memset(&error, 0, sizeof(error));
	assert_non_null(online);
	CPU_ZERO_S(CPULIST_SETSIZE, online);
	for (unsigned cpu = 0; cpu < cpus; cpu++)
		CPU_SET_S(cpu, CPULIST_SETSIZE, online);
	if (plan_load_file(&plan, SHIPPED, &error) ||
	    plan_resolve(&plan, online, CPULIST_SETSIZE, &error)) {
		CPU_FREE(online);
		fail_msg("%s:%d: %s", error.file, error.line, error.message);
	}
	CPU_FREE(online);
}

static int teardown(void **state)
{
	(void)state;
	plan_free(&plan);
	return 0;
}

/* The CPUs an action places on, as text ("3", "2-3"), "inherit" if none. */
static const char *cpus_of(const struct plan_action *action)
{
	static char text[64];

	if (!action->set)
		return "inherit";
	cpulist_format(action->set, CPULIST_SETSIZE, text, sizeof(text));
	return text;
}

/* Matches a thread; checks the rule's name and where it places. */
static const struct plan_rule *expect_rule(const struct plan_thread *thread,
					   const char *rule_name,
					   const char *cpus)
{
	const struct plan_rule *rule = plan_match(&plan, thread);

	assert_non_null(rule);
	assert_string_equal(rule->name, rule_name);
	assert_string_equal(cpus_of(&rule->action), cpus);
	return rule;
}

/* serialq <mcu>: created in c_helper.so, then names itself; on older
 * Klipper it never does. Fifo 10 on the last CPU either way. */
static void expect_serial(const struct board *board)
{
	struct plan_thread thread = {
		.library = "c_helper.so",
		.caller = "c_helper.so",
		.seq = 3,
	};
	const struct plan_rule *rule;
	static const char *const names[] = { NULL, "serialq mcu",
					     "serialq toolhead" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		thread.name = names[i];
		rule = expect_rule(&thread, names[i] ? "serial" : "chelper",
				   board->serial);
		assert_int_equal(rule->action.policy, PLAN_POLICY_FIFO);
		assert_int_equal(rule->action.priority, 10);
	}
}

/* Step generation: named after its stepper, one of the main and serial
 * CPUs each in turn, back to SCHED_OTHER; in c_helper.so (klippy) or in
 * the program itself (the demo). A c_helper thread named otherwise: the
 * same two CPUs, SCHED_OTHER. */
static void expect_steps(const struct board *board)
{
	static const char *const names[] = {
		"stepper_x", "stepper_y", "stepper_z1",
		"extruder",  "extruder1", "stepper_a",
	};
	static const char *const libraries[] = { "c_helper.so", "klippy-demo" };
	const struct plan_rule *rule;

	for (size_t l = 0; l < 2; l++)
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			struct plan_thread thread = {
				.library = libraries[l],
				.caller = libraries[l],
				.seq = 10 + i,
				.name = names[i],
			};

			rule = expect_rule(&thread, "steps", board->steps);
			assert_true(rule->action.spread);
			assert_int_equal(rule->action.policy,
					 PLAN_POLICY_OTHER);
		}

	struct plan_thread other = {
		.library = "c_helper.so",
		.caller = "c_helper.so",
		.seq = 30,
		.name = "my_stepper",
	};

	rule = expect_rule(&other, "chelper-named", board->steps);
	assert_false(rule->action.spread);
	assert_int_equal(rule->action.policy, PLAN_POLICY_OTHER);
}

/* Python threads: serialhdl (named on current Klipper) beside the main
 * thread; the log writer, executors and older Klipper's unnamed readers
 * with the housekeeping. None of them real-time. */
static void expect_python(const struct board *board, const char *reader)
{
	struct plan_thread thread = {
		.library = "python3.11",
		.caller = "python3.11",
		.seq = 2,
	};
	static const char *const others[] = { "python3", "aio_executor",
					      "Thread-1" };

	expect_rule(&thread, "housekeeping", board->rest);
	thread.name = "serialhdl mcu";
	expect_rule(&thread, "serial-reader", reader);
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		thread.name = others[i];
		const struct plan_rule *rule =
			expect_rule(&thread, "housekeeping", board->rest);

		assert_int_not_equal(rule->action.policy, PLAN_POLICY_FIFO);
	}
	thread.library = "libpython3.9.so.1.0";
	thread.name = NULL;
	expect_rule(&thread, "housekeeping", board->rest);
	/* a venv's executable is "python" */
	thread.library = "python";
	expect_rule(&thread, "housekeeping", board->rest);
}

static void check_board(const struct board *board)
{
	load_on(board->cpus);
	for (size_t i = 0; i < plan.warning_count; i++)
		print_error("warning: %s\n", plan.warnings[i]);
	assert_int_equal(plan.warning_count, 0);
	assert_string_equal(cpus_of(&plan.main), board->main);
	assert_string_equal(cpus_of(&plan.children), board->rest);
	expect_serial(board);
	expect_steps(board);
	expect_python(board, board->main);
	plan_free(&plan);
}

static void test_two_cpus(void **state)
{
	(void)state;
	check_board(&boards[0]);
}

static void test_four_cpus(void **state)
{
	(void)state;
	check_board(&boards[1]);
}

static void test_eight_cpus(void **state)
{
	(void)state;
	check_board(&boards[2]);
}

static void test_sixteen_cpus(void **state)
{
	(void)state;
	check_board(&boards[3]);
}

/* The step threads take the main and serial CPUs in turn, in the order
 * they are named. */
static void test_steps_in_turn(void **state)
{
	(void)state;
	for (size_t b = 0; b < sizeof(boards) / sizeof(boards[0]); b++) {
		unsigned last = boards[b].cpus - 1;
		struct plan_thread thread = {
			.library = "c_helper.so",
			.name = "stepper_x",
		};
		const struct plan_rule *rule;

		load_on(boards[b].cpus);
		rule = plan_match(&plan, &thread);
		for (unsigned i = 0; i < 6; i++)
			assert_int_equal(
				plan_action_next_cpu(
					&plan.rules[rule - plan.rules].action),
				i % 2 ? last : last - 1);
		plan_free(&plan);
	}
}

/* 1 CPU: no second-to-last CPU. [main] and [thread serial-reader] are
 * skipped with a warning (the main thread stays where it is, CPU 0, and
 * the readers keep their creator's CPUs, CPU 0); every other rule places
 * on CPU 0, the serial threads still fifo. Strict refuses it. */
static void test_one_cpu(void **state)
{
	static const struct board one = { 1, "inherit", "0", "0", "0" };
	struct plan_thread reader = {
		.library = "python3.11",
		.name = "serialhdl mcu",
	};
	const struct plan_rule *rule;

	(void)state;
	load_on(1);
	assert_true(plan.main.skipped);
	assert_string_equal(cpus_of(&plan.main), "inherit");
	assert_string_equal(cpus_of(&plan.children), "0");
	expect_serial(&one);
	expect_steps(&one);
	expect_python(&one, "inherit");
	rule = plan_match(&plan, &reader);
	assert_true(rule->action.skipped);
	assert_false(plan_action_does_something(&rule->action));

	assert_int_equal(plan.warning_count, 2);
	if (!strstr(plan.warnings[0], "last-1 in [main] is not online here "
				      "(online: 0): that placement is skipped"))
		fail_msg("unexpected warning '%s'", plan.warnings[0]);
	if (!strstr(plan.warnings[1],
		    "last-1 in [thread serial-reader] is not online here "
		    "(online: 0): that placement is skipped"))
		fail_msg("unexpected warning '%s'", plan.warnings[1]);
	assert_int_equal(strncmp(plan.warnings[0], SHIPPED ":", 24), 0);
}

/* strict: yes on 1 CPU refuses the two lists; on 2 CPUs it is valid. */
static void test_strict_one_cpu(void **state)
{
	struct plan_error error;
	cpu_set_t *online = CPU_ALLOC(CPULIST_MAX_CPU + 1);

	(void)state;
	memset(&error, 0, sizeof(error));
	assert_non_null(online);
	assert_int_equal(plan_load_file(&plan, SHIPPED, &error), 0);
	plan.strict = true;
	CPU_ZERO_S(CPULIST_SETSIZE, online);
	CPU_SET_S(0, CPULIST_SETSIZE, online);
	assert_int_equal(plan_resolve(&plan, online, CPULIST_SETSIZE, &error),
			 -1);
	assert_int_equal(error.count, 2);
	CPU_SET_S(1, CPULIST_SETSIZE, online);
	memset(&error, 0, sizeof(error));
	assert_int_equal(plan_resolve(&plan, online, CPULIST_SETSIZE, &error),
			 0);
	CPU_FREE(online);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_two_cpus, teardown),
		cmocka_unit_test_teardown(test_four_cpus, teardown),
		cmocka_unit_test_teardown(test_eight_cpus, teardown),
		cmocka_unit_test_teardown(test_sixteen_cpus, teardown),
		cmocka_unit_test_teardown(test_steps_in_turn, teardown),
		cmocka_unit_test_teardown(test_one_cpu, teardown),
		cmocka_unit_test_teardown(test_strict_one_cpu, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
