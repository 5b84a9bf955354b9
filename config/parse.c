/*
 * Reading the config file: Klipper-style INI through libinih. libinih (as
 * Debian builds it) reads at most 200 bytes of a line, knows only ';'
 * inline comments and gives its handler no line numbers, so each line goes
 * through our reader first: it counts lines, strips comments, reads section
 * headers itself and keeps a line too long for libinih on the side (see
 * parse_reader). Every error is reported, each with its line, in file
 * order; parsing goes on after one.
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
#include <sys/stat.h>

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

/* Bytes of a user's text quoted in a message; the rest becomes "...". */
#define PARSE_SHOWN 64
/* Room for PARSE_SHOWN bytes each escaped as \xNN, "..." and a NUL. */
#define PARSE_SHOWN_SIZE (PARSE_SHOWN * 4 + 4)
#define PARSE_MESSAGE_SIZE sizeof(((struct plan_error *)0)->message)

/* An error of the section being read, not yet handed to plan_error_add. */
struct parse_pending {
	int line;
	char message[PARSE_MESSAGE_SIZE];
};

struct parse_state {
	struct plan *plan;
	const char *file;
	struct plan_error *error;
	size_t errors; /* found by this load */
	bool stop;     /* out of memory: what follows cannot be trusted */

	/* the input: a FILE, or text in memory */
	FILE *input;
	const char *text;
	char *line;
	size_t line_capacity;
	bool line_has_nul;
	int lineno;

	/* A key and value too long for libinih, kept in line (see
	 * parse_reader); valid until the next line is read. */
	bool stashed;
	const char *stash_key, *stash_value;

	/* plan->rules grows by doubling; names finds a rule by its name:
	 * open addressing, each slot an index into rules plus 1 (0: free). */
	size_t rule_capacity;
	size_t *names;
	size_t name_slots; /* a power of two, or 0 */

	/*
	 * Where this section's keys go: plan, or scratch for a section that
	 * cannot be in the plan (a duplicate, [thread] with no name), whose
	 * keys are still checked and then dropped.
	 */
	struct plan *target;
	struct plan scratch;
	size_t scratch_capacity;

	enum parse_section section;
	bool skip_keys; /* under a broken header: its keys are not checked */
	struct plan_action *action;
	struct plan_rule *rule;
	int key_line[KEY_COUNT]; /* 0: not given in this section */
	unsigned key_bad;	 /* a bit per key given with a bad value */
	bool seen_main, seen_children, seen_global;

	/*
	 * The section's errors, in line order: a check at its end (priority
	 * without fifo) is about a line before errors already found. Only
	 * as many as a plan_error keeps; the others are counted.
	 */
	struct parse_pending pending[PLAN_ERRORS_KEPT + 1];
	size_t pending_count, pending_dropped;

	char shown[4][PARSE_SHOWN_SIZE]; /* parse_show's, in turn */
	unsigned shown_next;
	char title[PARSE_SHOWN_SIZE + 16];
};

/*
 * Copies text into out (of size bytes) as a message may show it: a byte
 * outside printable ASCII as \xNN, so that an ESC in a key never reaches a
 * terminal raw, and cut with "..." after limit bytes or when out is full.
 */
static void parse_escape(char *out, size_t size, const char *text, size_t limit)
{
	static const char hex[] = "0123456789abcdef";
	size_t used = 0;

	for (size_t i = 0; text[i]; i++) {
		unsigned char c = (unsigned char)text[i];
		size_t need = c >= 0x20 && c < 0x7f ? 1 : 4;

		if (i == limit || used + need + 4 > size) {
			memcpy(out + used, "...", 3);
			used += 3;
			break;
		}
		if (need == 1) {
			out[used++] = (char)c;
			continue;
		}
		out[used++] = '\\';
		out[used++] = 'x';
		out[used++] = hex[c >> 4];
		out[used++] = hex[c & 15];
	}
	out[used] = '\0';
}

/* A user's text, escaped and cut for a message; four can be in use. */
static const char *parse_show(struct parse_state *state, const char *text)
{
	char *out = state->shown[state->shown_next++ % 4];

	parse_escape(out, PARSE_SHOWN_SIZE, text, PARSE_SHOWN);
	return out;
}

static void parse_fail(struct parse_state *state, int line, const char *format,
		       ...) __attribute__((format(printf, 3, 4)));

/* Records an error of the section being read, keeping line order. */
static void parse_fail(struct parse_state *state, int line, const char *format,
		       ...)
{
	struct parse_pending *pending = state->pending;
	size_t at = state->pending_count;
	char message[PARSE_MESSAGE_SIZE];
	va_list args;

	va_start(args, format);
	/* va_start is just above; clang 14's checker loses it. */
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized) */
	vsnprintf(message, sizeof(message), format, args);
	va_end(args);
	state->errors++;
	while (at > 0 && pending[at - 1].line > line)
		at--;
	if (at == PLAN_ERRORS_KEPT + 1) {
		state->pending_dropped++;
		return;
	}
	if (state->pending_count == PLAN_ERRORS_KEPT + 1) {
		state->pending_count--;
		state->pending_dropped++;
	}
	memmove(&pending[at + 1], &pending[at],
		(state->pending_count - at) * sizeof(*pending));
	pending[at].line = line;
	memcpy(pending[at].message, message, sizeof(message));
	state->pending_count++;
}

/* Out of memory: said once, and nothing more is read. */
static void parse_no_memory(struct parse_state *state, int line)
{
	parse_fail(state, line, "out of memory");
	state->stop = true;
}

/* Hands the section's errors over, in line order. */
static void parse_flush(struct parse_state *state)
{
	for (size_t i = 0; i < state->pending_count; i++)
		plan_error_add(state->error, state->file,
			       state->pending[i].line, "%s",
			       state->pending[i].message);
	/* Dropped ones come after PLAN_ERRORS_KEPT + 1 kept: only counted. */
	for (size_t i = 0; i < state->pending_dropped; i++)
		plan_error_add(state->error, state->file, 0, "%s", "");
	state->pending_count = 0;
	state->pending_dropped = 0;
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

/*
 * The closest of names (all lower case) to the first length bytes of word,
 * whatever their case, if close enough to be a slip.
 */
static const char *parse_suggest(const char *word, size_t length,
				 const char *const *names, size_t count)
{
	const char *best = NULL;
	size_t best_distance = 3;
	char lower[64];

	if (length >= sizeof(lower))
		return NULL;
	for (size_t i = 0; i < length; i++)
		lower[i] = (char)tolower((unsigned char)word[i]);
	lower[length] = '\0';
	for (size_t i = 0; i < count; i++) {
		size_t distance;

		if (!names[i])
			continue;
		distance = parse_distance(lower, names[i]);
		if (distance < best_distance) {
			best = names[i];
			best_distance = distance;
		}
	}
	return best;
}

static const char *parse_section_title(struct parse_state *state)
{
	if (state->section == SECTION_THREAD && !state->rule->name[0])
		snprintf(state->title, sizeof(state->title), "[thread]");
	else if (state->section == SECTION_THREAD)
		snprintf(state->title, sizeof(state->title), "[thread %s]",
			 parse_show(state, state->rule->name));
	else
		snprintf(state->title, sizeof(state->title), "[%s]",
			 parse_section_names[state->section - 1]);
	return state->title;
}

/* Ends a section: checks keys that depend on each other, hands its errors
 * over, drops a scratch section. */
static void parse_end_section(struct parse_state *state)
{
	struct plan_action *action = state->action;
	unsigned depend = 1u << KEY_POLICY | 1u << KEY_PRIORITY;

	/* A bad policy or priority is reported already: no second error
	 * about the pair. */
	if (action && !state->stop && !(state->key_bad & depend)) {
		bool realtime = action->policy == PLAN_POLICY_FIFO ||
				action->policy == PLAN_POLICY_RR;

		if (state->key_line[KEY_PRIORITY] && !realtime)
			parse_fail(state, state->key_line[KEY_PRIORITY],
				   "'priority' in %s needs 'policy: fifo' or "
				   "'policy: rr'",
				   parse_section_title(state));
		else if (realtime && !state->key_line[KEY_PRIORITY])
			parse_fail(state, state->key_line[KEY_POLICY],
				   "'policy: %s' in %s needs a 'priority' "
				   "(1-99)",
				   plan_policy_name(action->policy),
				   parse_section_title(state));
	}
	parse_flush(state);
	if (state->target == &state->scratch) {
		plan_free(&state->scratch);
		state->scratch_capacity = 0;
	}
	state->target = state->plan;
	state->section = SECTION_NONE;
	state->skip_keys = false;
	state->action = NULL;
	state->rule = NULL;
	memset(state->key_line, 0, sizeof(state->key_line));
	state->key_bad = 0;
}

/* FNV-1a: rule names are short and few collide. */
static size_t parse_hash(const char *name)
{
	uint32_t hash = 2166136261u;

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		hash = (hash ^ *p) * 16777619u;
	return hash;
}

/* The rule of the plan with this name, or NULL. */
static const struct plan_rule *parse_find_rule(const struct parse_state *state,
					       const char *name)
{
	const struct plan *plan = state->plan;
	size_t mask = state->name_slots - 1;

	if (!state->name_slots)
		return NULL;
	for (size_t i = parse_hash(name) & mask; state->names[i];
	     i = (i + 1) & mask) {
		const struct plan_rule *rule =
			&plan->rules[state->names[i] - 1];

		if (strcmp(rule->name, name) == 0)
			return rule;
	}
	return NULL;
}

static void parse_index_name(struct parse_state *state, size_t index)
{
	size_t mask = state->name_slots - 1;
	size_t i = parse_hash(state->plan->rules[index].name) & mask;

	while (state->names[i])
		i = (i + 1) & mask;
	state->names[i] = index + 1;
}

/* Room in the name table for one more rule, at most half full. */
static int parse_grow_names(struct parse_state *state)
{
	size_t count = state->plan->rule_count, slots = state->name_slots;

	if ((count + 1) * 2 <= slots)
		return 0;
	slots = slots ? slots * 2 : 16;
	if (slots > SIZE_MAX / sizeof(size_t))
		return -1;
	size_t *names = calloc(slots, sizeof(size_t));

	if (!names)
		return -1;
	free(state->names);
	state->names = names;
	state->name_slots = slots;
	for (size_t i = 0; i < count; i++)
		parse_index_name(state, i);
	return 0;
}

/* A new, empty rule at the end of plan's, whose array grows by doubling. */
static struct plan_rule *parse_append_rule(struct parse_state *state,
					   struct plan *plan, size_t *capacity,
					   const char *name)
{
	struct plan_rule *rule;

	if (plan->rule_count == *capacity) {
		size_t more = *capacity ? *capacity * 2 : 8;
		struct plan_rule *rules;

		if (more > SIZE_MAX / sizeof(*rules))
			return NULL;
		rules = realloc(plan->rules, more * sizeof(*rules));
		if (!rules)
			return NULL;
		plan->rules = rules;
		*capacity = more;
	}
	rule = &plan->rules[plan->rule_count];
	memset(rule, 0, sizeof(*rule));
	rule->action.policy = PLAN_POLICY_UNSET;
	rule->line = state->lineno;
	rule->name = strdup(name);
	if (!rule->name)
		return NULL;
	plan->rule_count++;
	return rule;
}

/* The rule of a [thread NAME] section: in the plan, or in the scratch plan
 * when the name is taken already or missing; NULL when out of memory. */
static struct plan_rule *parse_new_rule(struct parse_state *state,
					const char *name)
{
	const struct plan_rule *first = NULL;
	struct plan_rule *rule;

	if (!name[0]) {
		parse_fail(state, state->lineno,
			   "section [thread] needs a name, expected "
			   "[thread NAME]");
	} else {
		first = parse_find_rule(state, name);
		if (first)
			parse_fail(state, state->lineno,
				   "duplicate section [thread %s] (first on "
				   "line %d)",
				   parse_show(state, name), first->line);
	}
	if (!name[0] || first) {
		state->target = &state->scratch;
		return parse_append_rule(state, &state->scratch,
					 &state->scratch_capacity, name);
	}
	if (parse_grow_names(state))
		return NULL;
	rule = parse_append_rule(state, state->plan, &state->rule_capacity,
				 name);
	if (rule)
		parse_index_name(state, state->plan->rule_count - 1);
	return rule;
}

/* The hint for an unknown section: "[mian]", "[MAIN]", "[threads x]". */
static void parse_unknown_section(struct parse_state *state, const char *name)
{
	size_t length = strcspn(name, " \t");
	const char *rest = name + length;
	const char *hint = parse_suggest(name, length, parse_section_names, 4);
	const char *lower = "";
	char guess[PARSE_SHOWN_SIZE + 16] = "";

	/* "[thread_serial]", "[thread:serial]": a rule meant. */
	if (strncasecmp(name, "thread", 6) == 0 && strchr("_-:.", name[6]) &&
	    name[6] && name[7]) {
		hint = "thread";
		rest = name + 7;
	}
	while (isspace((unsigned char)*rest))
		rest++;
	if (hint && strcmp(hint, "thread") == 0)
		snprintf(guess, sizeof(guess), "[thread %s]",
			 *rest ? parse_show(state, rest) : "NAME");
	else if (hint)
		snprintf(guess, sizeof(guess), "[%s]", hint);
	/* Section names are matched exactly, as Klipper matches its own;
	 * only keys are read without regard to case. */
	if (hint && strlen(hint) == length &&
	    strncasecmp(hint, name, length) == 0)
		lower = " section names are lower case";
	parse_fail(state, state->lineno,
		   "unknown section [%s]%s%s%s%s%s, expected [klipper-pin], "
		   "[main], [thread NAME] or [children]",
		   parse_show(state, name), hint ? " (did you mean " : "",
		   guess, hint ? "?" : "", lower, hint ? ")" : "");
}

/* A section header line, "[name]" already stripped of comments. */
static void parse_section_header(struct parse_state *state, char *line)
{
	size_t length = strlen(line);
	char *name;
	bool *seen;

	parse_end_section(state);
	if (length < 2 || line[length - 1] != ']') {
		parse_fail(state, state->lineno,
			   "malformed section header '%s', expected "
			   "[klipper-pin], [main], [thread NAME] or [children]",
			   parse_show(state, line));
		state->skip_keys = true;
		return;
	}
	line[length - 1] = '\0';
	name = line + 1;
	while (isspace((unsigned char)*name))
		name++;
	for (char *end = name + strlen(name);
	     end > name && isspace((unsigned char)end[-1]);)
		*--end = '\0';

	if (strncmp(name, "thread", 6) == 0 &&
	    (name[6] == '\0' || isspace((unsigned char)name[6]))) {
		char *rule_name = name + 6;

		while (isspace((unsigned char)*rule_name))
			rule_name++;
		state->rule = parse_new_rule(state, rule_name);
		if (!state->rule) {
			parse_no_memory(state, state->lineno);
			return;
		}
		state->section = SECTION_THREAD;
		state->action = &state->rule->action;
		return;
	}
	if (strcmp(name, "klipper-pin") == 0) {
		state->section = SECTION_GLOBAL;
		seen = &state->seen_global;
	} else if (strcmp(name, "main") == 0) {
		state->section = SECTION_MAIN;
		seen = &state->seen_main;
	} else if (strcmp(name, "children") == 0) {
		state->section = SECTION_CHILDREN;
		seen = &state->seen_children;
	} else {
		parse_unknown_section(state, name);
		state->skip_keys = true;
		return;
	}
	if (*seen) {
		parse_fail(state, state->lineno, "duplicate section [%s]",
			   name);
		state->target = &state->scratch;
	}
	*seen = true;
	if (state->section == SECTION_MAIN)
		state->action = &state->target->main;
	else if (state->section == SECTION_CHILDREN)
		state->action = &state->target->children;
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

/* Reads one whole line of input, of any length, into state->line; false
 * at the end (or when out of memory, with state->stop). */
static bool parse_next_line(struct parse_state *state)
{
	state->line_has_nul = false;
	if (state->input) {
		ssize_t got = getline(&state->line, &state->line_capacity,
				      state->input);

		if (got < 0)
			return false;
		state->line_has_nul = (size_t)got != strlen(state->line);
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
			parse_no_memory(state, state->lineno + 1);
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

/*
 * libinih's reader: hands it each line, cleaned. A line with an error is
 * reported here and handed on blank, so that libinih reads on.
 *
 * libinih reads at most size - 2 bytes of a line (198 as Debian builds
 * it). A longer key-value line is split here as libinih would split it,
 * at its first ':' or '=', into state->stash_key and stash_value, which
 * point into state->line; libinih gets a short stand-in, "k=v", and the
 * handler, seeing state->stashed, takes the stashed key and value instead
 * of the stand-in's. So no line is cut, whatever its length, and libinih
 * still parses every line that fits it.
 */
static char *parse_reader(char *buffer, int size, void *stream)
{
	struct parse_state *state = stream;
	char *line, *separator, *value;

	state->stashed = false;
	if (state->stop || !parse_next_line(state))
		return NULL;
	state->lineno++;
	buffer[0] = '\0';
	if (state->line_has_nul) {
		parse_fail(state, state->lineno,
			   "a NUL byte in the line, expected text");
		return buffer;
	}
	line = state->line;
	if (state->lineno == 1 && strncmp(line, "\xEF\xBB\xBF", 3) == 0)
		line += 3; /* a UTF-8 byte order mark */
	parse_strip_comment(line);
	parse_trim(line);
	if (line[0] == '\0')
		return buffer;
	if (line[0] == '[') {
		parse_section_header(state, line);
		/* libinih needs only to know a section began. */
		snprintf(buffer, (size_t)size, "[s]");
		return buffer;
	}
	separator = strpbrk(line, ":=");
	if (!separator) {
		parse_fail(state, state->lineno,
			   "malformed line '%s', expected 'key: value' or a "
			   "[section]",
			   parse_show(state, line));
		return buffer;
	}
	if (strlen(line) + 2 <= (size_t)size) {
		memcpy(buffer, line, strlen(line) + 1);
		return buffer;
	}
	*separator = '\0';
	parse_trim(line);
	value = separator + 1;
	while (isspace((unsigned char)*value))
		value++;
	state->stash_key = line;
	state->stash_value = value;
	state->stashed = true;
	snprintf(buffer, (size_t)size, "k=v");
	return buffer;
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
	hint = parse_suggest(name, strlen(name), names, KEY_COUNT);
	if (key >= 0) {
		/* Say where it does belong. */
		for (int i = 0; i < 4; i++)
			sections[i] =
				(parse_keys[key].sections & (1u << (i + 1)))
					? titles[i]
					: NULL;
		parse_join(sections, 4, expected, sizeof(expected));
		parse_fail(state, state->lineno,
			   "key '%s' does not belong in %s, only in %s",
			   parse_show(state, name), parse_section_title(state),
			   expected);
	} else if (hint) {
		/* A misspelt 'priority' is not also a missing one. */
		state->key_bad |= 1u << parse_key_of(hint);
		parse_fail(state, state->lineno,
			   "unknown key '%s' in %s (did you mean '%s'?)",
			   parse_show(state, name), parse_section_title(state),
			   hint);
	} else {
		parse_join(names, KEY_COUNT, expected, sizeof(expected));
		parse_fail(state, state->lineno,
			   "unknown key '%s' in %s, expected %s",
			   parse_show(state, name), parse_section_title(state),
			   expected);
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
		parse_no_memory(state, state->lineno);
		return;
	}
	if (error == CPULIST_TOO_BIG) {
		parse_fail(state, state->lineno,
			   "bad CPU list '%s' for '%s': a CPU above %u, the "
			   "most any kernel has",
			   parse_show(state, value), parse_keys[key].name,
			   CPULIST_MAX_CPU);
		return;
	}
	if (error) {
		parse_fail(state, state->lineno,
			   "bad CPU list '%s' for '%s' (%s at '%s'), expected "
			   "CPUs as taskset -c takes them (2, 0-1, 0,2-3) or "
			   "named from the last online one (last, last-1, "
			   "0-last-2)%s",
			   parse_show(state, value), parse_keys[key].name,
			   cpulist_strerror(error), parse_show(state, bad),
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
		parse_no_memory(state, state->lineno);
		return;
	}
	for (;;) {
		size_t length = strcspn(start, "|");
		char *alternative = strndup(start, length);

		if (!alternative) {
			parse_no_memory(state, state->lineno);
			return;
		}
		parse_trim(alternative);
		pattern->alternatives[pattern->count++] = alternative;
		if (alternative[0] == '\0') {
			parse_fail(state, state->lineno,
				   "empty pattern in '%s: %s', expected a glob "
				   "or globs joined by '|'",
				   parse_keys[key].name,
				   parse_show(state, value));
			return;
		}
		if (start[length] == '\0')
			return;
		start += length + 1;
	}
}

/* The words Klipper's config takes for a boolean. */
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
		   "bad value '%s' for 'strict', expected yes, no, true, "
		   "false, on, off, 1 or 0",
		   parse_show(state, value));
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
		   parse_show(state, value), parse_section_title(state));
}

/* What plan_set_log or plan_set_log_format said, escaped: it quotes the
 * value as written. */
static void parse_log_error(struct parse_state *state,
			    const struct plan_error *error)
{
	char message[PARSE_MESSAGE_SIZE];

	if (strcmp(error->message, "out of memory") == 0) {
		parse_no_memory(state, state->lineno);
		return;
	}
	parse_escape(message, sizeof(message), error->message, SIZE_MAX);
	parse_fail(state, state->lineno, "%s", message);
}

static void parse_value(struct parse_state *state, int key, const char *value)
{
	struct plan *target = state->target;
	struct plan_action *action = state->action;
	struct plan_rule *rule = state->rule;
	long number;

	switch (key) {
	case KEY_LOG:
	case KEY_LOG_FORMAT: {
		struct plan_error error = { .line = 0 };

		if (key == KEY_LOG ? plan_set_log(target, value, &error)
				   : plan_set_log_format(target, value, &error))
			parse_log_error(state, &error);
		break;
	}
	case KEY_STRICT:
		parse_bool(state, value, &target->strict);
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
			parse_no_memory(state, state->lineno);
		} else if (failure == CPULIST_OK &&
			   cpulist_contains(&rule->match_index, 0)) {
			cpulist_free(&rule->match_index);
			parse_fail(state, state->lineno,
				   "bad match_index '%s': creation numbers "
				   "start at 1 (the first thread created)",
				   parse_show(state, value));
		} else if (failure) {
			parse_fail(
				state, state->lineno,
				"bad match_index '%s' (%s at '%s'), expected "
				"creation numbers as a list: 1, 2-4, 1,3",
				parse_show(state, value),
				cpulist_strerror(failure),
				parse_show(state, bad));
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
				parse_show(state, value));
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
				   parse_show(state, value));
		else
			action->priority = (int)number;
		break;
	case KEY_NICE:
		if (!parse_integer(value, -20, 19, &number)) {
			parse_fail(
				state, state->lineno,
				"bad nice '%s', expected a whole number from "
				"-20 to 19",
				parse_show(state, value));
		} else {
			action->has_nice = true;
			action->nice = (int)number;
		}
		break;
	}
}

/* libinih's handler: one key and value, on line state->lineno. Returns 0
 * on an error, which libinih notes and reads on. */
static int parse_handler(void *user, const char *section, const char *name,
			 const char *value)
{
	struct parse_state *state = user;
	size_t errors = state->errors;
	int key;

	(void)section;
	if (state->stashed) {
		name = state->stash_key;
		value = state->stash_value;
	}
	if (state->stop || state->skip_keys)
		return 1;
	if (state->section == SECTION_NONE) {
		parse_fail(state, state->lineno,
			   "key '%s' outside any section, expected a section "
			   "such as [main] first",
			   parse_show(state, name));
		/* One missing header: its keys are not each an error. */
		state->skip_keys = true;
		return 0;
	}
	key = parse_key_of(name);
	if (key < 0 || !(parse_keys[key].sections & (1u << state->section))) {
		parse_unknown_key(state, name);
		return 0;
	}
	if (state->key_line[key]) {
		parse_fail(state, state->lineno,
			   "duplicate key '%s' in %s (first on line %d)",
			   parse_show(state, name), parse_section_title(state),
			   state->key_line[key]);
		return 0;
	}
	state->key_line[key] = state->lineno;
	if (value[0] == '\0' && key != KEY_CPUS && key != KEY_SPREAD)
		parse_fail(state, state->lineno, "empty value for '%s' in %s",
			   parse_show(state, name), parse_section_title(state));
	else
		parse_value(state, key, value);
	if (state->errors == errors)
		return 1;
	state->key_bad |= 1u << key;
	return 0;
}

static int parse_run(struct plan *plan, struct parse_state *state)
{
	int result;

	memset(plan, 0, sizeof(*plan));
	plan->main.policy = PLAN_POLICY_UNSET;
	plan->children.policy = PLAN_POLICY_UNSET;
	state->plan = plan;
	state->target = plan;
	state->scratch.main.policy = PLAN_POLICY_UNSET;
	state->scratch.children.policy = PLAN_POLICY_UNSET;
	plan->source = strdup(state->file);
	if (!plan->source) {
		parse_no_memory(state, 0);
		parse_flush(state);
		plan_free(plan);
		return -1;
	}
	result = ini_parse_stream(parse_reader, state, parse_handler, state);
	parse_end_section(state);
	/* Every error libinih sees is one of ours, reported already. */
	if (state->errors == 0 && result != 0) {
		parse_fail(state, result,
			   "malformed line, expected 'key: value' or a "
			   "[section]");
		parse_flush(state);
	}
	free(state->line);
	free(state->names);
	plan_free(&state->scratch);
	if (state->errors == 0)
		return 0;
	plan_free(plan);
	return -1;
}

/* The state is large (the pending errors): on the heap, not the stack of
 * whatever thread loads a plan. */
static struct parse_state *parse_new_state(const char *file,
					   struct plan_error *error)
{
	struct parse_state *state = calloc(1, sizeof(*state));

	if (state) {
		state->file = file;
		state->error = error;
	}
	return state;
}

int plan_load_text(struct plan *plan, const char *text, const char *file,
		   struct plan_error *error)
{
	struct parse_state *state = parse_new_state(file, error);
	int result;

	if (!state) {
		memset(plan, 0, sizeof(*plan));
		plan_error_add(error, file, 0, "out of memory");
		return -1;
	}
	state->text = text;
	result = parse_run(plan, state);
	free(state);
	return result;
}

int plan_load_file(struct plan *plan, const char *path,
		   struct plan_error *error)
{
	struct parse_state *state;
	struct stat status;
	FILE *input;
	int result;

	memset(plan, 0, sizeof(*plan));
	input = fopen(path, "re");
	if (!input) {
		plan_error_add(error, path, 0, "cannot read the config: %s",
			       strerror(errno));
		return -1;
	}
	/* fopen opens a directory; reading it would fail with EISDIR. */
	if (fstat(fileno(input), &status) == 0 && S_ISDIR(status.st_mode)) {
		fclose(input);
		plan_error_add(error, path, 0,
			       "cannot read the config: is a directory, "
			       "expected a file");
		return -1;
	}
	state = parse_new_state(path, error);
	if (!state) {
		fclose(input);
		plan_error_add(error, path, 0, "out of memory");
		return -1;
	}
	state->input = input;
	result = parse_run(plan, state);
	if (ferror(input)) {
		/* A plan without the rest of the file must not load. */
		plan_free(plan);
		plan_error_add(error, path, 0,
			       "cannot read the config: read error");
		result = -1;
	}
	free(state);
	fclose(input);
	return result;
}
