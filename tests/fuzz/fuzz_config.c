/*
 * libFuzzer target for the config module: the bytes as a config file,
 * loaded from memory (plan_load_text) and from a file (plan_load_file on a
 * memfd), which must agree, on the plan or on every error in the same
 * order (each in file order, on a line of the input, in printable ASCII
 * whatever bytes it quotes); on success resolved against a few fake sets of
 * online CPUs, matched against a handful of threads, spread and freed. A
 * short input is also tried as a CPU list, which formatted and parsed back
 * must give the same set, and as the online CPUs of the built-in plan. Each
 * load and resolve is done once more with one allocation failing, chosen
 * by the input: it must fail with "out of memory" as its last error (the
 * others the good load's own), leak nothing, and never give a shorter
 * plan. Any broken invariant traps, so libFuzzer keeps the
 * input as a crash. Built and run by tests/fuzz/run.
 */
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "plan.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Says which invariant broke before trapping: the crash log shows it. */
#define fuzz_check(condition)                                                  \
	do {                                                                   \
		if (!(condition)) {                                            \
			fprintf(stderr, "fuzz_config.c:%d: %s\n", __LINE__,    \
				#condition);                                   \
			__builtin_trap();                                      \
		}                                                              \
	} while (0)

#define FUZZ_LIST_MAX 256 /* inputs up to this long are tried as CPU lists */

/* ---- allocations that fail on purpose ------------------------------------ */

/*
 * tests/fuzz/run links with -Wl,--wrap for each allocator config/ calls,
 * so they come here. Armed, they count; the one numbered fail_at fails.
 */
void *__real_malloc(size_t size);
void *__real_calloc(size_t count, size_t size);
void *__real_realloc(void *old, size_t size);
char *__real_strdup(const char *text);
char *__real_strndup(const char *text, size_t size);
cpu_set_t *__real___sched_cpualloc(size_t count);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t count, size_t size);
void *__wrap_realloc(void *old, size_t size);
char *__wrap_strdup(const char *text);
char *__wrap_strndup(const char *text, size_t size);
cpu_set_t *__wrap___sched_cpualloc(size_t count);

static bool fuzz_alloc_armed;
static unsigned long fuzz_alloc_count, fuzz_alloc_fail_at;
static uint32_t fuzz_hash; /* of the input: which allocation fails */

static bool fuzz_alloc_fails(void)
{
	return fuzz_alloc_armed && ++fuzz_alloc_count == fuzz_alloc_fail_at;
}

void *__wrap_malloc(size_t size)
{
	return fuzz_alloc_fails() ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t count, size_t size)
{
	return fuzz_alloc_fails() ? NULL : __real_calloc(count, size);
}

void *__wrap_realloc(void *old, size_t size)
{
	return fuzz_alloc_fails() ? NULL : __real_realloc(old, size);
}

char *__wrap_strdup(const char *text)
{
	return fuzz_alloc_fails() ? NULL : __real_strdup(text);
}

char *__wrap_strndup(const char *text, size_t size)
{
	return fuzz_alloc_fails() ? NULL : __real_strndup(text, size);
}

cpu_set_t *__wrap___sched_cpualloc(size_t count)
{
	return fuzz_alloc_fails() ? NULL : __real___sched_cpualloc(count);
}

/* Counts allocations from now on; the fail_at-th fails (0: none). */
static void fuzz_alloc_arm(unsigned long fail_at)
{
	fuzz_alloc_count = 0;
	fuzz_alloc_fail_at = fail_at;
	fuzz_alloc_armed = true;
}

/* Stops counting; returns how many allocations were asked for. */
static unsigned long fuzz_alloc_disarm(void)
{
	fuzz_alloc_armed = false;
	return fuzz_alloc_count;
}

/* Which of count allocations to fail: any one, as the input decides;
 * salt tells apart the calls made for one input. */
static unsigned long fuzz_alloc_pick(uint32_t salt, unsigned long count)
{
	return count ? 1 + (fuzz_hash ^ salt * 0x9E3779B9u) % count : 0;
}

static bool fuzz_is_no_memory(const struct plan_error *error)
{
	return strcmp(error->message, "out of memory") == 0;
}

static cpu_set_t *fuzz_online[4];
static int fuzz_fd = -1;
static char fuzz_path[64] = "fuzz.conf";

static cpu_set_t *fuzz_set_of(const unsigned *cpus, size_t count)
{
	cpu_set_t *set = CPU_ALLOC(CPULIST_MAX_CPU + 1);

	if (!set)
		abort();
	CPU_ZERO_S(CPULIST_SETSIZE, set);
	for (size_t i = 0; i < count; i++)
		CPU_SET_S(cpus[i], CPULIST_SETSIZE, set);
	return set;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const unsigned one[] = { 0 }, four[] = { 0, 1, 2, 3 },
			      gapped[] = { 0, 2, 5, 7 },
			      sparse[] = { 1, 63, 64, 1023, 1024, 8191 };

	(void)argc;
	(void)argv;
	fuzz_online[0] = fuzz_set_of(one, 1);
	fuzz_online[1] = fuzz_set_of(four, 4);
	fuzz_online[2] = fuzz_set_of(gapped, 4);
	/* across words, up to the last CPU a kernel can have */
	fuzz_online[3] = fuzz_set_of(sparse, 6);
	/* One memfd for every input, rewritten each time: reading it back
	 * through /proc opens it afresh at offset 0. */
	fuzz_fd = memfd_create("fuzz-config", MFD_CLOEXEC);
	if (fuzz_fd >= 0) {
		FILE *file;

		snprintf(fuzz_path, sizeof(fuzz_path), "/proc/self/fd/%d",
			 fuzz_fd);
		file = fopen(fuzz_path, "re");
		if (file) {
			fclose(file);
			return 0;
		}
		close(fuzz_fd);
		fuzz_fd = -1;
	}
	perror("fuzz_config: no memfd to read through /proc, plan_load_file "
	       "not fuzzed");
	return 0;
}

/* ---- invariants ---------------------------------------------------------- */

/* Error i of error (0: the first), kept when i < PLAN_ERRORS_KEPT + 1. */
static int fuzz_error_line(const struct plan_error *error, size_t i)
{
	return i == 0 ? error->line : error->more[i - 1].line;
}

static const char *fuzz_error_message(const struct plan_error *error, size_t i)
{
	return i == 0 ? error->message : error->more[i - 1].message;
}

static size_t fuzz_errors_kept(const struct plan_error *error)
{
	return error->count < PLAN_ERRORS_KEPT + 1 ? error->count
						   : PLAN_ERRORS_KEPT + 1;
}

/* A message as the launcher may print it: one line, printable ASCII only
 * (whatever bytes the config held are escaped). */
static void fuzz_check_message(const char *message, size_t size)
{
	fuzz_check(memchr(message, '\0', size));
	fuzz_check(message[0] != '\0');
	for (const char *p = message; *p; p++)
		fuzz_check(*p >= 0x20 && *p <= 0x7e);
}

static void fuzz_check_error(const struct plan_error *error, int lines)
{
	fuzz_check(memchr(error->file, '\0', sizeof(error->file)));
	fuzz_check(strcmp(error->file, fuzz_path) == 0);
	fuzz_check(error->count >= 1);
	/* Every failure of a parse is about a line of the input, and they
	 * come in file order. */
	for (size_t i = 0; i < fuzz_errors_kept(error); i++) {
		int line = fuzz_error_line(error, i);

		fuzz_check_message(fuzz_error_message(error, i),
				   sizeof(error->message));
		fuzz_check(line >= 1 && line <= lines);
		fuzz_check(i == 0 || line >= fuzz_error_line(error, i - 1));
	}
}

/* The same errors, in the same order, with the same messages. */
static bool fuzz_same_errors(const struct plan_error *a,
			     const struct plan_error *b)
{
	if (a->count != b->count)
		return false;
	for (size_t i = 0; i < fuzz_errors_kept(a); i++)
		if (fuzz_error_line(a, i) != fuzz_error_line(b, i) ||
		    strcmp(fuzz_error_message(a, i), fuzz_error_message(b, i)))
			return false;
	return true;
}

/* Lines of text as the parser counts them: "a\nb" and "a\nb\n" have 2. */
static int fuzz_count_lines(const char *text)
{
	int lines = 0;

	for (const char *p = text; *p; p++)
		if (*p == '\n' || p[1] == '\0')
			lines++;
	return lines;
}

/* A value is never cut: whatever the plan holds was written in the text. */
static void fuzz_check_written(const char *text, const char *value)
{
	fuzz_check(value && value[0]);
	fuzz_check(strstr(text, value));
}

static void fuzz_check_pattern(const char *text,
			       const struct plan_pattern *pattern)
{
	fuzz_check((pattern->count == 0) == (pattern->alternatives == NULL));
	for (size_t i = 0; i < pattern->count; i++)
		fuzz_check_written(text, pattern->alternatives[i]);
}

static void fuzz_check_list(const struct cpulist *list, unsigned max)
{
	fuzz_check((list->count == 0) == (list->ranges == NULL));
	for (size_t i = 0; i < list->count; i++) {
		const struct cpulist_range *r = &list->ranges[i];

		/* Counts back from the last online CPU, not numbers. */
		if (r->flags & (CPULIST_LO_LAST | CPULIST_HI_LAST)) {
			fuzz_check(max <= CPULIST_MAX_CPU);
			fuzz_check(r->lo <= max && r->hi <= max &&
				   r->stride >= 1);
			continue;
		}
		fuzz_check(r->lo <= r->hi && r->hi <= max && r->stride >= 1);
		fuzz_check(cpulist_contains(list, r->lo));
	}
}

static void fuzz_check_action(const char *text,
			      const struct plan_action *action)
{
	fuzz_check((action->cpus_kind == PLAN_CPUS_LIST) ==
		   (action->cpus.count > 0));
	fuzz_check_list(&action->cpus, CPULIST_MAX_CPU);
	fuzz_check(action->cpus_kind != PLAN_CPUS_UNSET || !action->spread);
	fuzz_check(action->cpus_kind == PLAN_CPUS_UNSET ||
		   action->cpus_line >= 1);
	fuzz_check(action->set == NULL && action->spread_cpus == NULL);
	fuzz_check(action->policy >= PLAN_POLICY_UNSET &&
		   action->policy <= PLAN_POLICY_RR);
	if (action->policy == PLAN_POLICY_FIFO ||
	    action->policy == PLAN_POLICY_RR)
		fuzz_check(action->priority >= 1 && action->priority <= 99);
	else
		fuzz_check(action->priority == 0);
	fuzz_check(action->has_nice || action->nice == 0);
	fuzz_check(action->nice >= -20 && action->nice <= 19);
	fuzz_check(memchr(action->rename, '\0', sizeof(action->rename)));
	if (action->rename[0])
		fuzz_check_written(text, action->rename);
}

/* What a plan just loaded must look like. */
static void fuzz_check_loaded(const char *text, const struct plan *plan)
{
	fuzz_check(plan->source && strcmp(plan->source, fuzz_path) == 0);
	fuzz_check((plan->log == PLAN_LOG_FILE) == (plan->log_path != NULL));
	if (plan->log_path) {
		fuzz_check(plan->log_path[0] == '/');
		fuzz_check_written(text, plan->log_path);
	}
	fuzz_check(plan->online == NULL && plan->warning_count == 0);
	fuzz_check_action(text, &plan->main);
	fuzz_check_action(text, &plan->children);
	fuzz_check(!plan->main.spread && !plan->children.spread);
	fuzz_check(!plan->main.rename[0] && !plan->children.rename[0]);
	fuzz_check((plan->rule_count == 0) == (plan->rules == NULL));
	for (size_t i = 0; i < plan->rule_count; i++) {
		const struct plan_rule *rule = &plan->rules[i];

		fuzz_check_written(text, rule->name);
		fuzz_check(rule->line >= 1);
		fuzz_check(i == 0 || rule->line > rule[-1].line);
		for (size_t j = 0; j < i; j++)
			fuzz_check(strcmp(plan->rules[j].name, rule->name));
		fuzz_check_pattern(text, &rule->match_library);
		fuzz_check_pattern(text, &rule->match_symbol);
		fuzz_check_pattern(text, &rule->match_caller);
		fuzz_check_pattern(text, &rule->match_name);
		fuzz_check_list(&rule->match_index, CPULIST_MAX_INDEX);
		fuzz_check(!cpulist_contains(&rule->match_index, 0));
		fuzz_check_action(text, &rule->action);
	}
}

/* ---- text and file must agree -------------------------------------------- */

static bool fuzz_same_string(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool fuzz_same_list(const struct cpulist *a, const struct cpulist *b)
{
	return a->count == b->count &&
	       (a->count == 0 || memcmp(a->ranges, b->ranges,
					a->count * sizeof(*a->ranges)) == 0);
}

static bool fuzz_same_pattern(const struct plan_pattern *a,
			      const struct plan_pattern *b)
{
	if (a->count != b->count)
		return false;
	for (size_t i = 0; i < a->count; i++)
		if (strcmp(a->alternatives[i], b->alternatives[i]))
			return false;
	return true;
}

static bool fuzz_same_action(const struct plan_action *a,
			     const struct plan_action *b)
{
	return a->cpus_kind == b->cpus_kind && a->spread == b->spread &&
	       fuzz_same_list(&a->cpus, &b->cpus) &&
	       a->cpus_line == b->cpus_line && a->policy == b->policy &&
	       a->priority == b->priority && a->has_nice == b->has_nice &&
	       a->nice == b->nice && strcmp(a->rename, b->rename) == 0;
}

static bool fuzz_same_plan(const struct plan *a, const struct plan *b)
{
	if (!fuzz_same_string(a->source, b->source) || a->log != b->log ||
	    !fuzz_same_string(a->log_path, b->log_path) ||
	    a->log_format != b->log_format || a->strict != b->strict ||
	    !fuzz_same_action(&a->main, &b->main) ||
	    !fuzz_same_action(&a->children, &b->children) ||
	    a->rule_count != b->rule_count)
		return false;
	for (size_t i = 0; i < a->rule_count; i++) {
		const struct plan_rule *x = &a->rules[i], *y = &b->rules[i];

		if (strcmp(x->name, y->name) || x->line != y->line ||
		    !fuzz_same_pattern(&x->match_library, &y->match_library) ||
		    !fuzz_same_pattern(&x->match_symbol, &y->match_symbol) ||
		    !fuzz_same_pattern(&x->match_caller, &y->match_caller) ||
		    !fuzz_same_pattern(&x->match_name, &y->match_name) ||
		    !fuzz_same_list(&x->match_index, &y->match_index) ||
		    !fuzz_same_action(&x->action, &y->action))
			return false;
	}
	return true;
}

/* Loads the bytes from the memfd; they must give what the text gave. */
static void fuzz_load_file(const uint8_t *data, size_t size, int text_result,
			   const struct plan *text_plan,
			   const struct plan_error *text_error, int lines)
{
	struct plan plan;
	struct plan_error error;
	bool has_nul = memchr(data, '\0', size) != NULL;
	int result;

	if (fuzz_fd < 0)
		return;
	if (ftruncate(fuzz_fd, 0) ||
	    pwrite(fuzz_fd, data, size, 0) != (ssize_t)size)
		abort();
	memset(&error, 0, sizeof(error));
	result = plan_load_file(&plan, fuzz_path, &error);
	if (has_nul) {
		/* The text stopped at the NUL; the file must refuse the line
		 * that holds it, and reads on past it. */
		int nul_line = 1;
		bool told = false;

		for (const uint8_t *p = data; *p; p++)
			nul_line += *p == '\n';
		fuzz_check(result == -1);
		fuzz_check(error.count >= 1);
		for (size_t i = 0; i < fuzz_errors_kept(&error); i++) {
			fuzz_check_message(fuzz_error_message(&error, i),
					   sizeof(error.message));
			told |= fuzz_error_line(&error, i) == nul_line &&
				strstr(fuzz_error_message(&error, i), "NUL");
		}
		fuzz_check(error.line >= 1 && error.line <= nul_line);
		fuzz_check(told || error.count > PLAN_ERRORS_KEPT + 1);
		return;
	}
	fuzz_check(result == text_result);
	if (result) {
		fuzz_check_error(&error, lines);
		fuzz_check(fuzz_same_errors(&error, text_error));
		return;
	}
	fuzz_check(fuzz_same_plan(&plan, text_plan));
	plan_free(&plan);
}

/* The text again with one of its allocations failing: the same outcome,
 * or "out of memory"; never a plan that differs. */
static void fuzz_load_failing(const char *text, unsigned long allocations,
			      int good_result, const struct plan *good,
			      const struct plan_error *good_error, int lines)
{
	struct plan plan;
	struct plan_error error;
	int result;

	if (!allocations)
		return;
	memset(&error, 0, sizeof(error));
	fuzz_alloc_arm(fuzz_alloc_pick(2, allocations));
	result = plan_load_text(&plan, text, fuzz_path, &error);
	fuzz_alloc_disarm();
	if (result == 0) {
		fuzz_check(good_result == 0 && fuzz_same_plan(&plan, good));
		plan_free(&plan);
		return;
	}
	fuzz_check(!plan.source && !plan.rules && !plan.log_path);
	fuzz_check(error.count >= 1);
	fuzz_check(error.line >= 0 && error.line <= lines);
	if (error.count > PLAN_ERRORS_KEPT + 1 ||
	    good_error->count > PLAN_ERRORS_KEPT + 1)
		return;
	/*
	 * Parsing stops at the failure, its last error; the ones before it
	 * are errors of the file, in the order the good load found them
	 * (but for checks at the end of a section it did not reach).
	 */
	size_t last = error.count - 1, j = 0;

	if (strcmp(fuzz_error_message(&error, last), "out of memory")) {
		fprintf(stderr,
			"fuzz_config: allocation %lu of %lu failing: "
			"%d: %s\n",
			fuzz_alloc_fail_at, allocations,
			fuzz_error_line(&error, last),
			fuzz_error_message(&error, last));
		fuzz_check(!"a failed allocation is out of memory");
	}
	for (size_t i = 0; i < last; i++) {
		while (j < good_error->count &&
		       (fuzz_error_line(good_error, j) !=
				fuzz_error_line(&error, i) ||
			strcmp(fuzz_error_message(good_error, j),
			       fuzz_error_message(&error, i))))
			j++;
		fuzz_check(j < good_error->count);
		j++;
	}
}

/* ---- resolving and matching ---------------------------------------------- */

static const struct plan_thread fuzz_threads[] = {
	{ "c_helper.so", NULL, "c_helper.so", NULL, 1 },
	{ "c_helper.so", NULL, "c_helper.so", "serialq mcu", 1 },
	{ "c_helper.so", NULL, "c_helper.so", "stepper_x", 3 },
	{ "python3.11", "t_bootstrap", "python3.11", NULL, 2 },
	{ "python3.11", "t_bootstrap", "python3.11", "serialhdl mcu", 2 },
	{ "python", "background_thread", "libpython3.11.so.1.0", "extruder",
	  4000000000ul },
	{ NULL, NULL, NULL, NULL, 0 },
	{ NULL, NULL, NULL, "", 4000000001ul },
	{ "", "", "", "python3", ULONG_MAX },
};

static bool fuzz_rule_in(const struct plan *plan, const struct plan_rule *rule)
{
	return rule >= plan->rules && rule < plan->rules + plan->rule_count;
}

static void fuzz_match(const struct plan *plan,
		       const struct plan_thread *thread)
{
	struct plan_thread born = *thread;
	const struct plan_rule *rule;
	bool may;

	born.name = NULL;
	may = plan_may_match_named(plan, &born);
	rule = plan_match(plan, &born);
	fuzz_check(!rule ||
		   (fuzz_rule_in(plan, rule) && rule->match_name.count == 0));
	if (!thread->name)
		return;
	rule = plan_match(plan, thread);
	fuzz_check(!rule || fuzz_rule_in(plan, rule));
	/* A thread placed by name was announced as one that might be. */
	if (rule && rule->match_name.count)
		fuzz_check(may);
}

/* A thread named as a rule's own pattern, so fnmatch sees fuzzed globs on
 * both sides; at most 15 bytes, as the kernel keeps of a name. */
static void fuzz_match_own_names(const struct plan *plan)
{
	for (size_t i = 0; i < plan->rule_count && i < 4; i++) {
		const struct plan_pattern *names = &plan->rules[i].match_name;
		char name[16];
		struct plan_thread thread = { "c_helper.so", NULL, "python3",
					      name, i + 1 };

		if (!names->count)
			continue;
		snprintf(name, sizeof(name), "%s", names->alternatives[0]);
		fuzz_match(plan, &thread);
	}
}

static void fuzz_check_resolved(const struct plan *plan,
				struct plan_action *action, size_t *skipped)
{
	const cpu_set_t *online = plan->online;

	if (action->skipped) {
		fuzz_check(action->set == NULL);
		++*skipped;
	}
	if (action->cpus_kind == PLAN_CPUS_UNSET ||
	    action->cpus_kind == PLAN_CPUS_INHERIT)
		fuzz_check(action->set == NULL && !action->skipped);
	else
		fuzz_check(action->set != NULL || action->skipped);
	if (action->set) {
		cpu_set_t *outside = CPU_ALLOC(CPULIST_MAX_CPU + 1);

		if (!outside)
			abort();
		CPU_XOR_S(CPULIST_SETSIZE, outside, action->set, online);
		CPU_AND_S(CPULIST_SETSIZE, outside, outside, action->set);
		fuzz_check(CPU_COUNT_S(CPULIST_SETSIZE, action->set) > 0);
		fuzz_check(CPU_COUNT_S(CPULIST_SETSIZE, outside) == 0);
		CPU_FREE(outside);
		if (action->cpus_kind == PLAN_CPUS_ALL)
			fuzz_check(CPU_EQUAL_S(CPULIST_SETSIZE, action->set,
					       online));
	}
	if (!action->spread || !action->set) {
		fuzz_check(plan_action_next_cpu(action) == -1);
		return;
	}
	fuzz_check(action->spread_count ==
		   (size_t)CPU_COUNT_S(CPULIST_SETSIZE, action->set));
	/* Round robin: every CPU of the set once, then the first again. */
	size_t count = action->spread_count < 16 ? action->spread_count : 16;
	long turns[16];

	for (size_t i = 0; i < count; i++) {
		turns[i] = plan_action_next_cpu(action);
		fuzz_check(turns[i] >= 0 &&
			   CPU_ISSET_S((size_t)turns[i], CPULIST_SETSIZE,
				       action->set));
		for (size_t j = 0; j < i; j++)
			fuzz_check(turns[j] != turns[i]);
	}
	if (count == action->spread_count)
		fuzz_check(plan_action_next_cpu(action) == turns[0]);
}

/* The actions in the order plan_resolve takes them. */
static struct plan_action *fuzz_action(struct plan *plan, size_t i)
{
	if (i == 0)
		return &plan->main;
	if (i == 1)
		return &plan->children;
	return &plan->rules[i - 2].action;
}

/* Resolves against one online set, non-strict then strict. */
static void fuzz_resolve(struct plan *plan, size_t which)
{
	const cpu_set_t *online = fuzz_online[which];
	struct plan_error error;
	bool strict = plan->strict;
	size_t skipped = 0, warnings;
	int first_warned_line = 0, result;

	unsigned long allocations;

	plan->strict = false;
	memset(&error, 0, sizeof(error));
	result = plan_resolve(plan, online, CPULIST_SETSIZE, &error);
	fuzz_check(result == 0);
	fuzz_check(CPU_EQUAL_S(CPULIST_SETSIZE, plan->online, online));
	for (size_t i = 0; i < 2 + plan->rule_count; i++) {
		struct plan_action *action = fuzz_action(plan, i);

		fuzz_check_resolved(plan, action, &skipped);
		(void)plan_action_does_something(action);
	}
	/* One warning for each action skipped or cut, "FILE:LINE: ...". */
	warnings = plan->warning_count;
	fuzz_check(warnings >= skipped);
	for (size_t i = 0; i < warnings; i++) {
		size_t at = strlen(fuzz_path);

		fuzz_check(plan->warnings[i][0] != '\0');
		fuzz_check(!strchr(plan->warnings[i], '\n'));
		fuzz_check(strncmp(plan->warnings[i], fuzz_path, at) == 0 &&
			   plan->warnings[i][at] == ':');
		if (i == 0)
			first_warned_line = atoi(plan->warnings[i] + at + 1);
	}
	for (size_t i = 0; i < sizeof(fuzz_threads) / sizeof(*fuzz_threads);
	     i++)
		fuzz_match(plan, &fuzz_threads[i]);

	/* Strict: the same placements, or each warning an error, in the
	 * same order. */
	plan->strict = true;
	memset(&error, 0, sizeof(error));
	result = plan_resolve(plan, online, CPULIST_SETSIZE, &error);
	fuzz_check((result != 0) == (warnings > 0));
	if (result) {
		fuzz_check(error.count == warnings);
		fuzz_check(error.line == first_warned_line);
		fuzz_check(strcmp(error.file, fuzz_path) == 0);
		fuzz_check(error.message[0] != '\0');
		fuzz_check(memchr(error.message, '\0', sizeof(error.message)));
	}

	/* One allocation fails: an error that says so, and no leak. The
	 * plan is resolved already, so count what resolving it again takes. */
	plan->strict = false;
	fuzz_alloc_arm(0);
	fuzz_check(plan_resolve(plan, online, CPULIST_SETSIZE, &error) == 0);
	allocations = fuzz_alloc_disarm();
	if (allocations) {
		memset(&error, 0, sizeof(error));
		fuzz_alloc_arm(
			fuzz_alloc_pick(3 + (uint32_t)which, allocations));
		result = plan_resolve(plan, online, CPULIST_SETSIZE, &error);
		fuzz_alloc_disarm();
		fuzz_check(result == -1 && fuzz_is_no_memory(&error));
		fuzz_check(error.line == 0);
	}
	plan->strict = strict;
}

/* ---- the built-in plan --------------------------------------------------- */

static bool fuzz_set_is(const cpu_set_t *set, const unsigned *cpus,
			size_t count)
{
	size_t n = 0;

	if (!set || (size_t)CPU_COUNT_S(CPULIST_SETSIZE, set) != count)
		return false;
	while (n < count && CPU_ISSET_S(cpus[n], CPULIST_SETSIZE, set))
		n++;
	return n == count;
}

/* The built-in plan for a fuzzed set of online CPUs: main on the
 * second-to-last, threads on the last, children on the rest or on all. */
static void fuzz_default(const cpu_set_t *online)
{
	static unsigned cpus[CPULIST_MAX_CPU + 1];
	struct plan plan;
	size_t count = 0;

	for (unsigned cpu = 0; cpu <= CPULIST_MAX_CPU; cpu++)
		if (CPU_ISSET_S(cpu, CPULIST_SETSIZE, online))
			cpus[count++] = cpu;
	unsigned long allocations;

	fuzz_alloc_arm(0);
	fuzz_check(plan_load_default(&plan, online, CPULIST_SETSIZE) == 0);
	allocations = fuzz_alloc_disarm();
	fuzz_check(plan.warning_count == 0 && plan.rule_count == 1);
	fuzz_check(strcmp(plan.rules[0].name, "default") == 0);
	fuzz_check(fuzz_set_is(plan.main.set, &cpus[count >= 2 ? count - 2 : 0],
			       1));
	fuzz_check(fuzz_set_is(plan.rules[0].action.set, &cpus[count - 1], 1));
	if (count >= 3)
		fuzz_check(fuzz_set_is(plan.children.set, cpus, count - 2));
	else
		fuzz_check(fuzz_set_is(plan.children.set, cpus, count));
	fuzz_check(plan_match(&plan, &fuzz_threads[0]) == &plan.rules[0]);
	plan_free(&plan);

	/* One allocation fails: -1, the plan freed (LeakSanitizer checks). */
	fuzz_alloc_arm(fuzz_alloc_pick(1, allocations));
	fuzz_check(plan_load_default(&plan, online, CPULIST_SETSIZE) == -1);
	fuzz_alloc_disarm();
	fuzz_check(!plan.rules && !plan.online);
}

/* ---- CPU lists ----------------------------------------------------------- */

/* A list written back as its ranges and parsed again: the same ranges
 * (a single number keeps no stride). */
static void fuzz_ranges(const struct cpulist *list)
{
	size_t need = cpulist_format_ranges(list, NULL, 0), cut;
	char *text = malloc(need + 1), small[16];
	struct cpulist again;

	if (!text)
		abort();
	fuzz_check(cpulist_format_ranges(list, text, need + 1) == need);
	fuzz_check(strlen(text) == need);
	fuzz_check(cpulist_parse(text, CPULIST_MAX_INDEX, &again, NULL) ==
		   CPULIST_OK);
	fuzz_check(again.count == list->count);
	for (size_t i = 0; i < list->count; i++) {
		const struct cpulist_range *a = &list->ranges[i],
					   *b = &again.ranges[i];

		fuzz_check(a->lo == b->lo && a->hi == b->hi);
		fuzz_check(a->stride == b->stride || a->lo == a->hi);
	}
	/* too small a buffer: whole items only, the whole length told */
	fuzz_check(cpulist_format_ranges(list, small, 1 + need % 16) == need);
	cut = strlen(small);
	fuzz_check(cut < 1 + need % 16 && strncmp(text, small, cut) == 0);
	fuzz_check(text[cut] == '\0' || text[cut] == ',' || cut == 0);
	cpulist_free(&again);
	free(text);
}

/* A list with names from the last online CPU: written back and parsed
 * again, the same items; resolved on each fake online set, only online
 * CPUs or the list's own numbers, each item that names none written out,
 * and some CPU whenever an item names one. */
static void fuzz_relative(const struct cpulist *list)
{
	size_t need = cpulist_format_ranges(list, NULL, 0);
	char *text = malloc(need + 1), absent[64];
	cpu_set_t *set = CPU_ALLOC(CPULIST_MAX_CPU + 1);
	struct cpulist again;

	if (!text || !set)
		abort();
	fuzz_check(cpulist_format_ranges(list, text, need + 1) == need);
	fuzz_check(cpulist_parse(text, CPULIST_MAX_CPU, &again, NULL) ==
		   CPULIST_OK);
	fuzz_check(again.count == list->count);
	for (size_t i = 0; i < list->count; i++) {
		const struct cpulist_range *a = &list->ranges[i],
					   *b = &again.ranges[i];

		/* a single number keeps no stride */
		fuzz_check(a->lo == b->lo && a->hi == b->hi &&
			   a->flags == b->flags);
		fuzz_check(a->stride == b->stride ||
			   (!a->flags && a->lo == a->hi));
	}
	cpulist_free(&again);
	for (size_t w = 0; w < sizeof(fuzz_online) / sizeof(*fuzz_online);
	     w++) {
		long missing;

		CPU_ZERO_S(CPULIST_SETSIZE, set);
		missing = cpulist_resolve(list, fuzz_online[w], CPULIST_SETSIZE,
					  set, absent, sizeof(absent));
		fuzz_check(missing >= 0 && (size_t)missing <= list->count);
		fuzz_check((missing == 0) == (absent[0] == '\0'));
		for (size_t cpu = 0; cpu <= CPULIST_MAX_CPU; cpu++)
			if (CPU_ISSET_S(cpu, CPULIST_SETSIZE, set))
				fuzz_check(
					CPU_ISSET_S(cpu, CPULIST_SETSIZE,
						    fuzz_online[w]) ||
					cpulist_contains(list, (unsigned)cpu));
		if ((size_t)missing < list->count)
			fuzz_check(CPU_COUNT_S(CPULIST_SETSIZE, set) > 0);
	}
	CPU_FREE(set);
	free(text);
}

static void fuzz_cpulist(const char *text)
{
	struct cpulist list, again;
	const char *bad = NULL;
	enum cpulist_error failure;

	/* As match_index takes it: big numbers, no set. */
	failure = cpulist_parse(text, CPULIST_MAX_INDEX, &list, &bad);
	fuzz_check(failure >= CPULIST_OK && failure <= CPULIST_NO_MEMORY);
	fuzz_check(cpulist_strerror(failure)[0] != '\0');
	if (failure) {
		fuzz_check(list.count == 0 && list.ranges == NULL);
		fuzz_check(bad >= text && bad <= text + strlen(text));
	} else {
		fuzz_check(list.count > 0);
		fuzz_check_list(&list, CPULIST_MAX_INDEX);
		for (size_t i = 0; i < list.count; i++) {
			const struct cpulist_range *r = &list.ranges[i];

			if ((r->hi - r->lo) % r->stride == 0)
				fuzz_check(cpulist_contains(&list, r->hi));
		}
		fuzz_ranges(&list);
	}
	cpulist_free(&list);

	/* As cpus takes it: parse, format, parse again, same set. */
	failure = cpulist_parse(text, CPULIST_MAX_CPU, &list, &bad);
	if (failure)
		return;
	fuzz_check_list(&list, CPULIST_MAX_CPU);
	if (cpulist_is_relative(&list)) {
		fuzz_relative(&list);
		cpulist_free(&list);
		return;
	}
	cpu_set_t *set = CPU_ALLOC(CPULIST_MAX_CPU + 1);
	cpu_set_t *set_again = CPU_ALLOC(CPULIST_MAX_CPU + 1);

	if (!set || !set_again)
		abort();
	CPU_ZERO_S(CPULIST_SETSIZE, set);
	CPU_ZERO_S(CPULIST_SETSIZE, set_again);
	cpulist_to_set(&list, set, CPULIST_SETSIZE);
	fuzz_check(CPU_COUNT_S(CPULIST_SETSIZE, set) > 0);
	for (size_t i = 0; i < list.count; i++) {
		const struct cpulist_range *r = &list.ranges[i];
		unsigned probes[] = { r->lo,
				      r->hi,
				      r->lo + 1,
				      r->hi + 1,
				      r->lo + r->stride,
				      r->hi - 1 };

		for (size_t j = 0; j < sizeof(probes) / sizeof(*probes); j++)
			if (probes[j] <= CPULIST_MAX_CPU)
				fuzz_check(cpulist_contains(&list, probes[j]) ==
					   CPU_ISSET_S(probes[j],
						       CPULIST_SETSIZE, set));
	}
	if (list.count <= 8)
		fuzz_check(cpulist_count(&list) ==
			   (size_t)CPU_COUNT_S(CPULIST_SETSIZE, set));

	size_t need = cpulist_format(set, CPULIST_SETSIZE, NULL, 0);
	char *formatted = malloc(need + 1), small[16];

	if (!formatted)
		abort();
	fuzz_check(need > 0);
	fuzz_check(cpulist_format(set, CPULIST_SETSIZE, formatted, need + 1) ==
		   need);
	fuzz_check(strlen(formatted) == need);
	/* Too small a buffer: whole items only, and the same length said. */
	size_t len = 1 + strlen(text) % sizeof(small);

	fuzz_check(cpulist_format(set, CPULIST_SETSIZE, small, len) == need);
	fuzz_check(strlen(small) < len);
	fuzz_check(strncmp(formatted, small, strlen(small)) == 0);
	fuzz_check(formatted[strlen(small)] == '\0' ||
		   formatted[strlen(small)] == ',' || small[0] == '\0');

	fuzz_check(cpulist_parse(formatted, CPULIST_MAX_CPU, &again, NULL) ==
		   CPULIST_OK);
	cpulist_to_set(&again, set_again, CPULIST_SETSIZE);
	fuzz_check(CPU_EQUAL_S(CPULIST_SETSIZE, set, set_again));
	fuzz_default(set);
	/* The form is canonical: formatting the copy gives the same text. */
	char *twice = malloc(need + 1);

	if (!twice)
		abort();
	fuzz_check(cpulist_format(set_again, CPULIST_SETSIZE, twice,
				  need + 1) == need);
	fuzz_check(strcmp(formatted, twice) == 0);
	free(twice);
	free(formatted);
	cpulist_free(&again);
	cpulist_free(&list);
	CPU_FREE(set_again);
	CPU_FREE(set);
}

/* ---- the entry point ----------------------------------------------------- */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1);
	struct plan plan;
	struct plan_error error;
	int result, lines;
	unsigned long allocations;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	lines = fuzz_count_lines(text);
	fuzz_hash = 2166136261u; /* FNV-1a */
	for (size_t i = 0; i < size; i++)
		fuzz_hash = (fuzz_hash ^ data[i]) * 16777619u;

	if (strlen(text) <= FUZZ_LIST_MAX)
		fuzz_cpulist(text);

	memset(&error, 0, sizeof(error));
	fuzz_alloc_arm(0);
	result = plan_load_text(&plan, text, fuzz_path, &error);
	allocations = fuzz_alloc_disarm();
	fuzz_check(result == 0 || result == -1);
	if (result) {
		fuzz_check_error(&error, lines);
		/* A failed load leaves the plan freed. */
		fuzz_check(!plan.source && !plan.rules && !plan.log_path);
	} else {
		fuzz_check_loaded(text, &plan);
	}
	fuzz_load_file(data, size, result, &plan, &error, lines);
	fuzz_load_failing(text, allocations, result, &plan, &error, lines);
	if (result == 0) {
		for (size_t i = 0; i < 4; i++)
			fuzz_resolve(&plan, i);
		fuzz_match_own_names(&plan);
		plan_free(&plan);
		fuzz_check(!plan.rules && !plan.online && !plan.warnings);
	}
	free(text);
	return 0;
}
