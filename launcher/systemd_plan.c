/*
 * The config a unit's klippy runs by, and what its plan needs from the
 * unit: limits for klippy's user, and the CPUs to weigh the unit's own
 * CPU settings against.
 */
#include "systemd_plan.h"

#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build.h"
#include "plan.h"

#define UNIT_PLAN_CONFIG_NAME "klipper-pin.conf"

/* first, second and third as the config; false when it does not fit. */
static bool unit_plan_set_config(struct unit_plan *plan, const char *first,
				 const char *second, const char *third)
{
	int used = snprintf(plan->config, sizeof(plan->config), "%s%s%s", first,
			    second, third);

	return used >= 0 && (size_t)used < sizeof(plan->config);
}

/* user's home: from ROOT/etc/passwd under a root (that machine's users,
 * not these), else as this machine's name service says. */
static int unit_plan_home(const char *root, const char *user, char *home,
			  size_t len)
{
	char path[PATH_MAX];
	struct passwd *entry = NULL;
	FILE *passwd;

	if (!*root) {
		entry = getpwnam(user);
		if (entry)
			snprintf(home, len, "%s", entry->pw_dir);
		return entry ? 0 : -1;
	}
	snprintf(path, sizeof(path), "%s/etc/passwd", root);
	passwd = fopen(path, "re");
	if (!passwd)
		return -1;
	while ((entry = fgetpwent(passwd)))
		if (strcmp(entry->pw_name, user) == 0)
			break;
	if (entry)
		snprintf(home, len, "%s", entry->pw_dir);
	fclose(passwd);
	return entry ? 0 : -1;
}

static bool unit_plan_is_plain_path(const char *text, size_t length)
{
	return length > 0 && text[0] == '/' &&
	       strcspn(text, "\"'\\$% \t") >= length;
}

/* klipper-pin.conf beside the printer.cfg the command names (Klipper's
 * own install scripts put it in klippy's arguments). */
static bool unit_plan_beside_cfg(struct unit_plan *plan, const char *value,
				 const struct command *command)
{
	for (size_t i = 1; i < command->word_count && i < COMMAND_WORDS_KEPT;
	     i++) {
		const char *word = value + command->words[i].start;
		size_t length = command->words[i].end - command->words[i].start;
		const char *slash = word + length;

		if (length < 5 || memcmp(word + length - 4, ".cfg", 4) != 0 ||
		    !unit_plan_is_plain_path(word, length))
			continue;
		while (*--slash != '/')
			;
		snprintf(plan->config, sizeof(plan->config), "%.*s/%s",
			 (int)(slash - word), word, UNIT_PLAN_CONFIG_NAME);
		plan->why = "beside the printer.cfg in ExecStart=";
		return true;
	}
	return false;
}

/* KIAUH's EnvironmentFile=%h/printer_data/systemd/klipper.env (and
 * printer_2_data for a second instance): DATA/config/ is the config's. */
static bool unit_plan_from_environment(struct unit_plan *plan,
				       const struct unit_state *unit,
				       const char *home)
{
	for (size_t i = unit->environment_file.count; i-- > 0;) {
		const char *file = unit->environment_file.items[i].value;
		char path[PATH_MAX], *systemd;

		file += *file == '-';
		if (strncmp(file, "%h/", 3) == 0 && home)
			snprintf(path, sizeof(path), "%s%s", home, file + 2);
		else
			snprintf(path, sizeof(path), "%s", file);
		systemd = strstr(path, "/systemd/");
		if (!unit_plan_is_plain_path(path, strlen(path)) || !systemd ||
		    strchr(systemd + 9, '/') || systemd == path)
			continue;
		snprintf(plan->config, sizeof(plan->config), "%.*s/config/%s",
			 (int)(systemd - path), path, UNIT_PLAN_CONFIG_NAME);
		plan->why = "in the printer_data of EnvironmentFile=";
		return true;
	}
	return false;
}

static int unit_plan_given(struct unit_plan *plan, const char *root,
			   const char *given, char *problem, size_t len)
{
	char cwd[PATH_MAX];

	plan->why = "given";
	if (given[0] == '/') {
		snprintf(plan->config, sizeof(plan->config), "%s", given);
		return 0;
	}
	/* A relative path under a root would name this machine's cwd. */
	if (*root || !getcwd(cwd, sizeof(cwd))) {
		snprintf(problem, len, "--config %s: give an absolute path%s",
			 given,
			 *root ? " (as the unit under --root names it)" : "");
		return -1;
	}
	if (!unit_plan_set_config(plan, cwd, "/", given)) {
		snprintf(problem, len, "--config %s: too long", given);
		return -1;
	}
	return 0;
}

int unit_plan_choose_config(struct unit_plan *plan, const char *root,
			    const char *given, const char *user,
			    const struct unit_state *unit, const char *value,
			    const struct command *command, char *problem,
			    size_t len)
{
	char home[PATH_MAX];
	bool has_home =
		user && unit_plan_home(root, user, home, sizeof(home)) == 0;

	if (given)
		return unit_plan_given(plan, root, given, problem, len);
	if (unit_plan_beside_cfg(plan, value, command) ||
	    unit_plan_from_environment(plan, unit, has_home ? home : NULL))
		return 0;
	if (!user) {
		snprintf(plan->config, sizeof(plan->config), "%s",
			 PLAN_SYSTEM_CONFIG);
		plan->why = "the unit runs as root (no User=)";
		return 0;
	}
	if (!has_home) {
		snprintf(problem, len,
			 "cannot find the home of User=%s%s%s: name the "
			 "config with --config",
			 user, *root ? " in " : "", *root ? root : "");
		return -1;
	}
	if (!unit_plan_set_config(plan, home, "/printer_data/config/",
				  UNIT_PLAN_CONFIG_NAME)) {
		snprintf(problem, len, "the home of User=%s is too long", user);
		return -1;
	}
	plan->why = "in the printer_data of User='s home";
	return 0;
}

static void unit_plan_add_action(struct unit_plan *plan,
				 const struct plan_action *action)
{
	if ((action->policy == PLAN_POLICY_FIFO ||
	     action->policy == PLAN_POLICY_RR) &&
	    action->priority > plan->rtprio)
		plan->rtprio = action->priority;
	if (action->has_nice && action->nice < plan->nice)
		plan->nice = action->nice;
	if (action->set)
		CPU_OR_S(CPULIST_SETSIZE, plan->cpus, plan->cpus, action->set);
	for (size_t i = 0; i < action->spread_count; i++)
		CPU_SET_S(action->spread_cpus[i], CPULIST_SETSIZE, plan->cpus);
}

int unit_plan_build(struct unit_plan *plan, const char *root,
		    void (*emit)(void *context, const char *text),
		    void *context)
{
	struct plan_error error = { .line = 0 };
	struct plan built = { 0 };
	char path[PATH_MAX];
	struct plan_inputs inputs = { .config = path };

	snprintf(path, sizeof(path), "%s%s", root, plan->config);
	plan->cpus = CPU_ALLOC(CPULIST_MAX_CPU + 1);
	if (!plan->cpus) {
		emit(context, "out of memory");
		return -1;
	}
	CPU_ZERO_S(CPULIST_SETSIZE, plan->cpus);
	if (plan_build(&built, &inputs, &error) != 0) {
		plan_error_each(&error, emit, context);
		return -1;
	}
	unit_plan_add_action(plan, &built.main);
	unit_plan_add_action(plan, &built.children);
	for (size_t i = 0; i < built.rule_count; i++)
		unit_plan_add_action(plan, &built.rules[i].action);
	plan_free(&built);
	return 0;
}

/* The CPUs of a CPUAffinity= or AllowedCPUs= list (every assignment
 * since the last reset: they add up), as a set; -1 when unreadable. */
static int unit_plan_read_cpus(const struct unit_list *list, cpu_set_t *set)
{
	CPU_ZERO_S(CPULIST_SETSIZE, set);
	for (size_t i = 0; i < list->count; i++) {
		char *copy = strdup(list->items[i].value), *word, *rest;
		int failed = !copy;

		for (word = copy ? strtok_r(copy, " \t,", &rest) : NULL;
		     word && !failed; word = strtok_r(NULL, " \t,", &rest)) {
			struct cpulist cpus = { 0 };

			failed = strspn(word, "0123456789-") != strlen(word) ||
				 cpulist_parse(word, CPULIST_MAX_CPU, &cpus,
					       NULL) != CPULIST_OK;
			if (!failed)
				cpulist_to_set(&cpus, set, CPULIST_SETSIZE);
			cpulist_free(&cpus);
		}
		free(copy);
		if (failed)
			return -1;
	}
	return 0;
}

static void unit_plan_say(void (*emit)(void *context, const char *text),
			  void *context, const char *format, ...)
	__attribute__((format(printf, 3, 4)));

static void unit_plan_say(void (*emit)(void *context, const char *text),
			  void *context, const char *format, ...)
{
	char text[2048];
	va_list args;

	va_start(args, format);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized) */
	vsnprintf(text, sizeof(text), format, args);
	va_end(args);
	emit(context, text);
}

/* One of the two settings weighed against the plan's CPUs; the last
 * assignment names where. */
static void unit_plan_weigh(const struct unit_plan *plan, const char *root,
			    const struct unit_list *list, const char *key,
			    void (*emit)(void *context, const char *text),
			    void *context)
{
	const struct unit_setting *last = &list->items[list->count - 1];
	cpu_set_t *set = CPU_ALLOC(CPULIST_MAX_CPU + 1);
	char given[256], outside[256];

	if (!set)
		return;
	if (unit_plan_read_cpus(list, set) != 0) {
		unit_plan_say(emit, context, "%s%s:%d: %s=%s: cannot read it",
			      root, last->file, last->line, key, last->value);
		CPU_FREE(set);
		return;
	}
	cpulist_format(set, CPULIST_SETSIZE, given, sizeof(given));
	CPU_XOR_S(CPULIST_SETSIZE, set, set, plan->cpus);
	CPU_AND_S(CPULIST_SETSIZE, set, set, plan->cpus);
	cpulist_format(set, CPULIST_SETSIZE, outside, sizeof(outside));
	CPU_FREE(set);
	if (strcmp(key, "AllowedCPUs") == 0 && !outside[0])
		return;
	if (strcmp(key, "AllowedCPUs") == 0)
		unit_plan_say(
			emit, context,
			"%s%s:%d: AllowedCPUs=%s confines every klippy "
			"thread to CPUs %s (a cpuset): the kernel refuses "
			"the plan's CPUs %s outside it, and a thread "
			"placed only there stays where it was",
			root, last->file, last->line, last->value, given,
			outside);
	else
		unit_plan_say(
			emit, context,
			"%s%s:%d: CPUAffinity=%s only sets the CPUs "
			"klippy starts on (%s), it confines nothing: "
			"klipper-pin moves each thread its plan places%s%s"
			"%s; it still holds the threads the plan leaves "
			"alone, and all of them when the config is "
			"invalid at start. Remove it: klipper-pin places "
			"each thread",
			root, last->file, last->line, last->value, given,
			outside[0] ? ", onto CPUs " : "", outside,
			outside[0] ? " outside it too" : "");
}

void unit_plan_weigh_cpus(const struct unit_plan *plan, const char *root,
			  const struct unit_state *unit,
			  void (*emit)(void *context, const char *text),
			  void *context)
{
	if (unit->cpu_affinity.count)
		unit_plan_weigh(plan, root, &unit->cpu_affinity, "CPUAffinity",
				emit, context);
	if (unit->allowed_cpus.count)
		unit_plan_weigh(plan, root, &unit->allowed_cpus, "AllowedCPUs",
				emit, context);
}

void unit_plan_free(struct unit_plan *plan)
{
	if (plan->cpus)
		CPU_FREE(plan->cpus);
	plan->cpus = NULL;
}
