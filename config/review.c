/*
 * Findings about a plan that loads: a rule after a catch-all never
 * matches, and neither does a rule whose match keys repeat an earlier
 * one's exactly; a config with nothing in it places nothing.
 */
#include "review.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool review_pattern_is_anything(const struct plan_pattern *pattern)
{
	for (size_t i = 0; i < pattern->count; i++)
		if (strcmp(pattern->alternatives[i], "*") == 0)
			return true;
	return false;
}

/* Does the key match whatever the thread is (absent, or "*")? */
static bool review_key_open(const struct plan_pattern *pattern)
{
	return pattern->count == 0 || review_pattern_is_anything(pattern);
}

static bool review_same_pattern(const struct plan_pattern *a,
				const struct plan_pattern *b)
{
	if (a->count != b->count)
		return false;
	for (size_t i = 0; i < a->count; i++)
		if (strcmp(a->alternatives[i], b->alternatives[i]) != 0)
			return false;
	return true;
}

static bool review_same_index(const struct cpulist *a, const struct cpulist *b)
{
	if (a->count != b->count)
		return false;
	for (size_t i = 0; i < a->count; i++)
		if (a->ranges[i].lo != b->ranges[i].lo ||
		    a->ranges[i].hi != b->ranges[i].hi ||
		    a->ranges[i].stride != b->ranges[i].stride)
			return false;
	return true;
}

static bool review_same_keys(const struct plan_rule *a,
			     const struct plan_rule *b)
{
	return review_same_pattern(&a->match_library, &b->match_library) &&
	       review_same_pattern(&a->match_symbol, &b->match_symbol) &&
	       review_same_pattern(&a->match_caller, &b->match_caller) &&
	       review_same_pattern(&a->match_name, &b->match_name) &&
	       review_same_index(&a->match_index, &b->match_index);
}

/* Does the rule match every thread at creation (no key narrows it), or
 * every thread once named (only match_name, and it is "*")? */
static bool review_catches_all(const struct plan_rule *rule, bool named)
{
	if (!review_key_open(&rule->match_library) ||
	    !review_key_open(&rule->match_symbol) ||
	    !review_key_open(&rule->match_caller) || rule->match_index.count)
		return false;
	return named ? rule->match_name.count &&
			       review_pattern_is_anything(&rule->match_name)
		     : rule->match_name.count == 0;
}

static uint64_t review_hash_text(uint64_t hash, const char *text)
{
	for (; *text; text++)
		hash = (hash ^ (unsigned char)*text) * 1099511628211u;
	return hash * 1099511628211u;
}

static uint64_t review_hash_pattern(uint64_t hash,
				    const struct plan_pattern *pattern)
{
	for (size_t i = 0; i < pattern->count; i++)
		hash = review_hash_text(hash, pattern->alternatives[i]);
	return (hash ^ pattern->count) * 1099511628211u;
}

/* A hash of a rule's match keys, so that exact repeats are found in one
 * pass however many rules there are. */
static uint64_t review_hash_keys(const struct plan_rule *rule)
{
	uint64_t hash = 14695981039346656037u;

	hash = review_hash_pattern(hash, &rule->match_library);
	hash = review_hash_pattern(hash, &rule->match_symbol);
	hash = review_hash_pattern(hash, &rule->match_caller);
	hash = review_hash_pattern(hash, &rule->match_name);
	for (size_t i = 0; i < rule->match_index.count; i++)
		hash = (hash ^ rule->match_index.ranges[i].lo ^
			(uint64_t)rule->match_index.ranges[i].hi << 32) *
		       1099511628211u;
	return hash;
}

static void review_never(const char *file, const struct plan_rule *later,
			 const struct plan_rule *earlier, const char *why,
			 void (*warn)(void *, const char *), void *context)
{
	char text[1024];

	snprintf(text, sizeof(text),
		 "%s:%d: [thread %s] can never match: [thread %s] (line %d) "
		 "comes first and %s (rules are tried in file order, first "
		 "match wins)",
		 file, later->line, later->name, earlier->name, earlier->line,
		 why);
	warn(context, text);
}

void plan_review(const struct plan *plan,
		 void (*warn)(void *context, const char *text), void *context)
{
	const char *file = plan->source ? plan->source : "(built-in plan)";
	const struct plan_rule *all_created = NULL, *all_named = NULL;
	size_t slots = 16;
	size_t *seen; /* rule index + 1, 0 for an empty slot */
	char text[1024];

	if (plan->source && plan->rule_count == 0 &&
	    !plan_action_does_something(&plan->main) &&
	    !plan_action_does_something(&plan->children)) {
		snprintf(text, sizeof(text),
			 "%s: the config places nothing (no [main], [thread] "
			 "or [children] action): the program runs as without "
			 "klipper-pin",
			 file);
		warn(context, text);
	}
	while (slots < 2 * plan->rule_count)
		slots *= 2;
	seen = calloc(slots, sizeof(size_t));
	for (size_t j = 0; j < plan->rule_count; j++) {
		const struct plan_rule *rule = &plan->rules[j];
		const struct plan_rule *repeated = NULL;
		bool named = rule->match_name.count != 0;

		/* Open addressing on the keys' hash: an earlier rule with
		 * the very same keys takes every thread first. */
		for (size_t at = seen ? (size_t)(review_hash_keys(rule) &
						 (slots - 1))
				      : 0;
		     seen; at = (at + 1) & (slots - 1)) {
			if (!seen[at]) {
				seen[at] = j + 1;
				break;
			}
			if (review_same_keys(&plan->rules[seen[at] - 1],
					     rule)) {
				repeated = &plan->rules[seen[at] - 1];
				break;
			}
		}
		if (all_created)
			review_never(file, rule, all_created,
				     "matches every thread", warn, context);
		else if (named && all_named)
			review_never(file, rule, all_named,
				     "matches every thread once named", warn,
				     context);
		else if (repeated)
			review_never(file, rule, repeated,
				     "has the same match keys", warn, context);
		if (!all_created && review_catches_all(rule, false))
			all_created = rule;
		if (!all_named && review_catches_all(rule, true))
			all_named = rule;
	}
	free(seen);
}
