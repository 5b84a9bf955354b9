/*
 * The shipped config/klipper-pin.conf, resolved as on a 4-core Pi (CPUs
 * 0-3 online), against each of klippy's threads as the SPEC's table lists
 * them: on current Klipper, which names its threads, and on older Klipper,
 * which names none. Each thread must land where the config's comments say.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "plan.h"

#define SHIPPED "config/klipper-pin.conf"

static struct plan plan;

static int setup(void **state)
{
	struct plan_error error;
	cpu_set_t *online = CPU_ALLOC(CPULIST_MAX_CPU + 1);

	(void)state;
	CPU_ZERO_S(CPULIST_SETSIZE, online);
	for (int cpu = 0; cpu < 4; cpu++)
		CPU_SET_S(cpu, CPULIST_SETSIZE, online);
	if (plan_load_file(&plan, SHIPPED, &error) ||
	    plan_resolve(&plan, online, CPULIST_SETSIZE, &error)) {
		CPU_FREE(online);
		print_error("%s:%d: %s\n", error.file, error.line, error.message);
		return -1;
	}
	CPU_FREE(online);
	return 0;
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

static void test_valid_on_four_cpus_without_warnings(void **state)
{
	(void)state;
	assert_int_equal(plan.warning_count, 0);
	assert_string_equal(cpus_of(&plan.main), "2");
	assert_string_equal(cpus_of(&plan.children), "0-1");
}

/* serialq <mcu>: created in c_helper.so, then names itself. */
static void test_serial_thread_current_klipper(void **state)
{
	struct plan_thread thread = {
		.library = "c_helper.so", .caller = "c_helper.so", .seq = 3,
	};
	const struct plan_rule *rule;

	(void)state;
	rule = expect_rule(&thread, "chelper", "3");
	assert_int_equal(rule->action.policy, PLAN_POLICY_FIFO);
	thread.name = "serialq mcu";
	rule = expect_rule(&thread, "serial", "3");
	assert_int_equal(rule->action.policy, PLAN_POLICY_FIFO);
	assert_int_equal(rule->action.priority, 10);
	thread.name = "serialq toolhead";
	expect_rule(&thread, "serial", "3");
}

/* Older Klipper: the same thread never names itself. */
static void test_serial_thread_older_klipper(void **state)
{
	struct plan_thread thread = {
		.library = "c_helper.so", .caller = "c_helper.so", .seq = 1,
	};
	const struct plan_rule *rule;

	(void)state;
	rule = expect_rule(&thread, "chelper", "3");
	assert_int_equal(rule->action.policy, PLAN_POLICY_FIFO);
	assert_int_equal(rule->action.priority, 10);
}

/* Step generation: c_helper.so threads named after their stepper, put
 * back to SCHED_OTHER and allowed on CPUs 2-3. */
static void test_step_threads(void **state)
{
	static const char *const names[] = {
		"stepper_x", "stepper_y", "stepper_z1", "extruder",
		"extruder1", "stepper_a",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct plan_thread thread = {
			.library = "c_helper.so", .caller = "c_helper.so",
			.seq = 10 + i, .name = names[i],
		};
		const struct plan_rule *rule =
			expect_rule(&thread, "steps", "2-3");

		assert_int_equal(rule->action.policy, PLAN_POLICY_OTHER);
	}
}

/* Python threads: serialhdl (named on current Klipper), the log writer,
 * executors; the interpreter holds their start routine. */
static void test_python_threads(void **state)
{
	struct plan_thread thread = {
		.library = "python3.11", .caller = "python3.11", .seq = 2,
	};

	(void)state;
	expect_rule(&thread, "housekeeping", "0-1");
	thread.name = "serialhdl mcu";
	expect_rule(&thread, "serial-reader", "2");
	thread.name = "python3";
	expect_rule(&thread, "housekeeping", "0-1");
	thread.library = "libpython3.9.so.1.0";
	thread.name = NULL;
	expect_rule(&thread, "housekeeping", "0-1");
}

/* Name rules go by the name alone; other Python threads never get fifo. */
static void test_name_rules_apply_to_any_library(void **state)
{
	struct plan_thread thread = {
		.library = "python3", .caller = "python3", .seq = 5,
		.name = "serialq mcu",
	};
	const struct plan_rule *rule = plan_match(&plan, &thread);

	(void)state;
	/* A Python thread named like a serial thread: the name rule wins,
	 * as the config says, by name alone. */
	assert_string_equal(rule->name, "serial");
	thread.name = "aio_executor";
	rule = plan_match(&plan, &thread);
	assert_int_not_equal(rule->action.policy, PLAN_POLICY_FIFO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_on_four_cpus_without_warnings),
		cmocka_unit_test(test_serial_thread_current_klipper),
		cmocka_unit_test(test_serial_thread_older_klipper),
		cmocka_unit_test(test_step_threads),
		cmocka_unit_test(test_python_threads),
		cmocka_unit_test(test_name_rules_apply_to_any_library),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
