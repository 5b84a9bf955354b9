/*
 * Printing a plan for people: what each section matches and where it
 * places, with what this machine makes of it.
 */
#include "describe.h"

#include <stdlib.h>
#include <string.h>

/* A list as written: "2-3", "0,2", "last-1-last". */
static void describe_list(FILE *out, const struct cpulist *list, char *text,
			  size_t len)
{
	cpulist_format_ranges(list, text, len);
	fputs(text, out);
}

static void describe_pattern(FILE *out, const char *key,
			     const struct plan_pattern *pattern)
{
	if (!pattern->count)
		return;
	fprintf(out, " %s=", key);
	for (size_t i = 0; i < pattern->count; i++)
		fprintf(out, "%s%s", i ? "|" : "", pattern->alternatives[i]);
}

static void describe_action(FILE *out, const struct plan_action *action)
{
	char text[512], written[512] = "all";

	switch (action->cpus_kind) {
	case PLAN_CPUS_UNSET:
		fputs("cpus inherit (not set)", out);
		break;
	case PLAN_CPUS_INHERIT:
		fputs("cpus inherit", out);
		break;
	case PLAN_CPUS_ALL:
	case PLAN_CPUS_LIST:
		fputs(action->spread ? "spread " : "cpus ", out);
		if (action->cpus_kind == PLAN_CPUS_ALL)
			fputs(written, out);
		else
			describe_list(out, &action->cpus, written,
				      sizeof(written));
		if (action->skipped) {
			fputs(" (not online here: skipped)", out);
		} else if (action->set) {
			/* What this machine makes of it, where that is not
			 * what is written: all, last-1, a list cut. */
			cpulist_format(action->set, CPULIST_SETSIZE, text,
				       sizeof(text));
			if (strcmp(text, written) != 0)
				fprintf(out, " = %s", text);
			if (action->spread)
				fputs(", one CPU each in turn", out);
		}
		break;
	}
	if (action->policy != PLAN_POLICY_UNSET) {
		fprintf(out, ", policy %s", plan_policy_name(action->policy));
		if (action->priority)
			fprintf(out, " priority %d", action->priority);
	}
	if (action->has_nice)
		fprintf(out, ", nice %d", action->nice);
	if (action->rename[0])
		fprintf(out, ", rename '%s'", action->rename);
	fputc('\n', out);
}

void describe_plan(FILE *out, const struct plan *plan)
{
	char online[512] = "?";
	static const char *const logs[] = { "stderr", "syslog", "none", "" };

	if (plan->online)
		cpulist_format(plan->online, CPULIST_SETSIZE, online,
			       sizeof(online));
	fprintf(out, "config:   %s\n",
		plan->source ? plan->source : "(built-in default plan)");
	fprintf(out, "online:   CPUs %s\n", online);
	fprintf(out, "log:      %s, %s%s\n",
		plan->log == PLAN_LOG_FILE ? plan->log_path : logs[plan->log],
		plan->log_format == PLAN_FORMAT_JSON ? "json" : "text",
		plan->strict ? ", strict" : "");
	fputs("main:     ", out);
	describe_action(out, &plan->main);
	fprintf(out, "threads:  %zu rule%s, first match wins%s\n",
		plan->rule_count, plan->rule_count == 1 ? "" : "s",
		plan->rule_count ? ":" : "; every thread inherits");
	for (size_t i = 0; i < plan->rule_count; i++) {
		const struct plan_rule *rule = &plan->rules[i];
		bool any = rule->match_library.count ||
			   rule->match_symbol.count ||
			   rule->match_caller.count || rule->match_name.count ||
			   rule->match_index.count;

		if (rule->line)
			fprintf(out, "  [thread %s] (line %d)\n", rule->name,
				rule->line);
		else
			fprintf(out, "  [thread %s]\n", rule->name);
		fputs("    match:", out);
		if (!any)
			fputs(" every thread", out);
		describe_pattern(out, "library", &rule->match_library);
		describe_pattern(out, "symbol", &rule->match_symbol);
		describe_pattern(out, "caller", &rule->match_caller);
		describe_pattern(out, "name", &rule->match_name);
		if (rule->match_index.count) {
			char index[512];

			cpulist_format_ranges(&rule->match_index, index,
					      sizeof(index));
			fprintf(out, " index=%s", index);
		}
		fputs(rule->match_name.count ? " (when named)\n" : "\n", out);
		fputs("    place: ", out);
		describe_action(out, &rule->action);
	}
	fputs("children: ", out);
	describe_action(out, &plan->children);
	for (size_t i = 0; i < plan->warning_count; i++)
		fprintf(out, "warning:  %s\n", plan->warnings[i]);
}
