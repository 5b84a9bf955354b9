/*
 * The plan once parsed: resolving CPU lists against what is online, the
 * built-in default, and matching a thread against the rules.
 */
#include "plan.h"

#include "glob.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void plan_pattern_free(struct plan_pattern *pattern)
{
	for (size_t i = 0; i < pattern->count; i++)
		free(pattern->alternatives[i]);
	free(pattern->alternatives);
	pattern->alternatives = NULL;
	pattern->count = 0;
}

static void plan_action_free(struct plan_action *action)
{
	cpulist_free(&action->cpus);
	if (action->set)
		CPU_FREE(action->set);
	action->set = NULL;
	free(action->spread_cpus);
	action->spread_cpus = NULL;
	action->spread_count = 0;
}

void plan_free(struct plan *plan)
{
	plan_action_free(&plan->main);
	plan_action_free(&plan->children);
	for (size_t i = 0; i < plan->rule_count; i++) {
		struct plan_rule *rule = &plan->rules[i];

		free(rule->name);
		plan_pattern_free(&rule->match_library);
		plan_pattern_free(&rule->match_symbol);
		plan_pattern_free(&rule->match_caller);
		plan_pattern_free(&rule->match_name);
		cpulist_free(&rule->match_index);
		plan_action_free(&rule->action);
	}
	free(plan->rules);
	for (size_t i = 0; i < plan->warning_count; i++)
		free(plan->warnings[i]);
	free(plan->warnings);
	free(plan->source);
	free(plan->log_path);
	if (plan->online)
		CPU_FREE(plan->online);
	memset(plan, 0, sizeof(*plan));
	plan->main.policy = PLAN_POLICY_UNSET;
	plan->children.policy = PLAN_POLICY_UNSET;
}

void plan_error_add(struct plan_error *error, const char *file, int line,
		    const char *format, ...)
{
	char *message = error->message;
	size_t room = sizeof(error->message);
	va_list args;

	if (error->count == 0) {
		snprintf(error->file, sizeof(error->file), "%s",
			 file ? file : "");
		error->line = line;
	} else if (error->count - 1 < PLAN_ERRORS_KEPT) {
		error->more[error->count - 1].line = line;
		message = error->more[error->count - 1].message;
		room = sizeof(error->more[0].message);
	} else {
		message = NULL;
	}
	error->count++;
	if (!message)
		return;
	va_start(args, format);
	/* va_start is just above; clang 14's checker loses it. */
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized) */
	vsnprintf(message, room, format, args);
	va_end(args);
}

static void plan_error_emit(const char *file, int line, const char *message,
			    void (*emit)(void *, const char *), void *context)
{
	char text[1024];

	if (file[0] && line)
		snprintf(text, sizeof(text), "%s:%d: %s", file, line, message);
	else if (file[0])
		snprintf(text, sizeof(text), "%s: %s", file, message);
	else
		snprintf(text, sizeof(text), "%s", message);
	emit(context, text);
}

void plan_error_each(const struct plan_error *error,
		     void (*emit)(void *context, const char *text),
		     void *context)
{
	/* Errors after the first: found, and kept. */
	size_t after = error->count > 1 ? error->count - 1 : 0;
	size_t kept = after < PLAN_ERRORS_KEPT ? after : PLAN_ERRORS_KEPT;
	char text[64];

	plan_error_emit(error->file, error->line, error->message, emit,
			context);
	/* cppcheck follows one caller whose error holds a single one. */
	// cppcheck-suppress knownConditionTrueFalse
	for (size_t i = 0; i < kept; i++)
		plan_error_emit(error->file, error->more[i].line,
				error->more[i].message, emit, context);
	if (after > kept) {
		snprintf(text, sizeof(text), "... and %zu more errors",
			 after - kept);
		emit(context, text);
	}
}

static int plan_add_warning(struct plan *plan, const char *text)
{
	char **more = realloc(plan->warnings,
			      (plan->warning_count + 1) * sizeof(*more));
	char *copy = strdup(text);

	if (!more || !copy) {
		free(copy);
		if (more)
			plan->warnings = more;
		return -1;
	}
	plan->warnings = more;
	plan->warnings[plan->warning_count++] = copy;
	return 0;
}

/* A label for an action in messages: "[main]", "[thread serial]". */
static void plan_action_label(const struct plan *plan,
			      const struct plan_action *action, char *buf,
			      size_t len)
{
	if (action == &plan->main) {
		snprintf(buf, len, "[main]");
		return;
	}
	if (action == &plan->children) {
		snprintf(buf, len, "[children]");
		return;
	}
	for (size_t i = 0; i < plan->rule_count; i++)
		if (&plan->rules[i].action == action)
			snprintf(buf, len, "[thread %s]", plan->rules[i].name);
}

/* What an action sets beside its CPUs, for a warning that it is skipped:
 * "policy fifo priority 10 and nice 5"; "" when nothing. */
static void plan_sched_text(const struct plan_action *action, char *buf,
			    size_t len)
{
	int used = 0;

	buf[0] = '\0';
	if (action->policy != PLAN_POLICY_UNSET)
		used = snprintf(buf, len, "policy %s",
				plan_policy_name(action->policy));
	if (action->policy != PLAN_POLICY_UNSET && action->priority)
		used += snprintf(buf + used, len - (size_t)used, " priority %d",
				 action->priority);
	if (action->has_nice)
		snprintf(buf + used, len - (size_t)used, "%snice %d",
			 used ? " and " : "", action->nice);
}

/* "CPU 4", "CPUs 4-7", "last-2", "CPUs 4-7 and last-2": what a list names
 * that is not online here. *plural when that is more than one CPU. */
static void plan_missing_text(const cpu_set_t *missing, size_t setsize,
			      const char *absent, long absent_count, char *buf,
			      size_t len, bool *plural)
{
	int count = CPU_COUNT_S(setsize, missing);
	char cpus[256];

	cpulist_format(missing, setsize, cpus, sizeof(cpus));
	*plural = count + absent_count > 1;
	if (count && absent_count)
		snprintf(buf, len, "%s %s and %s", count > 1 ? "CPUs" : "CPU",
			 cpus, absent);
	else if (count)
		snprintf(buf, len, "%s %s", count > 1 ? "CPUs" : "CPU", cpus);
	else if (absent_count)
		snprintf(buf, len, "%s", absent);
	else
		snprintf(buf, len, "its CPUs");
}

/* The warning for an action that names CPUs not online here: placed on
 * the rest (placed of them, in set), or skipped whole when none is left. */
static int plan_warn_offline(struct plan *plan, struct plan_action *action,
			     const char *what, bool plural, const char *online,
			     const cpu_set_t *set, size_t setsize, int placed)
{
	char label[160] = "", consequence[384], sched[96], cpus[256];
	char text[2048];

	plan_action_label(plan, action, label, sizeof(label));
	if (placed == 0) {
		plan_sched_text(action, sched, sizeof(sched));
		snprintf(consequence, sizeof(consequence),
			 "that placement is skipped%s%s",
			 sched[0] ? ", and with it " : "", sched);
	} else {
		cpulist_format(set, setsize, cpus, sizeof(cpus));
		snprintf(consequence, sizeof(consequence), "%s CPU%s %s only",
			 action->spread ? "spread over" : "placed on",
			 placed > 1 ? "s" : "", cpus);
	}
	snprintf(text, sizeof(text),
		 "%s:%d: %s in %s %s not online here "
		 "(online: %s): %s",
		 plan->source ? plan->source : "built-in", action->cpus_line,
		 what, label, plural ? "are" : "is", online, consequence);
	return plan_add_warning(plan, text);
}

/*
 * Resolves one action: its set holds the CPUs it names that are online.
 * Any it names that are not (or relative names with no CPU here) are a
 * warning, and the set is cut to the rest; with none left the action is
 * skipped whole. When strict, either is an error. Returns 0, 1 when an
 * error was added, -1 when out of memory.
 */
static int plan_resolve_action(struct plan *plan, struct plan_action *action,
			       const cpu_set_t *online, size_t setsize,
			       struct plan_error *error)
{
	cpu_set_t *wanted = NULL, *missing = NULL;
	char label[160] = "", what[704], absent[384], online_text[256];
	long absent_count = 0;
	bool plural;
	int placed;

	if (action->set) {
		CPU_FREE(action->set);
		action->set = NULL;
	}
	free(action->spread_cpus);
	action->spread_cpus = NULL;
	action->spread_count = 0;
	action->skipped = false;
	if (action->cpus_kind == PLAN_CPUS_UNSET ||
	    action->cpus_kind == PLAN_CPUS_INHERIT)
		return 0;

	wanted = CPU_ALLOC(CPULIST_MAX_CPU + 1);
	missing = CPU_ALLOC(CPULIST_MAX_CPU + 1);
	if (!wanted || !missing)
		goto no_memory;
	CPU_ZERO_S(setsize, wanted);
	if (action->cpus_kind == PLAN_CPUS_ALL)
		CPU_OR_S(setsize, wanted, wanted, online);
	else
		absent_count = cpulist_resolve(&action->cpus, online, setsize,
					       wanted, absent, sizeof(absent));
	if (absent_count < 0)
		goto no_memory;

	/* What is named but not online goes; the rest is the placement. */
	CPU_XOR_S(setsize, missing, wanted, online);
	CPU_AND_S(setsize, missing, missing, wanted);
	CPU_AND_S(setsize, wanted, wanted, online);
	placed = CPU_COUNT_S(setsize, wanted);
	if (CPU_COUNT_S(setsize, missing) || absent_count || placed == 0) {
		plan_missing_text(missing, setsize, absent, absent_count, what,
				  sizeof(what), &plural);
		cpulist_format(online, setsize, online_text,
			       sizeof(online_text));
		CPU_FREE(missing);
		missing = NULL;
		if (plan->strict) {
			plan_action_label(plan, action, label, sizeof(label));
			plan_error_add(error, plan->source, action->cpus_line,
				       "%s in %s %s not online here (online: "
				       "%s) and strict is on",
				       what, label, plural ? "are" : "is",
				       online_text);
			CPU_FREE(wanted);
			return 1;
		}
		if (plan_warn_offline(plan, action, what, plural, online_text,
				      wanted, setsize, placed))
			goto no_memory;
		if (placed == 0) {
			action->skipped = true;
			CPU_FREE(wanted);
			return 0;
		}
	}
	if (missing)
		CPU_FREE(missing);
	missing = NULL;

	if (action->spread) {
		size_t count = (size_t)placed, next = 0;

		action->spread_cpus = calloc(count, sizeof(unsigned));
		if (!action->spread_cpus)
			goto no_memory;
		for (size_t cpu = 0; cpu < setsize * 8 && next < count; cpu++)
			if (CPU_ISSET_S(cpu, setsize, wanted))
				action->spread_cpus[next++] = (unsigned)cpu;
		action->spread_count = count;
	}
	action->set = wanted;
	return 0;

no_memory:
	if (wanted)
		CPU_FREE(wanted);
	if (missing)
		CPU_FREE(missing);
	plan_error_add(error, plan->source, 0, "out of memory");
	return -1;
}

int plan_resolve(struct plan *plan, const cpu_set_t *online, size_t setsize,
		 struct plan_error *error)
{
	int failed = 0, result;

	if (setsize > CPULIST_SETSIZE)
		setsize = CPULIST_SETSIZE;
	if (!plan->online)
		plan->online = CPU_ALLOC(CPULIST_MAX_CPU + 1);
	if (!plan->online) {
		plan_error_add(error, plan->source, 0, "out of memory");
		return -1;
	}
	CPU_ZERO_S(CPULIST_SETSIZE, plan->online);
	CPU_OR_S(setsize, plan->online, plan->online, online);
	for (size_t i = 0; i < plan->warning_count; i++)
		free(plan->warnings[i]);
	free(plan->warnings);
	plan->warnings = NULL;
	plan->warning_count = 0;

	/* In file order as far as the sections go: main, children, then
	 * the rules. Strict, every offline CPU is an error of its own. */
	result = plan_resolve_action(plan, &plan->main, plan->online,
				     CPULIST_SETSIZE, error);
	if (result < 0)
		return -1;
	failed |= result;
	result = plan_resolve_action(plan, &plan->children, plan->online,
				     CPULIST_SETSIZE, error);
	if (result < 0)
		return -1;
	failed |= result;
	for (size_t i = 0; i < plan->rule_count; i++) {
		result = plan_resolve_action(plan, &plan->rules[i].action,
					     plan->online, CPULIST_SETSIZE,
					     error);
		if (result < 0)
			return -1;
		failed |= result;
	}
	return failed ? -1 : 0;
}

/* Sets an action to the list of the given CPUs, by text. */
static int plan_action_set_list(struct plan_action *action, const char *text)
{
	action->cpus_kind = PLAN_CPUS_LIST;
	return cpulist_parse(text, CPULIST_MAX_CPU, &action->cpus, NULL) ? -1
									 : 0;
}

int plan_load_default(struct plan *plan, const cpu_set_t *online,
		      size_t setsize)
{
	unsigned cpus[CPULIST_MAX_CPU + 1];
	size_t count = 0;
	char text[32];
	struct plan_error error;

	memset(plan, 0, sizeof(*plan));
	plan->main.policy = PLAN_POLICY_UNSET;
	plan->children.policy = PLAN_POLICY_UNSET;
	for (size_t cpu = 0; cpu < setsize * 8 && cpu <= CPULIST_MAX_CPU; cpu++)
		if (CPU_ISSET_S(cpu, setsize, online))
			cpus[count++] = (unsigned)cpu;
	if (count == 0)
		return -1;

	plan->rules = calloc(1, sizeof(*plan->rules));
	if (!plan->rules)
		return -1;
	plan->rule_count = 1;
	plan->rules[0].name = strdup("default");
	plan->rules[0].action.policy = PLAN_POLICY_UNSET;
	if (!plan->rules[0].name)
		goto fail;

	snprintf(text, sizeof(text), "%u", cpus[count >= 2 ? count - 2 : 0]);
	if (plan_action_set_list(&plan->main, text))
		goto fail;
	snprintf(text, sizeof(text), "%u", cpus[count - 1]);
	if (plan_action_set_list(&plan->rules[0].action, text))
		goto fail;
	if (count >= 3) {
		snprintf(text, sizeof(text), count == 3 ? "%u" : "%u-%u",
			 cpus[0], cpus[count - 3]);
		/* Online CPUs need not be contiguous: list them one by one. */
		if (cpus[count - 3] - cpus[0] != count - 3) {
			size_t used = 0;
			char *list = malloc(count * 6);

			if (!list)
				goto fail;
			for (size_t i = 0; i + 2 < count; i++)
				used += (size_t)sprintf(list + used, "%s%u",
							i ? "," : "", cpus[i]);
			int failed =
				plan_action_set_list(&plan->children, list);

			free(list);
			if (failed)
				goto fail;
		} else if (plan_action_set_list(&plan->children, text)) {
			goto fail;
		}
	} else {
		plan->children.cpus_kind = PLAN_CPUS_ALL;
	}
	if (plan_resolve(plan, online, setsize, &error))
		goto fail;
	return 0;
fail:
	plan_free(plan);
	return -1;
}

bool plan_pattern_matches(const struct plan_pattern *pattern, const char *text)
{
	if (!text)
		return false;
	for (size_t i = 0; i < pattern->count; i++)
		if (glob_match(pattern->alternatives[i], text))
			return true;
	return false;
}

/* Do the keys known at creation (all but match_name) match? */
static bool plan_rule_matches_creation(const struct plan_rule *rule,
				       const struct plan_thread *thread)
{
	if (rule->match_library.count &&
	    !plan_pattern_matches(&rule->match_library, thread->library))
		return false;
	if (rule->match_symbol.count &&
	    !plan_pattern_matches(&rule->match_symbol, thread->symbol))
		return false;
	if (rule->match_caller.count &&
	    !plan_pattern_matches(&rule->match_caller, thread->caller))
		return false;
	if (rule->match_index.count &&
	    (thread->seq == 0 || thread->seq > CPULIST_MAX_INDEX ||
	     !cpulist_contains(&rule->match_index, (unsigned)thread->seq)))
		return false;
	return true;
}

const struct plan_rule *plan_match(const struct plan *plan,
				   const struct plan_thread *thread)
{
	for (size_t i = 0; i < plan->rule_count; i++) {
		const struct plan_rule *rule = &plan->rules[i];

		if (rule->match_name.count &&
		    !plan_pattern_matches(&rule->match_name, thread->name))
			continue;
		if (plan_rule_matches_creation(rule, thread))
			return rule;
	}
	return NULL;
}

bool plan_may_match_named(const struct plan *plan,
			  const struct plan_thread *thread)
{
	for (size_t i = 0; i < plan->rule_count; i++) {
		const struct plan_rule *rule = &plan->rules[i];

		if (rule->match_name.count &&
		    plan_rule_matches_creation(rule, thread))
			return true;
	}
	return false;
}

long plan_action_take_turn(struct plan_action *action, unsigned long *turn)
{
	if (!action->spread || !action->set || action->spread_count == 0)
		return -1;
	*turn = atomic_fetch_add_explicit(&action->spread_next, 1,
					  memory_order_relaxed);
	return action->spread_cpus[*turn % action->spread_count];
}

long plan_action_next_cpu(struct plan_action *action)
{
	unsigned long turn;

	return plan_action_take_turn(action, &turn);
}

void plan_action_give_back_turn(struct plan_action *action, unsigned long turn)
{
	unsigned long next = turn + 1;

	atomic_compare_exchange_strong_explicit(&action->spread_next, &next,
						turn, memory_order_relaxed,
						memory_order_relaxed);
}

bool plan_action_does_something(const struct plan_action *action)
{
	if (action->rename[0])
		return true;
	return !action->skipped &&
	       (action->set || action->policy != PLAN_POLICY_UNSET ||
		action->has_nice);
}

int plan_set_log(struct plan *plan, const char *dest, struct plan_error *error)
{
	char *path = NULL;

	if (strcmp(dest, "stderr") == 0) {
		plan->log = PLAN_LOG_STDERR;
	} else if (strcmp(dest, "syslog") == 0) {
		plan->log = PLAN_LOG_SYSLOG;
	} else if (strcmp(dest, "none") == 0) {
		plan->log = PLAN_LOG_NONE;
	} else if (dest[0] == '/') {
		path = strdup(dest);
		if (!path) {
			plan_error_add(error, NULL, 0, "out of memory");
			return -1;
		}
		plan->log = PLAN_LOG_FILE;
	} else {
		plan_error_add(error, NULL, 0,
			       "bad log destination '%s', expected stderr, "
			       "syslog, none or an absolute path",
			       dest);
		return -1;
	}
	free(plan->log_path);
	plan->log_path = path;
	return 0;
}

int plan_set_log_format(struct plan *plan, const char *format,
			struct plan_error *error)
{
	if (strcmp(format, "text") == 0) {
		plan->log_format = PLAN_FORMAT_TEXT;
	} else if (strcmp(format, "json") == 0) {
		plan->log_format = PLAN_FORMAT_JSON;
	} else {
		plan_error_add(error, NULL, 0,
			       "bad log format '%s', expected text or json",
			       format);
		return -1;
	}
	return 0;
}

static const char *const plan_policy_names[] = {
	[PLAN_POLICY_OTHER] = "other", [PLAN_POLICY_BATCH] = "batch",
	[PLAN_POLICY_IDLE] = "idle",   [PLAN_POLICY_FIFO] = "fifo",
	[PLAN_POLICY_RR] = "rr",
};

const char *plan_policy_name(enum plan_policy policy)
{
	if (policy < 0 || policy > PLAN_POLICY_RR)
		return "-";
	return plan_policy_names[policy];
}

int plan_policy_to_sched(enum plan_policy policy)
{
	switch (policy) {
	case PLAN_POLICY_OTHER:
		return SCHED_OTHER;
	case PLAN_POLICY_BATCH:
		return SCHED_BATCH;
	case PLAN_POLICY_IDLE:
		return SCHED_IDLE;
	case PLAN_POLICY_FIFO:
		return SCHED_FIFO;
	case PLAN_POLICY_RR:
		return SCHED_RR;
	case PLAN_POLICY_UNSET:
		break;
	}
	return -1;
}
