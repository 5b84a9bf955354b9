/*
 * Reading the config file: Klipper-style INI through libinih. libinih (as
 * Debian builds it) cuts lines at 200 bytes, knows only ';' inline comments
 * and no line numbers in its handler, so each line goes through our reader
 * first: it counts lines, strips comments, knows section headers and turns a
 * line too long to pass whole into an error instead of a shorter value.
 */
#include "plan.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum parse_section {
	SECTION_NONE,
	SECTION_GLOBAL,
	SECTION_MAIN,
	SECTION_THREAD,
	SECTION_CHILDREN,
};

/* Keys, each valid in some sections; a bit per key tracks duplicates. */
enum parse_key {
	KEY_LOG,
	KEY_LOG_FORMAT,
	KEY_STRICT,
	KEY_MATCH_LIBRARY,
	KEY_MATCH_SYMBOL,
	KEY_MATCH_CALLER,
	KEY_MATCH_NAME,
	KEY_MATCH_INDEX,
	KEY_CPUS,
	KEY_SPREAD,
	KEY_RENAME,
	KEY_POLICY,
	KEY_PRIORITY,
	KEY_NICE,
	KEY_COUNT,
};

#define IN_GLOBAL (1u << SECTION_GLOBAL)
#define IN_MAIN (1u << SECTION_MAIN)
#define IN_THREAD (1u << SECTION_THREAD)
#define IN_CHILDREN (1u << SECTION_CHILDREN)

static const struct parse_key_info {
	const char *name;
	unsigned sections;
} parse_keys[KEY_COUNT] = {
	[KEY_LOG] = { "log", IN_GLOBAL },
	[KEY_LOG_FORMAT] = { "log_format", IN_GLOBAL },
	[KEY_STRICT] = { "strict", IN_GLOBAL },
	[KEY_MATCH_LIBRARY] = { "match_library", IN_THREAD },
	[KEY_MATCH_SYMBOL] = { "match_symbol", IN_THREAD },
	[KEY_MATCH_CALLER] = { "match_caller", IN_THREAD },
	[KEY_MATCH_NAME] = { "match_name", IN_THREAD },
	[KEY_MATCH_INDEX] = { "match_index", IN_THREAD },
	[KEY_CPUS] = { "cpus", IN_MAIN | IN_THREAD | IN_CHILDREN },
	[KEY_SPREAD] = { "spread", IN_THREAD },
	[KEY_RENAME] = { "rename", IN_THREAD },
	[KEY_POLICY] = { "policy", IN_MAIN | IN_THREAD | IN_CHILDREN },
	[KEY_PRIORITY] = { "priority", IN_MAIN | IN_THREAD | IN_CHILDREN },
	[KEY_NICE] = { "nice", IN_MAIN | IN_THREAD | IN_CHILDREN },
};

static const char *const parse_section_names[] = {
	"klipper-pin",
	"main",
	"thread",
	"children",
};

struct parse_state {
	struct plan *plan;
	const char *file;
	struct plan_error *error;
	bool failed;

	/* the input: a FILE, or text in memory */
	FILE *input;
	const char *text;
	char *line;
	size_t line_capacity;
	int lineno;

	enum parse_section section;
	int section_line;
	struct plan_action *action;
	struct plan_rule *rule;
	int key_line[KEY_COUNT]; /* 0: not given in this section */
	bool seen_main, seen_children, seen_global;
};

static void parse_fail(struct parse_state *state, int line, const char *format,
		       ...) __attribute__((format(printf, 3, 4)));

static void parse_fail(struct parse_state *state, int line, const char *format,
		       ...)
{
	va_list args;

	if (state->failed)
		return;
	state->failed = true;
	snprintf(state->error->file, sizeof(state->error->file), "%s",
		 state->file);
	state->error->line = line;
	va_start(args, format);
	/* va_start is just above; clang 14's checker loses it. */
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized) */
	vsnprintf(state->error->message, sizeof(state->error->message), format,
		  args);
	va_end(args);
}

/* Edit distance, for "did you mean"; small strings only. */
static size_t parse_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[64];

	if (la >= 63 || lb >= 63)
		return SIZE_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diagonal = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t above = row[j];
			size_t best = diagonal + (a[i - 1] != b[j - 1]);

			if (above + 1 < best)
				best = above + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diagonal = above;
		}
	}
	return row[lb];
}

/* The closest of names to word, if close enough to be a slip. */
static const char *parse_suggest(const char *word, const char *const *names,
				 size_t count)
{
	const char *best = NULL;
	size_t best_distance = 3;

	for (size_t i = 0; i < count; i++) {
		size_t distance;

		if (!names[i])
			continue;
		distance = parse_distance(word, names[i]);
		if (distance < best_distance) {
			best = names[i];
			best_distance = distance;
		}
	}
	return best;
}

static const char *parse_section_title(const struct parse_state *state)
{
	static __thread char title[160];

	if (state->section == SECTION_THREAD)
		snprintf(title, sizeof(title), "[thread %s]",
			 state->rule->name);
	else
		snprintf(title, sizeof(title), "[%s]",
			 parse_section_names[state->section - 1]);
	return title;
}

/* Checks made when a section ends: keys that depend on each other. */
static void parse_end_section(struct parse_state *state)
{
	struct plan_action *action = state->action;

	if (!action || state->failed)
		return;
	bool realtime = action->policy == PLAN_POLICY_FIFO ||
			action->policy == PLAN_POLICY_RR;

	if (state->key_line[KEY_PRIORITY] && !realtime)
		parse_fail(state, state->key_line[KEY_PRIORITY],
			   "'priority' in %s needs 'policy: fifo' or "
			   "'policy: rr'",
			   parse_section_title(state));
	else if (realtime && !state->key_line[KEY_PRIORITY])
		parse_fail(state, state->key_line[KEY_POLICY],
			   "'policy: %s' in %s needs a 'priority' (1-99)",
			   plan_policy_name(action->policy),
			   parse_section_title(state));
}

static struct plan_rule *parse_new_rule(struct parse_state *state,
					const char *name)
{
	struct plan *plan = state->plan;
	struct plan_rule *more;

	for (size_t i = 0; i < plan->rule_count; i++)
		if (strcmp(plan->rules[i].name, name) == 0) {
			parse_fail(state, state->lineno,
				   "duplicate section [thread %s] (first on "
				   "line %d)",
				   name, plan->rules[i].line);
			return NULL;
		}
	more = realloc(plan->rules, (plan->rule_count + 1) * sizeof(*more));
	if (!more) {
		parse_fail(state, state->lineno, "out of memory");
		return NULL;
	}
	plan->rules = more;
	struct plan_rule *rule = &plan->rules[plan->rule_count];

	memset(rule, 0, sizeof(*rule));
	rule->action.policy = PLAN_POLICY_UNSET;
	rule->line = state->lineno;
	rule->name = strdup(name);
	if (!rule->name) {
		parse_fail(state, state->lineno, "out of memory");
		return NULL;
	}
	plan->rule_count++;
	return rule;
}

/* A section header line, "[name]" already stripped of comments. */
static void parse_section_header(struct parse_state *state, char *line)
{
	size_t length = strlen(line);
	char *name;
	bool *seen = NULL;

	parse_end_section(state);
	memset(state->key_line, 0, sizeof(state->key_line));
	state->action = NULL;
	state->rule = NULL;
	state->section = SECTION_NONE;
	state->section_line = state->lineno;
	if (length < 2 || line[length - 1] != ']') {
		parse_fail(state, state->lineno,
			   "malformed section header '%s', expected "
			   "[klipper-pin], [main], [thread NAME] or [children]",
			   line);
		return;
	}
	line[length - 1] = '\0';
	name = line + 1;
	while (isspace((unsigned char)*name))
		name++;
	for (char *end = name + strlen(name);
	     end > name && isspace((unsigned char)end[-1]);)
		*--end = '\0';

	if (strcmp(name, "klipper-pin") == 0) {
		state->section = SECTION_GLOBAL;
		seen = &state->seen_global;
	} else if (strcmp(name, "main") == 0) {
		state->section = SECTION_MAIN;
		state->action = &state->plan->main;
		seen = &state->seen_main;
	} else if (strcmp(name, "children") == 0) {
		state->section = SECTION_CHILDREN;
		state->action = &state->plan->children;
		seen = &state->seen_children;
	} else if (strncmp(name, "thread", 6) == 0 &&
		   (name[6] == '\0' || isspace((unsigned char)name[6]))) {
		char *rule_name = name + 6;

		while (isspace((unsigned char)*rule_name))
			rule_name++;
		if (*rule_name == '\0') {
			parse_fail(state, state->lineno,
				   "section [thread] needs a name, expected "
				   "[thread NAME]");
			return;
		}
		state->rule = parse_new_rule(state, rule_name);
		if (!state->rule)
			return;
		state->section = SECTION_THREAD;
		state->action = &state->rule->action;
		return;
	} else {
		char first[64];
		const char *hint;

		snprintf(first, sizeof(first), "%.*s",
			 (int)strcspn(name, " \t"), name);
		hint = parse_suggest(first, parse_section_names, 4);
		parse_fail(
			state, state->lineno,
			"unknown section [%s]%s%s%s, expected [klipper-pin], "
			"[main], [thread NAME] or [children]",
			name, hint ? " (did you mean [" : "", hint ? hint : "",
			hint ? "]?)" : "");
		return;
	}
	if (*seen) {
		parse_fail(state, state->lineno, "duplicate section [%s]",
			   name);
		return;
	}
	*seen = true;
}

/* The part of a line before a '#' or ';' comment, as printer.cfg has it:
 * at the start of the line, or after whitespace. */
static void parse_strip_comment(char *line)
{
	for (char *p = line; *p; p++)
		if ((*p == '#' || *p == ';') &&
		    (p == line || isspace((unsigned char)p[-1]))) {
			*p = '\0';
			break;
		}
}

static void parse_trim(char *line)
{
	size_t start = 0, end = strlen(line);

	while (start < end && isspace((unsigned char)line[start]))
		start++;
	while (end > start && isspace((unsigned char)line[end - 1]))
		end--;
	memmove(line, line + start, end - start);
	line[end - start] = '\0';
}

/* Reads one whole line of input into state->line; false at the end. */
static bool parse_next_line(struct parse_state *state)
{
	if (state->input) {
		ssize_t got = getline(&state->line, &state->line_capacity,
				      state->input);

		if (got < 0)
			return false;
		if ((size_t)got != strlen(state->line)) {
			state->lineno++;
			parse_fail(state, state->lineno,
				   "a NUL byte in the line, expected text");
			return false;
		}
		return true;
	}
	if (!state->text || *state->text == '\0')
		return false;
	size_t length = strcspn(state->text, "\n");

	if (length + 1 > state->line_capacity) {
		char *more = realloc(state->line, length + 1);

		/* Not the end of the text: a plan without the rest of it
		 * must not load. */
		if (!more) {
			parse_fail(state, state->lineno + 1, "out of memory");
			return false;
		}
		state->line = more;
		state->line_capacity = length + 1;
	}
	memcpy(state->line, state->text, length);
	state->line[length] = '\0';
	state->text += length + (state->text[length] == '\n');
	return true;
}

/* libinih's reader: hands it each line, cleaned, or stops on an error. */
static char *parse_reader(char *buffer, int size, void *stream)
{
	struct parse_state *state = stream;

	for (;;) {
		if (state->failed || !parse_next_line(state))
			return NULL;
		state->lineno++;
		char *line = state->line;

		if (state->lineno == 1 && strncmp(line, "\xEF\xBB\xBF", 3) == 0)
			line += 3; /* a UTF-8 byte order mark */
		parse_strip_comment(line);
		parse_trim(line);
		if (line[0] == '\0') {
			buffer[0] = '\0';
			return buffer;
		}
		if (line[0] == '[') {
			parse_section_header(state, line);
			if (state->failed)
				return NULL;
			/* libinih needs only to know a section began. */
			snprintf(buffer, (size_t)size, "[s]");
			return buffer;
		}
		if (!strpbrk(line, ":=")) {
			parse_fail(state, state->lineno,
				   "malformed line '%s', expected 'key: value' "
				   "or a [section]",
				   line);
			return NULL;
		}
		if (strlen(line) + 2 > (size_t)size) {
			parse_fail(state, state->lineno,
				   "line too long (%zu bytes; libinih reads at "
				   "most %d): shorten it",
				   strlen(line), size - 2);
			return NULL;
		}
		memcpy(buffer, line, strlen(line) + 1);
		return buffer;
	}
}

/* Keys are matched without regard to case, as Klipper's config reader does. */
static int parse_key_of(const char *name)
{
	for (int key = 0; key < KEY_COUNT; key++)
		if (strcasecmp(parse_keys[key].name, name) == 0)
			return key;
	return -1;
}

/* Joins the words that are not NULL as "a, b or c" into buf. */
static void parse_join(const char *const *words, size_t count, char *buf,
		       size_t len)
{
	size_t total = 0, done = 0, used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < count; i++)
		total += words[i] != NULL;
	for (size_t i = 0; i < count && used < len; i++) {
		const char *glue = done == 0	       ? ""
				   : done + 1 == total ? " or "
						       : ", ";

		if (!words[i])
			continue;
		used += (size_t)snprintf(buf + used, len - used, "%s%s", glue,
					 words[i]);
		done++;
	}
}

static void parse_unknown_key(struct parse_state *state, const char *name)
{
	static const char *const titles[] = {
		"[klipper-pin]",
		"[main]",
		"[thread NAME]",
		"[children]",
	};
	const char *names[KEY_COUNT], *sections[4];
	const char *hint;
	char expected[256];
	int key = parse_key_of(name);
	unsigned here = 1u << state->section;

	for (int i = 0; i < KEY_COUNT; i++)
		names[i] = (parse_keys[i].sections & here) ? parse_keys[i].name
							   : NULL;
	hint = parse_suggest(name, names, KEY_COUNT);
	if (key >= 0) {
		/* Say where it does belong. */
		for (int i = 0; i < 4; i++)
			sections[i] =
				(parse_keys[key].sections & (1u << (i + 1)))
					? titles[i]
					: NULL;
		parse_join(sections, 4, expected, sizeof(expected));
		parse_fail(state, state->lineno,
			   "key '%s' does not belong in %s, only in %s", name,
			   parse_section_title(state), expected);
	} else if (hint) {
		parse_fail(state, state->lineno,
			   "unknown key '%s' in %s (did you mean '%s'?)", name,
			   parse_section_title(state), hint);
	} else {
		parse_join(names, KEY_COUNT, expected, sizeof(expected));
		parse_fail(state, state->lineno,
			   "unknown key '%s' in %s, expected %s", name,
			   parse_section_title(state), expected);
	}
}

static bool parse_integer(const char *value, long low, long high, long *out)
{
	char *end;
	long number;

	if (!*value || isspace((unsigned char)*value))
		return false;
	errno = 0;
	number = strtol(value, &end, 10);
	if (errno || *end || number < low || number > high)
		return false;
	*out = number;
	return true;
}

static void parse_cpus(struct parse_state *state, int key, const char *value)
{
	struct plan_action *action = state->action;
	const char *bad = value;
	enum cpulist_error error;
	int other = key == KEY_CPUS ? KEY_SPREAD : KEY_CPUS;

	if (state->key_line[other]) {
		parse_fail(state, state->lineno,
			   "'cpus' and 'spread' both given in %s (the other on "
			   "line %d), expected one of them",
			   parse_section_title(state), state->key_line[other]);
		return;
	}
	action->cpus_line = state->lineno;
	action->spread = key == KEY_SPREAD;
	if (strcmp(value, "all") == 0) {
		action->cpus_kind = PLAN_CPUS_ALL;
		return;
	}
	if (strcmp(value, "inherit") == 0 && key == KEY_CPUS) {
		action->cpus_kind = PLAN_CPUS_INHERIT;
		return;
	}
	error = cpulist_parse(value, CPULIST_MAX_CPU, &action->cpus, &bad);
	if (error == CPULIST_NO_MEMORY) {
		parse_fail(state, state->lineno, "out of memory");
		return;
	}
	if (error == CPULIST_TOO_BIG) {
		parse_fail(state, state->lineno,
			   "bad CPU list '%s' for '%s': a CPU above %u, the "
			   "most any kernel has",
			   value, parse_keys[key].name, CPULIST_MAX_CPU);
		return;
	}
	if (error) {
		parse_fail(state, state->lineno,
			   "bad CPU list '%s' for '%s' (%s at '%s'), expected "
			   "CPUs as taskset -c takes them (2, 0-1, 0,2-3)%s",
			   value, parse_keys[key].name, cpulist_strerror(error),
			   bad,
			   key == KEY_CPUS ? ", all or inherit" : " or all");
		return;
	}
	action->cpus_kind = PLAN_CPUS_LIST;
}

/* "a|b|c" into its alternatives; none may be empty. */
static void parse_pattern(struct parse_state *state, int key, const char *value,
			  struct plan_pattern *pattern)
{
	size_t count = 1;
	const char *start = value;

	for (const char *p = value; *p; p++)
		count += *p == '|';
	pattern->alternatives = calloc(count, sizeof(char *));
	if (!pattern->alternatives) {
		parse_fail(state, state->lineno, "out of memory");
		return;
	}
	for (;;) {
		size_t length = strcspn(start, "|");
		char *alternative = strndup(start, length);

		if (!alternative) {
			parse_fail(state, state->lineno, "out of memory");
			return;
		}
		parse_trim(alternative);
		pattern->alternatives[pattern->count++] = alternative;
		if (alternative[0] == '\0') {
			parse_fail(state, state->lineno,
				   "empty pattern in '%s: %s', expected a glob "
				   "or globs joined by '|'",
				   parse_keys[key].name, value);
			return;
		}
		if (start[length] == '\0')
			return;
		start += length + 1;
	}
}

static void parse_bool(struct parse_state *state, const char *value, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(value, yes[i]) == 0) {
			*out = true;
			return;
		}
		if (strcasecmp(value, no[i]) == 0) {
			*out = false;
			return;
		}
	}
	parse_fail(state, state->lineno,
		   "bad value '%s' for 'strict', "
		   "expected yes or no",
		   value);
}

static void parse_policy(struct parse_state *state, const char *value)
{
	for (int policy = PLAN_POLICY_OTHER; policy <= PLAN_POLICY_RR; policy++)
		if (strcmp(value, plan_policy_name(policy)) == 0) {
			state->action->policy = policy;
			return;
		}
	parse_fail(state, state->lineno,
		   "bad policy '%s' in %s, expected other, batch, idle, fifo "
		   "or rr",
		   value, parse_section_title(state));
}

static void parse_value(struct parse_state *state, int key, const char *value)
{
	struct plan *plan = state->plan;
	struct plan_action *action = state->action;
	struct plan_rule *rule = state->rule;
	struct plan_error error;
	long number;

	switch (key) {
	case KEY_LOG:
		if (plan_set_log(plan, value, &error))
			parse_fail(state, state->lineno, "%s", error.message);
		break;
	case KEY_LOG_FORMAT:
		if (plan_set_log_format(plan, value, &error))
			parse_fail(state, state->lineno, "%s", error.message);
		break;
	case KEY_STRICT:
		parse_bool(state, value, &plan->strict);
		break;
	case KEY_MATCH_LIBRARY:
		parse_pattern(state, key, value, &rule->match_library);
		break;
	case KEY_MATCH_SYMBOL:
		parse_pattern(state, key, value, &rule->match_symbol);
		break;
	case KEY_MATCH_CALLER:
		parse_pattern(state, key, value, &rule->match_caller);
		break;
	case KEY_MATCH_NAME:
		parse_pattern(state, key, value, &rule->match_name);
		break;
	case KEY_MATCH_INDEX: {
		const char *bad = value;
		enum cpulist_error failure = cpulist_parse(
			value, CPULIST_MAX_INDEX, &rule->match_index, &bad);

		if (failure == CPULIST_NO_MEMORY) {
			parse_fail(state, state->lineno, "out of memory");
		} else if (failure == CPULIST_OK &&
			   cpulist_contains(&rule->match_index, 0)) {
			cpulist_free(&rule->match_index);
			parse_fail(state, state->lineno,
				   "bad match_index '%s': creation numbers "
				   "start at 1 (the first thread created)",
				   value);
		} else if (failure) {
			parse_fail(
				state, state->lineno,
				"bad match_index '%s' (%s at '%s'), expected "
				"creation numbers as a list: 1, 2-4, 1,3",
				value, cpulist_strerror(failure), bad);
		}
		break;
	}
	case KEY_CPUS:
	case KEY_SPREAD:
		parse_cpus(state, key, value);
		break;
	case KEY_RENAME:
		if (value[0] == '\0' || strlen(value) > 15)
			parse_fail(
				state, state->lineno,
				"bad rename '%s', expected a name of 1 to 15 "
				"bytes (the kernel's limit)",
				value);
		else
			snprintf(action->rename, sizeof(action->rename), "%s",
				 value);
		break;
	case KEY_POLICY:
		parse_policy(state, value);
		break;
	case KEY_PRIORITY:
		if (!parse_integer(value, 1, 99, &number))
			parse_fail(state, state->lineno,
				   "bad priority '%s', expected a whole number "
				   "from 1 to 99",
				   value);
		else
			action->priority = (int)number;
		break;
	case KEY_NICE:
		if (!parse_integer(value, -20, 19, &number)) {
			parse_fail(
				state, state->lineno,
				"bad nice '%s', expected a whole number from "
				"-20 to 19",
				value);
		} else {
			action->has_nice = true;
			action->nice = (int)number;
		}
		break;
	}
}

/* libinih's handler: one key and value, on line state->lineno. */
static int parse_handler(void *user, const char *section, const char *name,
			 const char *value)
{
	struct parse_state *state = user;
	int key;

	(void)section;
	if (state->failed)
		return 0;
	if (state->section == SECTION_NONE) {
		parse_fail(state, state->lineno,
			   "key '%s' outside any section, expected a section "
			   "such as [main] first",
			   name);
		return 0;
	}
	key = parse_key_of(name);
	if (key < 0 || !(parse_keys[key].sections & (1u << state->section))) {
		parse_unknown_key(state, name);
		return 0;
	}
	if (state->key_line[key]) {
		parse_fail(state, state->lineno,
			   "duplicate key '%s' in %s (first on line %d)", name,
			   parse_section_title(state), state->key_line[key]);
		return 0;
	}
	if (value[0] == '\0' && key != KEY_CPUS && key != KEY_SPREAD) {
		parse_fail(state, state->lineno, "empty value for '%s' in %s",
			   name, parse_section_title(state));
		return 0;
	}
	parse_value(state, key, value);
	state->key_line[key] = state->lineno;
	return !state->failed;
}

static int parse_run(struct plan *plan, struct parse_state *state)
{
	int result;

	memset(plan, 0, sizeof(*plan));
	plan->main.policy = PLAN_POLICY_UNSET;
	plan->children.policy = PLAN_POLICY_UNSET;
	plan->source = strdup(state->file);
	if (!plan->source) {
		parse_fail(state, 0, "out of memory");
		goto fail;
	}
	state->plan = plan;
	result = ini_parse_stream(parse_reader, state, parse_handler, state);
	if (!state->failed)
		parse_end_section(state);
	if (!state->failed && result != 0)
		parse_fail(state, result,
			   "malformed line, expected 'key: "
			   "value' or a [section]");
	free(state->line);
	if (!state->failed)
		return 0;
fail:
	plan_free(plan);
	return -1;
}

int plan_load_text(struct plan *plan, const char *text, const char *file,
		   struct plan_error *error)
{
	struct parse_state state = {
		.file = file,
		.error = error,
		.text = text,
	};

	return parse_run(plan, &state);
}

int plan_load_file(struct plan *plan, const char *path,
		   struct plan_error *error)
{
	struct parse_state state = { .file = path, .error = error };
	int result;

	state.input = fopen(path, "re");
	if (!state.input) {
		memset(plan, 0, sizeof(*plan));
		snprintf(error->file, sizeof(error->file), "%s", path);
		error->line = 0;
		snprintf(error->message, sizeof(error->message),
			 "cannot read the config: %s", strerror(errno));
		return -1;
	}
	result = parse_run(plan, &state);
	if (result == 0 && ferror(state.input)) {
		plan_free(plan);
		snprintf(error->file, sizeof(error->file), "%s", path);
		error->line = 0;
		snprintf(error->message, sizeof(error->message),
			 "cannot read the config: read error");
		result = -1;
	}
	fclose(state.input);
	return result;
}
