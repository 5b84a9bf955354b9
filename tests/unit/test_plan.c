/*
 * Unit tests of config/plan.c: matching threads against the rules
 * (plan_match, plan_may_match_named), spread round robin (also from many
 * threads at once), plan_resolve against fake online sets (lists cut to
 * the online CPUs with a warning, an action with none left skipped whole,
 * every one an error when strict; CPUs named from the last online one on
 * 1 to 16 CPUs) and the built-in default plan on 1, 2, 4, 8 and
 * non-contiguous CPUs. No test depends on this machine's CPUs.
 */
#include <pthread.h>
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
static cpu_set_t *online;

static int setup(void **state)
{
	(void)state;
	memset(&plan, 0, sizeof(plan));
	memset(&error, 0, sizeof(error));
	online = CPU_ALLOC(CPULIST_MAX_CPU + 1);
	if (!online)
		return -1;
	CPU_ZERO_S(CPULIST_SETSIZE, online);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	plan_free(&plan);
	CPU_FREE(online);
	return 0;
}

/* Sets online to the CPUs of a list such as "0-3". */
static void set_online(const char *text)
{
	struct cpulist list;

	CPU_ZERO_S(CPULIST_SETSIZE, online);
	assert_int_equal(cpulist_parse(text, CPULIST_MAX_CPU, &list, NULL),
			 CPULIST_OK);
	cpulist_to_set(&list, online, CPULIST_SETSIZE);
	cpulist_free(&list);
}

static void load(const char *text)
{
	if (plan_load_text(&plan, text, "test.conf", &error) != 0)
		fail_msg("config should load: %s:%d: %s", error.file,
			 error.line, error.message);
}

/* Loads text and resolves it against online CPUs (a list). */
static void load_resolved(const char *text, const char *cpus)
{
	load(text);
	set_online(cpus);
	if (plan_resolve(&plan, online, CPULIST_SETSIZE, &error) != 0)
		fail_msg("plan should resolve: %s:%d: %s", error.file,
			 error.line, error.message);
}

/* The set as a list, "" for none, "(null)" for no set. */
static const char *set_text(const cpu_set_t *set)
{
	static char text[256];

	if (!set)
		return "(null)";
	cpulist_format(set, CPULIST_SETSIZE, text, sizeof(text));
	return text;
}

/* The name of the rule matching thread, or "(none)". */
static const char *match(const char *library, const char *symbol,
			 const char *caller, const char *name,
			 unsigned long long seq)
{
	struct plan_thread thread = { library, symbol, caller, name, seq };
	const struct plan_rule *rule = plan_match(&plan, &thread);

	return rule ? rule->name : "(none)";
}

static bool may_match_named(const char *library, unsigned long long seq)
{
	struct plan_thread thread = { library, NULL, NULL, NULL, seq };

	return plan_may_match_named(&plan, &thread);
}

/* ---- patterns ----------------------------------------------------------- */

static void test_glob_as_fnmatch(void **state)
{
	(void)state;
	load("[thread helper]\nmatch_library: c_helper*.so\n"
	     "[thread py]\nmatch_library: python3.1?\n"
	     "[thread class]\nmatch_library: lib[ab].so\n");
	assert_string_equal(match("c_helper.so", NULL, NULL, NULL, 1),
			    "helper");
	assert_string_equal(match("c_helper_v2.so", NULL, NULL, NULL, 1),
			    "helper");
	assert_string_equal(match("python3.11", NULL, NULL, NULL, 1), "py");
	assert_string_equal(match("python3.9", NULL, NULL, NULL, 1), "(none)");
	assert_string_equal(match("liba.so", NULL, NULL, NULL, 1), "class");
	assert_string_equal(match("libc.so", NULL, NULL, NULL, 1), "(none)");
	/* a glob matches the whole text, not a part of it */
	assert_string_equal(match("x-c_helper.so", NULL, NULL, NULL, 1),
			    "(none)");
}

static void test_alternatives(void **state)
{
	(void)state;
	load("[thread steps]\nmatch_name: stepper_*|extruder*\n");
	assert_string_equal(match(NULL, NULL, NULL, "stepper_x", 1), "steps");
	assert_string_equal(match(NULL, NULL, NULL, "extruder1", 2), "steps");
	assert_string_equal(match(NULL, NULL, NULL, "extruder", 3), "steps");
	assert_string_equal(match(NULL, NULL, NULL, "serialq mcu", 4),
			    "(none)");
	assert_string_equal(match(NULL, NULL, NULL, "stepper", 4), "(none)");
	assert_string_equal(match(NULL, NULL, NULL, "my_extruder", 4),
			    "(none)");
}

static void test_pattern_matches_null_is_false(void **state)
{
	(void)state;
	char star[] = "*";
	char *alternatives[] = { star };
	struct plan_pattern pattern = { alternatives, 1 };
	struct plan_pattern none = { NULL, 0 };

	assert_true(plan_pattern_matches(&pattern, "anything"));
	assert_true(plan_pattern_matches(&pattern, ""));
	assert_false(plan_pattern_matches(&pattern, NULL));
	assert_false(plan_pattern_matches(&none, "anything"));
}

static void test_match_index(void **state)
{
	(void)state;
	load("[thread some]\nmatch_index: 2,4-5,10-20:5\n");
	const bool want[22] = { [2] = true,  [4] = true,  [5] = true,
				[10] = true, [15] = true, [20] = true };

	for (unsigned long seq = 0; seq <= 21; seq++)
		assert_string_equal(match(NULL, NULL, NULL, NULL, seq),
				    want[seq] ? "some" : "(none)");
	/* creation numbers beyond what a list can hold match nothing */
	assert_string_equal(match(NULL, NULL, NULL, NULL, 4294967298ull),
			    "(none)");
}

/* ---- rules -------------------------------------------------------------- */

static void test_first_match_wins(void **state)
{
	(void)state;
	load("[thread first]\nmatch_library: c_helper.so\ncpus: 1\n"
	     "[thread second]\nmatch_library: c_*\ncpus: 2\n");
	assert_string_equal(match("c_helper.so", NULL, NULL, NULL, 1), "first");
	assert_string_equal(match("c_other.so", NULL, NULL, NULL, 1), "second");
	plan_free(&plan);

	/* the same rules in the other order */
	load("[thread second]\nmatch_library: c_*\ncpus: 2\n"
	     "[thread first]\nmatch_library: c_helper.so\ncpus: 1\n");
	assert_string_equal(match("c_helper.so", NULL, NULL, NULL, 1),
			    "second");
}

static void test_name_rules_skipped_at_creation(void **state)
{
	(void)state;
	load("[thread serial]\nmatch_name: serialq*\ncpus: 3\n"
	     "[thread helper]\nmatch_library: c_helper.so\ncpus: 2\n");
	/* at creation the name is unknown: the name rule is not tried */
	assert_string_equal(match("c_helper.so", NULL, NULL, NULL, 1),
			    "helper");
	assert_string_equal(match("python3", NULL, NULL, NULL, 2), "(none)");
	/* once named it is, in file order */
	assert_string_equal(match("c_helper.so", NULL, NULL, "serialq mcu", 1),
			    "serial");
	assert_string_equal(match("c_helper.so", NULL, NULL, "stepper_x", 1),
			    "helper");
}

static void test_name_rule_after_creation_rule(void **state)
{
	(void)state;
	load("[thread helper]\nmatch_library: c_helper.so\n"
	     "[thread serial]\nmatch_name: serialq*\n");
	/* the earlier rule still wins when the thread is named */
	assert_string_equal(match("c_helper.so", NULL, NULL, "serialq mcu", 1),
			    "helper");
	assert_string_equal(match("python3", NULL, NULL, "serialq mcu", 1),
			    "serial");
}

static void test_all_given_keys_must_match(void **state)
{
	(void)state;
	load("[thread both]\nmatch_library: c_helper.so\n"
	     "match_caller: python3*\nmatch_symbol: background_thread\n"
	     "match_index: 1-3\nmatch_name: serialq*\n");
	assert_string_equal(match("c_helper.so", "background_thread",
				  "python3.11", "serialq mcu", 2),
			    "both");
	assert_string_equal(match("other.so", "background_thread", "python3.11",
				  "serialq mcu", 2),
			    "(none)");
	assert_string_equal(
		match("c_helper.so", "other", "python3.11", "serialq mcu", 2),
		"(none)");
	assert_string_equal(match("c_helper.so", "background_thread",
				  "libc.so.6", "serialq mcu", 2),
			    "(none)");
	assert_string_equal(match("c_helper.so", "background_thread",
				  "python3.11", "serialq mcu", 4),
			    "(none)");
	assert_string_equal(match("c_helper.so", "background_thread",
				  "python3.11", "stepper_x", 2),
			    "(none)");
}

static void test_rule_without_keys_matches_everything(void **state)
{
	(void)state;
	load("[thread named]\nmatch_name: x\n[thread rest]\ncpus: 1\n");
	assert_string_equal(match(NULL, NULL, NULL, NULL, 0), "rest");
	assert_string_equal(match("a", "b", "c", NULL, 7), "rest");
	assert_string_equal(match("a", "b", "c", "y", 7), "rest");
	assert_string_equal(match("a", "b", "c", "x", 7), "named");
}

static void test_null_facts_never_match_a_key(void **state)
{
	(void)state;
	load("[thread lib]\nmatch_library: *\n"
	     "[thread sym]\nmatch_symbol: *\n"
	     "[thread caller]\nmatch_caller: *\n"
	     "[thread idx]\nmatch_index: 1-4000000000\n");
	assert_string_equal(match(NULL, NULL, NULL, NULL, 0), "(none)");
	assert_string_equal(match("x", NULL, NULL, NULL, 0), "lib");
	assert_string_equal(match(NULL, "x", NULL, NULL, 0), "sym");
	assert_string_equal(match(NULL, NULL, "x", NULL, 0), "caller");
	assert_string_equal(match(NULL, NULL, NULL, NULL, 9), "idx");
	plan_free(&plan);

	load("[thread n]\nmatch_name: *\n");
	assert_string_equal(match("x", "x", "x", NULL, 1), "(none)");
	assert_string_equal(match(NULL, NULL, NULL, "", 1), "n");
}

static void test_empty_plan_matches_nothing(void **state)
{
	(void)state;
	load("[main]\ncpus: 1\n");
	assert_string_equal(match("a", "b", "c", "d", 1), "(none)");
	assert_false(may_match_named("a", 1));
}

static void test_may_match_named(void **state)
{
	(void)state;
	load("[thread helper]\nmatch_library: c_helper.so\n"
	     "[thread serial]\nmatch_library: c_helper.so\n"
	     "match_index: 1-2\nmatch_name: serialq*\n");
	assert_true(may_match_named("c_helper.so", 1));
	assert_true(may_match_named("c_helper.so", 2));
	/* its other keys rule it out */
	assert_false(may_match_named("c_helper.so", 3));
	assert_false(may_match_named("python3", 1));
	assert_false(may_match_named(NULL, 1));
	plan_free(&plan);

	/* rules without match_name never need a second look */
	load("[thread helper]\nmatch_library: c_helper.so\n[thread rest]\n");
	assert_false(may_match_named("c_helper.so", 1));
	assert_false(may_match_named("x", 1));
	plan_free(&plan);

	load("[thread any named]\nmatch_name: *\n");
	assert_true(may_match_named(NULL, 1));
}

/* ---- spread ------------------------------------------------------------- */

static void test_spread_round_robin(void **state)
{
	(void)state;
	load_resolved("[thread steps]\nspread: 0-1\n", "0-3");
	struct plan_action *action = &plan.rules[0].action;

	assert_string_equal(set_text(action->set), "0-1");
	for (int i = 0; i < 6; i++)
		assert_int_equal(plan_action_next_cpu(action), i % 2);
}

/* A creation that failed gives its turn back; one taken since stays. */
static void test_spread_turn_given_back(void **state)
{
	(void)state;
	load_resolved("[thread steps]\nspread: 0-2\n", "0-3");
	struct plan_action *action = &plan.rules[0].action;
	unsigned long first, second, third;

	assert_int_equal(plan_action_take_turn(action, &first), 0);
	plan_action_give_back_turn(action, first);
	assert_int_equal(plan_action_take_turn(action, &first), 0);
	assert_int_equal(plan_action_take_turn(action, &second), 1);
	assert_int_equal(plan_action_take_turn(action, &third), 2);
	plan_action_give_back_turn(action, second); /* third taken since */
	assert_int_equal(plan_action_next_cpu(action), 0);
}

static void test_spread_sparse_list(void **state)
{
	(void)state;
	load_resolved("[thread steps]\nspread: 5,1,3\n", "0-7");
	struct plan_action *action = &plan.rules[0].action;
	const long want[] = { 1, 3, 5, 1, 3, 5, 1 };

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(plan_action_next_cpu(action), want[i]);
}

static void test_spread_all_uses_online_cpus(void **state)
{
	(void)state;
	load_resolved("[thread steps]\nspread: all\n", "0,2,7");
	struct plan_action *action = &plan.rules[0].action;
	const long want[] = { 0, 2, 7, 0, 2, 7 };

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(plan_action_next_cpu(action), want[i]);
}

static void test_next_cpu_only_for_spread(void **state)
{
	(void)state;
	load("[main]\ncpus: 1\n[thread a]\ncpus: 0-1\n"
	     "[thread b]\nspread: 0-1\n");
	/* before resolving there is no set to spread over */
	assert_int_equal(plan_action_next_cpu(&plan.rules[1].action), -1);
	set_online("0-3");
	assert_int_equal(plan_resolve(&plan, online, CPULIST_SETSIZE, &error),
			 0);
	assert_int_equal(plan_action_next_cpu(&plan.main), -1);
	assert_int_equal(plan_action_next_cpu(&plan.rules[0].action), -1);
	assert_int_equal(plan_action_next_cpu(&plan.rules[1].action), 0);
}

static void test_skipped_spread_gives_no_cpu(void **state)
{
	(void)state;
	load_resolved("[thread a]\nspread: 4-5\n", "0-3");
	assert_true(plan.rules[0].action.skipped);
	assert_int_equal(plan_action_next_cpu(&plan.rules[0].action), -1);
}

#define SPREAD_THREADS 8
#define SPREAD_TURNS 20000
#define SPREAD_CPUS 4

struct spread_worker {
	struct plan_action *action;
	pthread_barrier_t *start;
	unsigned long counts[SPREAD_CPUS];
	bool bad;
};

static void *spread_worker_run(void *arg)
{
	struct spread_worker *worker = arg;

	pthread_barrier_wait(worker->start);
	for (int i = 0; i < SPREAD_TURNS; i++) {
		long cpu = plan_action_next_cpu(worker->action);

		if (cpu < 0 || cpu >= SPREAD_CPUS)
			worker->bad = true;
		else
			worker->counts[cpu]++;
	}
	return NULL;
}

/* Turns are handed out atomically: from many threads at once, every CPU
 * gets exactly its share, none lost or given twice. */
static void test_spread_fair_across_threads(void **state)
{
	(void)state;
	struct spread_worker workers[SPREAD_THREADS];
	pthread_t threads[SPREAD_THREADS];
	pthread_barrier_t start;
	unsigned long total[SPREAD_CPUS] = { 0 };

	load_resolved("[thread steps]\nspread: 0-3\n", "0-7");
	assert_int_equal(pthread_barrier_init(&start, NULL, SPREAD_THREADS), 0);
	for (int i = 0; i < SPREAD_THREADS; i++) {
		memset(&workers[i], 0, sizeof(workers[i]));
		workers[i].action = &plan.rules[0].action;
		workers[i].start = &start;
		assert_int_equal(pthread_create(&threads[i], NULL,
						spread_worker_run, &workers[i]),
				 0);
	}
	for (int i = 0; i < SPREAD_THREADS; i++) {
		assert_int_equal(pthread_join(threads[i], NULL), 0);
		assert_false(workers[i].bad);
		for (int cpu = 0; cpu < SPREAD_CPUS; cpu++)
			total[cpu] += workers[i].counts[cpu];
	}
	pthread_barrier_destroy(&start);
	for (int cpu = 0; cpu < SPREAD_CPUS; cpu++)
		assert_int_equal(total[cpu],
				 SPREAD_THREADS * SPREAD_TURNS / SPREAD_CPUS);
	/* and the turn goes on where the threads left it */
	assert_int_equal(plan_action_next_cpu(&plan.rules[0].action), 0);
}

/* ---- plan_resolve ------------------------------------------------------- */

static void test_resolve_online_list(void **state)
{
	(void)state;
	load_resolved("[main]\ncpus: 2\n[children]\ncpus: 0-1\n"
		      "[thread a]\ncpus: 1,3\n",
		      "0-3");
	assert_string_equal(set_text(plan.main.set), "2");
	assert_false(plan.main.skipped);
	assert_string_equal(set_text(plan.children.set), "0-1");
	assert_string_equal(set_text(plan.rules[0].action.set), "1,3");
	assert_int_equal(plan.warning_count, 0);
	assert_string_equal(set_text(plan.online), "0-3");
}

static void test_resolve_all_is_online(void **state)
{
	(void)state;
	load_resolved("[main]\ncpus: all\n", "0,2,5,7");
	assert_string_equal(set_text(plan.main.set), "0,2,5,7");
}

static void test_resolve_inherit_and_unset_place_nothing(void **state)
{
	(void)state;
	load_resolved("[main]\ncpus: inherit\n[thread a]\nnice: 5\n", "0-3");
	assert_null(plan.main.set);
	assert_false(plan.main.skipped);
	assert_null(plan.children.set);
	assert_null(plan.rules[0].action.set);
	assert_false(plan.rules[0].action.skipped);
	assert_int_equal(plan.warning_count, 0);
}

static void test_resolve_highest_cpu(void **state)
{
	(void)state;
	load_resolved("[main]\ncpus: 8191\n[thread a]\nspread: 8190-8191\n",
		      "0,8190-8191");
	assert_string_equal(set_text(plan.main.set), "8191");
	assert_int_equal(plan_action_next_cpu(&plan.rules[0].action), 8190);
	assert_int_equal(plan_action_next_cpu(&plan.rules[0].action), 8191);
}

static void test_offline_cpu_is_a_warning(void **state)
{
	(void)state;
	load_resolved("[main]\n\ncpus: 2\n[children]\ncpus: 0-1\n", "0-1");
	assert_null(plan.main.set);
	assert_true(plan.main.skipped);
	/* the other placements are kept */
	assert_string_equal(set_text(plan.children.set), "0-1");
	assert_false(plan.children.skipped);
	assert_int_equal(plan.warning_count, 1);
	const char *warning = plan.warnings[0];

	if (!strstr(warning, "test.conf:3:") || !strstr(warning, "[main]") ||
	    !strstr(warning, "CPU 2") || !strstr(warning, "not online") ||
	    !strstr(warning, "skipped"))
		fail_msg("unexpected warning '%s'", warning);
}

static void test_partly_offline_list_is_cut(void **state)
{
	(void)state;
	load_resolved("[thread serial]\nmatch_name: serialq*\ncpus: 1-3,6\n"
		      "[thread steps]\nspread: 0-1\n",
		      "0-2");
	const struct plan_action *action = &plan.rules[0].action;

	assert_string_equal(set_text(action->set), "1-2");
	assert_false(action->skipped);
	assert_true(plan_action_does_something(action));
	assert_false(plan.rules[1].action.skipped);
	assert_int_equal(plan.warning_count, 1);
	/* names the rule, the line, only the CPUs missing, and the rest */
	assert_string_equal(plan.warnings[0],
			    "test.conf:3: CPUs 3,6 in [thread serial] are not "
			    "online here (online: 0-2): placed on CPUs 1-2 "
			    "only");
}

/* spread: 0-3 on 2 CPUs spreads over those two (it used to skip all). */
static void test_spread_cut_to_online(void **state)
{
	(void)state;
	load_resolved("[thread steps]\nspread: 0-3\n", "0-1");
	struct plan_action *action = &plan.rules[0].action;

	assert_false(action->skipped);
	assert_string_equal(set_text(action->set), "0-1");
	for (int i = 0; i < 5; i++)
		assert_int_equal(plan_action_next_cpu(action), i % 2);
	assert_int_equal(plan.warning_count, 1);
	assert_string_equal(plan.warnings[0],
			    "test.conf:2: CPUs 2-3 in [thread steps] are not "
			    "online here (online: 0-1): spread over CPUs 0-1 "
			    "only");
	plan_free(&plan);

	load_resolved("[main]\ncpus: 1,3\n", "0-1");
	assert_string_equal(set_text(plan.main.set), "1");
	assert_string_equal(plan.warnings[0],
			    "test.conf:2: CPU 3 in [main] is not online here "
			    "(online: 0-1): placed on CPU 1 only");
}

/* None of its CPUs online: no placement, and no policy, priority or nice
 * either (a real-time thread floating over every CPU is worse than an
 * unplaced one); the warning says what is skipped. */
static void test_skipped_action_changes_nothing(void **state)
{
	(void)state;
	load_resolved("[thread serial]\nmatch_name: serialq*\ncpus: 3\n"
		      "policy: fifo\npriority: 10\n"
		      "[thread batch]\ncpus: 2-3\npolicy: batch\nnice: 5\n"
		      "[thread nice]\nspread: 2-3\nnice: -5\n"
		      "[thread named]\ncpus: 3\nrename: klippy-serial\n",
		      "0-1");
	const struct plan_action *serial = &plan.rules[0].action;

	assert_true(serial->skipped);
	assert_null(serial->set);
	assert_false(plan_action_does_something(serial));
	assert_false(plan_action_does_something(&plan.rules[1].action));
	assert_false(plan_action_does_something(&plan.rules[2].action));
	assert_int_equal(plan_action_next_cpu(&plan.rules[2].action), -1);
	/* rename is not about CPUs: it still names the thread */
	assert_true(plan.rules[3].action.skipped);
	assert_true(plan_action_does_something(&plan.rules[3].action));
	/* the rule still matches: no later rule is tried */
	assert_string_equal(match(NULL, NULL, NULL, "serialq mcu", 1),
			    "serial");
	assert_int_equal(plan.warning_count, 4);
	assert_string_equal(plan.warnings[0],
			    "test.conf:3: CPU 3 in [thread serial] is not "
			    "online here (online: 0-1): that placement is "
			    "skipped, and with it policy fifo priority 10");
	assert_string_equal(plan.warnings[1],
			    "test.conf:7: CPUs 2-3 in [thread batch] are not "
			    "online here (online: 0-1): that placement is "
			    "skipped, and with it policy batch and nice 5");
	assert_string_equal(plan.warnings[2],
			    "test.conf:11: CPUs 2-3 in [thread nice] are not "
			    "online here (online: 0-1): that placement is "
			    "skipped, and with it nice -5");
	assert_string_equal(plan.warnings[3],
			    "test.conf:14: CPU 3 in [thread named] is not "
			    "online here (online: 0-1): that placement is "
			    "skipped");
}

/* Strict: every list that names a CPU not online is an error of its own,
 * cut or skipped alike, each with its line. */
static void test_strict_reports_every_offline_list(void **state)
{
	(void)state;
	load("[klipper-pin]\nstrict: yes\n[main]\ncpus: 3\n"
	     "[children]\ncpus: 0-3\n[thread ok]\ncpus: 0-1\n"
	     "[thread relative]\ncpus: last-2\n"
	     "[thread also ok]\ncpus: last-1-last\n");
	set_online("0-1");
	assert_int_equal(plan_resolve(&plan, online, CPULIST_SETSIZE, &error),
			 -1);
	assert_int_equal(error.count, 3);
	assert_string_equal(error.file, "test.conf");
	assert_int_equal(error.line, 4);
	assert_string_equal(error.message,
			    "CPU 3 in [main] is not online here (online: 0-1) "
			    "and strict is on");
	assert_int_equal(error.more[0].line, 6);
	assert_string_equal(error.more[0].message,
			    "CPUs 2-3 in [children] are not online here "
			    "(online: 0-1) and strict is on");
	assert_int_equal(error.more[1].line, 10);
	assert_string_equal(error.more[1].message,
			    "last-2 in [thread relative] is not online here "
			    "(online: 0-1) and strict is on");
	assert_int_equal(plan.warning_count, 0);
}

static void test_offline_cpus_strict_is_an_error(void **state)
{
	(void)state;
	load("[klipper-pin]\nstrict: yes\n[main]\ncpus: 0\n"
	     "[thread a]\ncpus: 4\n");
	set_online("0-3");
	assert_int_equal(plan_resolve(&plan, online, CPULIST_SETSIZE, &error),
			 -1);
	assert_string_equal(error.file, "test.conf");
	assert_int_equal(error.line, 6);
	if (!strstr(error.message, "4") || !strstr(error.message, "strict") ||
	    !strstr(error.message, "not online") ||
	    !strstr(error.message, "[thread a]"))
		fail_msg("unexpected error '%s'", error.message);
}

static void test_strict_with_all_online_resolves(void **state)
{
	(void)state;
	load_resolved("[klipper-pin]\nstrict: yes\n[main]\ncpus: 0-3\n", "0-3");
	assert_string_equal(set_text(plan.main.set), "0-3");
}

static void test_resolve_again_starts_afresh(void **state)
{
	(void)state;
	load_resolved("[main]\ncpus: 3\n", "0-1");
	assert_true(plan.main.skipped);
	assert_int_equal(plan.warning_count, 1);
	set_online("0-3");
	assert_int_equal(plan_resolve(&plan, online, CPULIST_SETSIZE, &error),
			 0);
	assert_false(plan.main.skipped);
	assert_string_equal(set_text(plan.main.set), "3");
	assert_int_equal(plan.warning_count, 0);
}

static void test_resolve_with_smaller_set_size(void **state)
{
	(void)state;
	size_t small = CPU_ALLOC_SIZE(8);
	cpu_set_t *few = CPU_ALLOC(8);

	assert_non_null(few);
	CPU_ZERO_S(small, few);
	CPU_SET_S(0, small, few);
	CPU_SET_S(1, small, few);
	load("[main]\ncpus: 1\n[thread a]\ncpus: 100\n");
	assert_int_equal(plan_resolve(&plan, few, small, &error), 0);
	CPU_FREE(few);
	assert_string_equal(set_text(plan.main.set), "1");
	assert_true(plan.rules[0].action.skipped);
	assert_string_equal(set_text(plan.online), "0-1");
}

static void test_action_does_something(void **state)
{
	(void)state;
	load_resolved("[main]\ncpus: 1\n[thread nothing]\ncpus: inherit\n"
		      "[thread nice]\nnice: 1\n[thread rename]\nrename: x\n"
		      "[thread policy]\npolicy: batch\n",
		      "0-3");
	assert_true(plan_action_does_something(&plan.main));
	assert_false(plan_action_does_something(&plan.children));
	assert_false(plan_action_does_something(&plan.rules[0].action));
	assert_true(plan_action_does_something(&plan.rules[1].action));
	assert_true(plan_action_does_something(&plan.rules[2].action));
	assert_true(plan_action_does_something(&plan.rules[3].action));
}

/* ---- CPUs named from the last online one --------------------------------- */

static const char relative_config[] =
	"[main]\ncpus: last-1\n"
	"[thread serial]\nmatch_name: serialq*\ncpus: last\n"
	"policy: fifo\npriority: 10\n"
	"[thread steps]\nmatch_name: stepper_*\nspread: last-1-last\n"
	"[thread rest]\ncpus: 0-last-2\n"
	"[children]\ncpus: 0-last-2\n";

/* "0-3" for n CPUs from 0; "0" for one. */
static const char *cpus_upto(unsigned n)
{
	static char text[16];

	snprintf(text, sizeof(text), n == 1 ? "0" : "0-%u", n - 1);
	return text;
}

/* The same file on 1 to 16 CPUs: no warning but on 1 CPU. */
static void test_relative_names_on_one_to_sixteen_cpus(void **state)
{
	(void)state;
	char want[32];

	for (unsigned n = 2; n <= 16; n++) {
		load_resolved(relative_config, cpus_upto(n));
		assert_int_equal(plan.warning_count, 0);
		snprintf(want, sizeof(want), "%u", n - 2);
		assert_string_equal(set_text(plan.main.set), want);
		snprintf(want, sizeof(want), "%u", n - 1);
		assert_string_equal(set_text(plan.rules[0].action.set), want);
		assert_int_equal(plan_action_next_cpu(&plan.rules[1].action),
				 n - 2);
		assert_int_equal(plan_action_next_cpu(&plan.rules[1].action),
				 n - 1);
		assert_int_equal(plan_action_next_cpu(&plan.rules[1].action),
				 n - 2);
		snprintf(want, sizeof(want), n <= 3 ? "0" : "0-%u", n - 3);
		assert_string_equal(set_text(plan.rules[2].action.set), want);
		assert_string_equal(set_text(plan.children.set), want);
		plan_free(&plan);
	}

	/* 1 CPU: there is no last-1; the ranges shrink to CPU 0 */
	load_resolved(relative_config, "0");
	assert_true(plan.main.skipped);
	assert_null(plan.main.set);
	assert_string_equal(set_text(plan.rules[0].action.set), "0");
	assert_int_equal(plan.rules[0].action.policy, PLAN_POLICY_FIFO);
	assert_int_equal(plan_action_next_cpu(&plan.rules[1].action), 0);
	assert_int_equal(plan_action_next_cpu(&plan.rules[1].action), 0);
	assert_string_equal(set_text(plan.rules[2].action.set), "0");
	assert_string_equal(set_text(plan.children.set), "0");
	assert_int_equal(plan.warning_count, 1);
	assert_string_equal(plan.warnings[0],
			    "test.conf:2: last-1 in [main] is not online here "
			    "(online: 0): that placement is skipped");
}

/* Relative names count the online CPUs: on a gapped set too. */
static void test_relative_names_on_gapped_cpus(void **state)
{
	(void)state;
	load_resolved(relative_config, "0,2,5,7");
	assert_int_equal(plan.warning_count, 0);
	assert_string_equal(set_text(plan.main.set), "5");
	assert_string_equal(set_text(plan.rules[0].action.set), "7");
	assert_string_equal(set_text(plan.rules[1].action.set), "5,7");
	assert_string_equal(set_text(plan.rules[2].action.set), "0,2");
	plan_free(&plan);

	load_resolved("[thread a]\nspread: 0-last:2\n", "0,2,5,7");
	assert_int_equal(plan_action_next_cpu(&plan.rules[0].action), 0);
	assert_int_equal(plan_action_next_cpu(&plan.rules[0].action), 5);
	assert_int_equal(plan_action_next_cpu(&plan.rules[0].action), 0);
}

/* A relative name this machine has no CPU for is an offline CPU: the list
 * is cut, or the action skipped; named as written in the warning. */
static void test_relative_name_with_no_cpu_here(void **state)
{
	(void)state;
	load_resolved("[thread a]\ncpus: last-1,last\n"
		      "[thread b]\ncpus: 0-1,4-5,last-4\n"
		      "[thread c]\ncpus: last-5,last-4\npolicy: batch\n"
		      "[thread d]\ncpus: 5-last\n",
		      "0-3");
	assert_string_equal(set_text(plan.rules[0].action.set), "2-3");
	assert_string_equal(set_text(plan.rules[1].action.set), "0-1");
	assert_true(plan.rules[2].action.skipped);
	assert_true(plan.rules[3].action.skipped);
	assert_int_equal(plan.warning_count, 3);
	assert_string_equal(plan.warnings[0],
			    "test.conf:4: CPUs 4-5 and last-4 in [thread b] "
			    "are not online here (online: 0-3): placed on "
			    "CPUs 0-1 only");
	assert_string_equal(plan.warnings[1],
			    "test.conf:6: last-5,last-4 in [thread c] are not "
			    "online here (online: 0-3): that placement is "
			    "skipped, and with it policy batch");
	assert_string_equal(plan.warnings[2],
			    "test.conf:9: 5-last in [thread d] is not online "
			    "here (online: 0-3): that placement is skipped");
	plan_free(&plan);

	load_resolved("[thread a]\ncpus: last-1,last\n", "0");
	assert_string_equal(set_text(plan.rules[0].action.set), "0");
	assert_string_equal(plan.warnings[0],
			    "test.conf:2: last-1 in [thread a] is not online "
			    "here (online: 0): placed on CPU 0 only");
}

static void test_relative_name_strict(void **state)
{
	(void)state;
	load("[klipper-pin]\nstrict: yes\n[main]\ncpus: last-1\n"
	     "[thread a]\nspread: last-1-last\n");
	set_online("0");
	assert_int_equal(plan_resolve(&plan, online, CPULIST_SETSIZE, &error),
			 -1);
	assert_int_equal(error.count, 1);
	assert_int_equal(error.line, 4);
	assert_string_equal(error.message,
			    "last-1 in [main] is not online here (online: 0) "
			    "and strict is on");
	/* on 2 CPUs the same file is valid, strict or not */
	memset(&error, 0, sizeof(error));
	set_online("0-1");
	assert_int_equal(plan_resolve(&plan, online, CPULIST_SETSIZE, &error),
			 0);
	assert_string_equal(set_text(plan.main.set), "0");
}

/* Resolved again on other CPUs, a relative list follows them. */
static void test_relative_names_resolved_again(void **state)
{
	(void)state;
	load_resolved("[main]\ncpus: last-1\n[thread a]\nspread: 0-last\n",
		      "0-1");
	assert_string_equal(set_text(plan.main.set), "0");
	set_online("0-7");
	assert_int_equal(plan_resolve(&plan, online, CPULIST_SETSIZE, &error),
			 0);
	assert_string_equal(set_text(plan.main.set), "6");
	assert_string_equal(set_text(plan.rules[0].action.set), "0-7");
	assert_int_equal(plan.rules[0].action.spread_count, 8);
	set_online("0");
	assert_int_equal(plan_resolve(&plan, online, CPULIST_SETSIZE, &error),
			 0);
	assert_true(plan.main.skipped);
	assert_int_equal(plan.rules[0].action.spread_count, 1);
	assert_int_equal(plan.warning_count, 1);
}

/* Each malformed relative name is a config error naming its line and
 * saying what is wrong with it; match_index takes numbers only. */
static void test_relative_name_errors_in_a_config(void **state)
{
	(void)state;
	static const struct {
		const char *value;
		enum cpulist_error kind;
	} cases[] = {
		{ "first", CPULIST_NAME },
		{ "Last-1", CPULIST_NAME },
		{ "last1", CPULIST_NAME },
		{ "-1", CPULIST_NEGATIVE },
		{ "0--1", CPULIST_NEGATIVE },
		{ "last-8192", CPULIST_TOO_FAR },
		{ "last-last-1", CPULIST_REVERSED },
		{ "last-", CPULIST_SYNTAX },
	};
	char text[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(text, sizeof(text),
			 "[main]\ncpus: 0\n[thread a]\n"
			 "spread: %s\n",
			 cases[i].value);
		memset(&error, 0, sizeof(error));
		assert_int_equal(
			plan_load_text(&plan, text, "test.conf", &error), -1);
		assert_int_equal(error.count, 1);
		assert_int_equal(error.line, 4);
		if (!strstr(error.message, cases[i].value) ||
		    !strstr(error.message, cpulist_strerror(cases[i].kind)))
			fail_msg("'%s': unexpected error '%s'", cases[i].value,
				 error.message);
		plan_free(&plan);
	}
	memset(&error, 0, sizeof(error));
	assert_int_equal(plan_load_text(&plan,
					"[thread a]\nmatch_index: last\n",
					"test.conf", &error),
			 -1);
	assert_int_equal(error.line, 2);
	if (!strstr(error.message, "match_index") ||
	    !strstr(error.message, cpulist_strerror(CPULIST_SYNTAX)))
		fail_msg("unexpected error '%s'", error.message);
}

/* ---- the built-in default plan ------------------------------------------ */

/* Loads the default plan for the online list; checks main, the one rule
 * for every created thread, and children. */
static void assert_default(const char *cpus, const char *main_cpus,
			   const char *thread_cpus, const char *child_cpus)
{
	set_online(cpus);
	assert_int_equal(plan_load_default(&plan, online, CPULIST_SETSIZE), 0);
	assert_null(plan.source);
	assert_int_equal(plan.log, PLAN_LOG_STDERR);
	assert_int_equal(plan.warning_count, 0);
	assert_string_equal(set_text(plan.main.set), main_cpus);
	assert_string_equal(set_text(plan.children.set), child_cpus);
	assert_int_equal(plan.rule_count, 1);
	assert_string_equal(set_text(plan.rules[0].action.set), thread_cpus);
	assert_false(plan.rules[0].action.spread);
	assert_int_equal(plan.main.policy, PLAN_POLICY_UNSET);
	assert_int_equal(plan.rules[0].action.policy, PLAN_POLICY_UNSET);
	assert_int_equal(plan.children.policy, PLAN_POLICY_UNSET);

	/* every thread, at creation and once named */
	assert_string_equal(match(NULL, NULL, NULL, NULL, 1),
			    plan.rules[0].name);
	assert_string_equal(
		match("c_helper.so", "f", "python3", "serialq mcu", 99),
		plan.rules[0].name);
	assert_false(may_match_named("c_helper.so", 1));
	plan_free(&plan);
}

static void test_default_one_cpu(void **state)
{
	(void)state;
	assert_default("0", "0", "0", "0");
}

static void test_default_two_cpus(void **state)
{
	(void)state;
	/* no CPU is left for children: they get all of them */
	assert_default("0-1", "0", "1", "0-1");
}

static void test_default_three_cpus(void **state)
{
	(void)state;
	assert_default("0-2", "1", "2", "0");
}

static void test_default_four_cpus(void **state)
{
	(void)state;
	/* a Raspberry Pi 4: main 2, helpers 3, children 0-1 */
	assert_default("0-3", "2", "3", "0-1");
}

static void test_default_eight_cpus(void **state)
{
	(void)state;
	assert_default("0-7", "6", "7", "0-5");
}

static void test_default_non_contiguous(void **state)
{
	(void)state;
	assert_default("0,2,5,7", "5", "7", "0,2");
	assert_default("4,9-12", "11", "12", "4,9-10");
	assert_default("1-3", "2", "3", "1");
	assert_default("3,6", "3", "6", "3,6");
	assert_default("5", "5", "5", "5");
}

static void test_default_many_cpus(void **state)
{
	(void)state;
	assert_default("0-8191", "8190", "8191", "0-8189");
	assert_default("0-15:2", "12", "14", "0,2,4,6,8,10");

	/* Too many to compare as text: 4096 CPUs, every other one. */
	set_online("0-8191:2");
	assert_int_equal(plan_load_default(&plan, online, CPULIST_SETSIZE), 0);
	assert_string_equal(set_text(plan.main.set), "8188");
	assert_string_equal(set_text(plan.rules[0].action.set), "8190");
	assert_int_equal(CPU_COUNT_S(CPULIST_SETSIZE, plan.children.set), 4094);
	for (unsigned cpu = 0; cpu <= 8186; cpu++)
		assert_int_equal(CPU_ISSET_S(cpu, CPULIST_SETSIZE,
					     plan.children.set) != 0,
				 cpu % 2 == 0);
	assert_false(CPU_ISSET_S(8188, CPULIST_SETSIZE, plan.children.set));
}

static void test_default_no_cpus_fails(void **state)
{
	(void)state;
	CPU_ZERO_S(CPULIST_SETSIZE, online);
	assert_int_equal(plan_load_default(&plan, online, CPULIST_SETSIZE), -1);
	assert_int_equal(plan.rule_count, 0);
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_glob_as_fnmatch),
		T(test_alternatives),
		T(test_pattern_matches_null_is_false),
		T(test_match_index),
		T(test_first_match_wins),
		T(test_name_rules_skipped_at_creation),
		T(test_name_rule_after_creation_rule),
		T(test_all_given_keys_must_match),
		T(test_rule_without_keys_matches_everything),
		T(test_null_facts_never_match_a_key),
		T(test_empty_plan_matches_nothing),
		T(test_may_match_named),
		T(test_spread_round_robin),
		T(test_spread_turn_given_back),
		T(test_spread_sparse_list),
		T(test_spread_all_uses_online_cpus),
		T(test_next_cpu_only_for_spread),
		T(test_skipped_spread_gives_no_cpu),
		T(test_spread_fair_across_threads),
		T(test_resolve_online_list),
		T(test_resolve_all_is_online),
		T(test_resolve_inherit_and_unset_place_nothing),
		T(test_resolve_highest_cpu),
		T(test_offline_cpu_is_a_warning),
		T(test_partly_offline_list_is_cut),
		T(test_spread_cut_to_online),
		T(test_skipped_action_changes_nothing),
		T(test_strict_reports_every_offline_list),
		T(test_offline_cpus_strict_is_an_error),
		T(test_strict_with_all_online_resolves),
		T(test_resolve_again_starts_afresh),
		T(test_resolve_with_smaller_set_size),
		T(test_action_does_something),
		T(test_relative_names_on_one_to_sixteen_cpus),
		T(test_relative_names_on_gapped_cpus),
		T(test_relative_name_with_no_cpu_here),
		T(test_relative_name_strict),
		T(test_relative_names_resolved_again),
		T(test_relative_name_errors_in_a_config),
		T(test_default_one_cpu),
		T(test_default_two_cpus),
		T(test_default_three_cpus),
		T(test_default_four_cpus),
		T(test_default_eight_cpus),
		T(test_default_non_contiguous),
		T(test_default_many_cpus),
		T(test_default_no_cpus_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
