/*
 * Unit tests of the placement log's line format (shim_log_format in
 * shim/log.c), text and JSON: every field the SPEC lists, NULL fields,
 * names that need quoting or escaping, negative nice, config events, and
 * events too long for one line. Lines are checked by parsing them back
 * (a small parser for flat JSON objects and for key=value text below),
 * so that "valid JSON" and "splits cleanly on spaces" are what is tested.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"

/* ---- reading lines back ------------------------------------------------- */

#define FIELDS_MAX 32

enum value_kind { VALUE_STRING, VALUE_NUMBER, VALUE_NULL };

struct field {
	char key[32];
	enum value_kind kind;
	char value[SHIM_LOG_LINE_MAX]; /* decoded; the digits for a number */
};

struct fields {
	size_t count;
	struct field field[FIELDS_MAX];
};

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A JSON string at *p into out (decoded); false when not valid. Only
 * \u escapes below 0x100 are decoded, which is all the log writes; those
 * from 0x80 stand for a byte that is not UTF-8, and decode to that byte. */
static bool read_json_string(const char **p, char *out, size_t len)
{
	const char *s = *p;
	size_t used = 0;

	if (*s++ != '"')
		return false;
	while (*s != '"') {
		char c = *s++;

		if (c == '\0' || (unsigned char)c < 0x20 || used + 1 >= len)
			return false;
		if (c == '\\') {
			c = *s++;
			switch (c) {
			case '"':
			case '\\':
			case '/':
				break;
			case 'n':
				c = '\n';
				break;
			case 't':
				c = '\t';
				break;
			case 'r':
				c = '\r';
				break;
			case 'b':
				c = '\b';
				break;
			case 'f':
				c = '\f';
				break;
			case 'x': {
				int high = hex_digit(*s++), low;

				if (high < 0 || (low = hex_digit(*s++)) < 0)
					return false;
				c = (char)(high * 16 + low);
				break;
			}
			case 'u': {
				int code = 0;

				for (int i = 0; i < 4; i++) {
					int digit = hex_digit(*s++);

					if (digit < 0)
						return false;
					code = code * 16 + digit;
				}
				if (code >= 0x100)
					return false;
				c = (char)code;
				break;
			}
			default:
				return false;
			}
		}
		out[used++] = c;
	}
	out[used] = '\0';
	*p = s + 1;
	return true;
}

/* A JSON number (integer or decimal, maybe negative): its text. */
static bool read_json_number(const char **p, char *out, size_t len)
{
	const char *s = *p;
	size_t used = 0;

	if (*s == '-')
		out[used++] = *s++;
	if (*s < '0' || *s > '9')
		return false;
	if (*s == '0' && s[1] >= '0' && s[1] <= '9')
		return false; /* no leading zeros in JSON */
	while ((*s >= '0' && *s <= '9') || *s == '.') {
		if (used + 1 >= len)
			return false;
		out[used++] = *s++;
	}
	if (s[-1] == '.')
		return false;
	out[used] = '\0';
	*p = s;
	return true;
}

/* Is text well-formed UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF)? */
static bool is_utf8(const char *text)
{
	const unsigned char *p = (const unsigned char *)text;

	while (*p) {
		unsigned char lo = 0x80, hi = 0xbf;
		size_t more;

		if (*p < 0x80) {
			p++;
			continue;
		}
		if (*p >= 0xc2 && *p <= 0xdf)
			more = 1;
		else if (*p >= 0xe0 && *p <= 0xef)
			more = 2;
		else if (*p >= 0xf0 && *p <= 0xf4)
			more = 3;
		else
			return false;
		/* the second byte's range rules out overlongs, surrogates
		 * and code points above U+10FFFF */
		if (*p == 0xe0)
			lo = 0xa0;
		else if (*p == 0xed)
			hi = 0x9f;
		else if (*p == 0xf0)
			lo = 0x90;
		else if (*p == 0xf4)
			hi = 0x8f;
		p++;
		if (*p < lo || *p > hi)
			return false;
		for (p++; --more; p++)
			if (*p < 0x80 || *p > 0xbf)
				return false;
	}
	return true;
}

/* Parses a line that must be one flat JSON object and a '\n', no more. */
static void parse_json_line(const char *line, struct fields *fields)
{
	const char *p = line;

	memset(fields, 0, sizeof(*fields));
	if (!is_utf8(line))
		fail_msg("JSON must be UTF-8: %s", line);
	if (*p++ != '{')
		fail_msg("not a JSON object: %s", line);
	for (;;) {
		struct field *f = &fields->field[fields->count];

		if (fields->count == FIELDS_MAX)
			fail_msg("too many fields: %s", line);
		if (!read_json_string(&p, f->key, sizeof(f->key)) ||
		    *p++ != ':')
			fail_msg("bad key at '%s' in %s", p, line);
		if (*p == '"') {
			f->kind = VALUE_STRING;
			if (!read_json_string(&p, f->value, sizeof(f->value)))
				fail_msg("bad string at '%s' in %s", p, line);
		} else if (strncmp(p, "null", 4) == 0) {
			f->kind = VALUE_NULL;
			p += 4;
		} else {
			f->kind = VALUE_NUMBER;
			if (!read_json_number(&p, f->value, sizeof(f->value)))
				fail_msg("bad value at '%s' in %s", p, line);
		}
		for (size_t i = 0; i < fields->count; i++)
			if (strcmp(fields->field[i].key, f->key) == 0)
				fail_msg("key '%s' twice in %s", f->key, line);
		fields->count++;
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p++ != '}')
			fail_msg("expected ',' or '}' at '%s' in %s", p - 1,
				 line);
		break;
	}
	if (strcmp(p, "\n") != 0)
		fail_msg("expected only a newline after the object, got '%s'",
			 p);
}

/* Parses a text line: "klipper-pin: " and key=value pairs split by single
 * spaces, each value bare (no space, quote, backslash or '=') or a quoted,
 * escaped string; then '\n'. A bare "-" is NULL. */
static void parse_text_line(const char *line, struct fields *fields)
{
	const char *p = line;

	memset(fields, 0, sizeof(*fields));
	if (strncmp(p, "klipper-pin: ", 13) != 0)
		fail_msg("no 'klipper-pin: ' prefix: %s", line);
	p += 13;
	for (;;) {
		struct field *f = &fields->field[fields->count];
		size_t key_length = strspn(p, "abcdefghijklmnopqrstuvwxyz_");

		if (fields->count == FIELDS_MAX)
			fail_msg("too many fields: %s", line);
		if (key_length == 0 || key_length >= sizeof(f->key) ||
		    p[key_length] != '=')
			fail_msg("bad key at '%s' in %s", p, line);
		memcpy(f->key, p, key_length);
		p += key_length + 1;
		if (*p == '"') {
			f->kind = VALUE_STRING;
			if (!read_json_string(&p, f->value, sizeof(f->value)))
				fail_msg("bad quoted value at '%s' in %s", p,
					 line);
		} else {
			size_t length = strcspn(p, " \n\"\\=");

			if (length == 0)
				fail_msg("empty bare value at '%s' in %s", p,
					 line);
			memcpy(f->value, p, length);
			f->value[length] = '\0';
			p += length;
			f->kind = strcmp(f->value, "-") == 0 ? VALUE_NULL
							      : VALUE_STRING;
		}
		for (size_t i = 0; i < fields->count; i++)
			if (strcmp(fields->field[i].key, f->key) == 0)
				fail_msg("key '%s' twice in %s", f->key, line);
		fields->count++;
		if (*p == ' ') {
			p++;
			continue;
		}
		break;
	}
	if (strcmp(p, "\n") != 0)
		fail_msg("expected only a newline after the fields, got '%s'",
			 p);
}

static const struct field *field_of(const struct fields *fields,
				    const char *key)
{
	for (size_t i = 0; i < fields->count; i++)
		if (strcmp(fields->field[i].key, key) == 0)
			return &fields->field[i];
	fail_msg("no field '%s'", key);
	return NULL;
}

static bool has_field(const struct fields *fields, const char *key)
{
	for (size_t i = 0; i < fields->count; i++)
		if (strcmp(fields->field[i].key, key) == 0)
			return true;
	return false;
}

static void assert_string_field(const struct fields *fields, const char *key,
				const char *value)
{
	const struct field *f = field_of(fields, key);

	if (f->kind != VALUE_STRING)
		fail_msg("field '%s' is not a string", key);
	assert_string_equal(f->value, value);
}

static void assert_number_field(const struct fields *fields, const char *key,
				const char *digits)
{
	const struct field *f = field_of(fields, key);

	if (f->kind != VALUE_NUMBER)
		fail_msg("field '%s' is not a number", key);
	assert_string_equal(f->value, digits);
}

static void assert_null_field(const struct fields *fields, const char *key)
{
	if (field_of(fields, key)->kind != VALUE_NULL)
		fail_msg("field '%s' is '%s', expected null", key,
			 field_of(fields, key)->value);
}

/* Formats event; checks the length returned and that the line is one
 * line, ending in its only '\n', with no other raw control byte. */
static const char *format(const struct shim_log_event *event,
			  enum plan_log_format log_format)
{
	static char line[SHIM_LOG_LINE_MAX];
	size_t length;

	memset(line, 'x', sizeof(line));
	length = shim_log_format(event, log_format, line, sizeof(line));
	assert_true(length > 0);
	assert_true(length < sizeof(line));
	assert_int_equal(strlen(line), length);
	assert_int_equal(line[length - 1], '\n');
	assert_ptr_equal(strchr(line, '\n'), line + length - 1);
	for (size_t i = 0; i + 1 < length; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			fail_msg("raw control byte 0x%02x in %s",
				 (unsigned char)line[i], line);
	return line;
}

/* A placement by rule "serial" of the third thread created. */
static struct shim_log_event thread_event(void)
{
	return (struct shim_log_event){
		.event = "thread",
		.ts = { 1767225600, 123456789 },
		.pid = 4321,
		.tid = 4325,
		.seq = 3,
		.library = "c_helper.so",
		.symbol = NULL,
		.caller = "python3.11",
		.name = NULL,
		.rule = "serial",
		.want = "3",
		.cpus = "3",
		.policy = "fifo",
		.priority = 10,
		.result = "ok",
	};
}

/* ---- JSON ---------------------------------------------------------------- */

static void test_json_has_every_spec_field_in_order(void **state)
{
	(void)state;
	static const char *const spec[] = {
		"ts",  "pid",  "tid",  "event", "seq",    "library",  "symbol",
		"caller", "name", "rule", "want", "cpus", "policy", "priority",
		"result",
	};
	struct shim_log_event event = thread_event();
	struct fields fields;
	size_t at = 0;

	parse_json_line(format(&event, PLAN_FORMAT_JSON), &fields);
	/* the SPEC's fields in its order; "nice" is the one extra, and
	 * only between priority and result */
	for (size_t i = 0; i < fields.count; i++) {
		const char *key = fields.field[i].key;

		if (strcmp(key, "nice") == 0 && at > 0 &&
		    strcmp(spec[at - 1], "priority") == 0)
			continue;
		if (at == sizeof(spec) / sizeof(spec[0]) ||
		    strcmp(key, spec[at]) != 0)
			fail_msg("field %zu is '%s', expected '%s'", i, key,
				 at < sizeof(spec) / sizeof(spec[0]) ? spec[at]
								     : "none");
		at++;
	}
	assert_int_equal(at, sizeof(spec) / sizeof(spec[0]));
}

static void test_json_values(void **state)
{
	(void)state;
	struct shim_log_event event = thread_event();
	struct fields fields;

	parse_json_line(format(&event, PLAN_FORMAT_JSON), &fields);
	/* seconds and microseconds of CLOCK_REALTIME */
	assert_number_field(&fields, "ts", "1767225600.123456");
	assert_number_field(&fields, "pid", "4321");
	assert_number_field(&fields, "tid", "4325");
	assert_string_field(&fields, "event", "thread");
	assert_number_field(&fields, "seq", "3");
	assert_string_field(&fields, "library", "c_helper.so");
	assert_null_field(&fields, "symbol");
	assert_string_field(&fields, "caller", "python3.11");
	assert_null_field(&fields, "name");
	assert_string_field(&fields, "rule", "serial");
	assert_string_field(&fields, "want", "3");
	assert_string_field(&fields, "cpus", "3");
	assert_string_field(&fields, "policy", "fifo");
	assert_number_field(&fields, "priority", "10");
	assert_string_field(&fields, "result", "ok");
	if (has_field(&fields, "nice"))
		assert_null_field(&fields, "nice");
}

static void test_json_timestamp_keeps_leading_zeros(void **state)
{
	(void)state;
	struct shim_log_event event = thread_event();
	struct fields fields;

	event.ts.tv_nsec = 7000; /* 7 microseconds */
	parse_json_line(format(&event, PLAN_FORMAT_JSON), &fields);
	assert_number_field(&fields, "ts", "1767225600.000007");
	event.ts = (struct timespec){ 0, 999999999 };
	parse_json_line(format(&event, PLAN_FORMAT_JSON), &fields);
	assert_number_field(&fields, "ts", "0.999999");
}

static void test_json_all_strings_null(void **state)
{
	(void)state;
	struct shim_log_event event = { .event = "main", .pid = 1, .tid = 1 };
	struct fields fields;
	static const char *const strings[] = {
		"library", "symbol", "caller", "name", "rule",
		"want",    "cpus",   "policy", "result",
	};

	parse_json_line(format(&event, PLAN_FORMAT_JSON), &fields);
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
		assert_null_field(&fields, strings[i]);
	assert_number_field(&fields, "seq", "0");
	assert_number_field(&fields, "priority", "0");
}

static void test_json_escapes_names(void **state)
{
	(void)state;
	static const char *const names[] = {
		"serialq mcu",
		"say \"hi\"",
		"back\\slash",
		"new\nline",
		"tab\there",
		"bell\x07 and \x1f and \x7f",
		"a=b",
		"",
		"-",
		"caf\xc3\xa9",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct shim_log_event event = thread_event();
		struct fields fields;
		const char *line;

		event.name = names[i];
		event.rule = names[i];
		line = format(&event, PLAN_FORMAT_JSON);
		parse_json_line(line, &fields);
		assert_string_field(&fields, "name", names[i]);
		assert_string_field(&fields, "rule", names[i]);
	}
}

/* The kernel keeps 15 bytes of a name, which can cut a character in two;
 * UTF-8 passes as it is, any other byte is escaped so the JSON stays
 * valid (and says which byte it was). */
static void test_json_stays_utf8(void **state)
{
	(void)state;
	static const char *const names[] = {
		"caf\xc3\xa9",          /* é, whole */
		"\xe2\x82\xac \xf0\x9f\x96\xa8", /* € and a printer */
		"stepper_caf\xc3",       /* cut after its first byte */
		"x\xe2\x82",            /* cut after two of three */
		"\xff\xfe",             /* never UTF-8 */
		"\xc0\xaf",             /* an overlong '/' */
		"\xed\xa0\x80",         /* a surrogate */
		"\xf4\x90\x80\x80",     /* above U+10FFFF */
		"\x80 alone",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct shim_log_event event = thread_event();
		struct fields fields;
		const char *line;

		event.name = names[i];
		line = format(&event, PLAN_FORMAT_JSON);
		parse_json_line(line, &fields);
		assert_string_field(&fields, "name", names[i]);
		/* valid UTF-8 is written as it is, not escaped */
		if (is_utf8(names[i]) && !strstr(line, names[i]))
			fail_msg("'%s' not written as it is: %s", names[i],
				 line);
	}
}

static void test_json_negative_nice(void **state)
{
	(void)state;
	struct shim_log_event event = thread_event();
	struct fields fields;

	event.has_nice = true;
	event.nice = -20;
	parse_json_line(format(&event, PLAN_FORMAT_JSON), &fields);
	assert_number_field(&fields, "nice", "-20");
	event.nice = 19;
	parse_json_line(format(&event, PLAN_FORMAT_JSON), &fields);
	assert_number_field(&fields, "nice", "19");
}

static void test_json_large_numbers(void **state)
{
	(void)state;
	struct shim_log_event event = thread_event();
	struct fields fields;
	char digits[32];

	event.pid = INT_MAX;
	event.tid = INT_MAX;
	event.seq = 4000000000ul;
	event.priority = 99;
	parse_json_line(format(&event, PLAN_FORMAT_JSON), &fields);
	snprintf(digits, sizeof(digits), "%d", INT_MAX);
	assert_number_field(&fields, "pid", digits);
	assert_number_field(&fields, "tid", digits);
	assert_number_field(&fields, "seq", "4000000000");
	assert_number_field(&fields, "priority", "99");
}

static void test_json_config_event(void **state)
{
	(void)state;
	struct shim_log_event event = {
		.event = "config",
		.ts = { 1767225600, 0 },
		.pid = 77,
		.tid = 77,
		.message = "test.conf:3: CPU 7 in [main] is not online here "
			   "(online: 0-3): that placement is skipped",
	};
	struct fields fields;

	parse_json_line(format(&event, PLAN_FORMAT_JSON), &fields);
	assert_string_field(&fields, "event", "config");
	assert_number_field(&fields, "pid", "77");
	assert_number_field(&fields, "ts", "1767225600.000000");
	assert_string_field(&fields, "message", event.message);
	/* Every line has the same fields: the placement ones are null. */
	assert_null_field(&fields, "library");
	assert_null_field(&fields, "cpus");
	assert_null_field(&fields, "result");
}

/* ---- text ---------------------------------------------------------------- */

static void test_text_fields(void **state)
{
	(void)state;
	struct shim_log_event event = thread_event();
	struct fields fields;
	static const char *const order[] = {
		"ts",	"pid",	  "tid",  "event", "seq",    "library",
		"symbol", "caller", "name", "rule",  "want",   "cpus",
		"policy", "priority", "result",
	};

	parse_text_line(format(&event, PLAN_FORMAT_TEXT), &fields);
	assert_int_equal(fields.count, sizeof(order) / sizeof(order[0]));
	for (size_t i = 0; i < fields.count; i++)
		assert_string_equal(fields.field[i].key, order[i]);
	assert_string_field(&fields, "pid", "4321");
	assert_string_field(&fields, "tid", "4325");
	assert_string_field(&fields, "event", "thread");
	assert_string_field(&fields, "seq", "3");
	assert_string_field(&fields, "library", "c_helper.so");
	assert_null_field(&fields, "symbol");
	assert_string_field(&fields, "caller", "python3.11");
	assert_null_field(&fields, "name");
	assert_string_field(&fields, "rule", "serial");
	assert_string_field(&fields, "want", "3");
	assert_string_field(&fields, "cpus", "3");
	assert_string_field(&fields, "policy", "fifo");
	assert_string_field(&fields, "priority", "10");
	assert_string_field(&fields, "result", "ok");
}

static void test_text_plain_line(void **state)
{
	(void)state;
	struct shim_log_event event = thread_event();

	event.want = "2-3";
	event.cpus = "2-3";
	event.has_nice = true;
	event.nice = -5;
	assert_string_equal(format(&event, PLAN_FORMAT_TEXT),
			    "klipper-pin: ts=2026-01-01T00:00:00.123456Z "
			    "pid=4321 tid=4325 event=thread seq=3 "
			    "library=c_helper.so symbol=- caller=python3.11 "
			    "name=- rule=serial want=2-3 cpus=2-3 policy=fifo "
			    "priority=10 nice=-5 result=ok\n");
}

static void test_text_escapes_bytes_outside_printable_ascii(void **state)
{
	(void)state;
	struct shim_log_event event = thread_event();
	const char *line;

	event.name = "caf\xc3\xa9 \xff\x1b[31m";
	line = format(&event, PLAN_FORMAT_TEXT);
	assert_non_null(strstr(line, "name=\"caf\\xc3\\xa9 \\xff\\x1b[31m\""));
	for (const unsigned char *p = (const unsigned char *)line; *p; p++)
		if ((*p < 0x20 && *p != '\n') || *p >= 0x7f)
			fail_msg("raw byte 0x%02x in %s", *p, line);
}

static void test_text_timestamp_is_utc_iso_8601(void **state)
{
	(void)state;
	static const struct {
		time_t seconds;
		long nanoseconds;
		const char *text;
	} times[] = {
		{ 0, 0, "ts=1970-01-01T00:00:00.000000Z " },
		{ 951782400, 999999999, "ts=2000-02-29T00:00:00.999999Z " },
		{ 1764619200, 5000, "ts=2025-12-01T20:00:00.000005Z " },
		{ 4102444799, 0, "ts=2099-12-31T23:59:59.000000Z " },
	};

	for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
		struct shim_log_event event = thread_event();

		event.ts.tv_sec = times[i].seconds;
		event.ts.tv_nsec = times[i].nanoseconds;
		assert_non_null(strstr(format(&event, PLAN_FORMAT_TEXT),
				       times[i].text));
	}
}

static void test_text_quotes_what_would_not_split(void **state)
{
	(void)state;
	static const char *const names[] = {
		"serialq mcu",
		"say \"hi\"",
		"back\\slash",
		"new\nline",
		"tab\there",
		"bell\x07 and \x1f and \x7f",
		"a=b",
		"",
		"caf\xc3\xa9",
		"stepper_x",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct shim_log_event event = thread_event();
		struct fields fields;
		const char *line;

		event.name = names[i];
		line = format(&event, PLAN_FORMAT_TEXT);
		parse_text_line(line, &fields);
		assert_string_field(&fields, "name", names[i]);
		assert_string_field(&fields, "rule", "serial");
	}
}

static void test_text_null_and_dash_differ(void **state)
{
	(void)state;
	struct shim_log_event event = thread_event();
	struct fields fields;

	/* a thread really named "-" must not read as an unknown name */
	event.name = "-";
	parse_text_line(format(&event, PLAN_FORMAT_TEXT), &fields);
	assert_string_field(&fields, "name", "-");
	event.name = NULL;
	parse_text_line(format(&event, PLAN_FORMAT_TEXT), &fields);
	assert_null_field(&fields, "name");
}

static void test_text_negative_nice(void **state)
{
	(void)state;
	struct shim_log_event event = thread_event();
	struct fields fields;

	event.has_nice = true;
	event.nice = -20;
	parse_text_line(format(&event, PLAN_FORMAT_TEXT), &fields);
	assert_string_field(&fields, "nice", "-20");
	event.has_nice = false;
	parse_text_line(format(&event, PLAN_FORMAT_TEXT), &fields);
	assert_false(has_field(&fields, "nice"));
}

static void test_text_config_event(void **state)
{
	(void)state;
	struct shim_log_event event = {
		.event = "config",
		.pid = 77,
		.tid = 78,
		.message = "test.conf:3: CPU 7 in [main] is not online here",
	};
	struct fields fields;

	parse_text_line(format(&event, PLAN_FORMAT_TEXT), &fields);
	assert_string_field(&fields, "pid", "77");
	assert_string_field(&fields, "tid", "78");
	assert_string_field(&fields, "event", "config");
	assert_string_field(&fields, "message", event.message);
}

/* ---- events too long for a line ------------------------------------------ */

/* An event whose name makes it too long; formats it into len bytes. */
static void check_too_long(enum plan_log_format log_format, char fill,
			   size_t name_length, size_t len)
{
	struct shim_log_event event = thread_event();
	char *name = malloc(name_length + 1);
	char *line = malloc(len);
	struct fields fields;
	size_t length;

	assert_non_null(name);
	assert_non_null(line);
	memset(name, fill, name_length);
	name[name_length] = '\0';
	event.name = name;
	length = shim_log_format(&event, log_format, line, len);
	assert_true(length < len);
	assert_int_equal(strlen(line), length);
	assert_int_equal(line[length - 1], '\n');
	assert_ptr_equal(strchr(line, '\n'), line + length - 1);
	if (log_format == PLAN_FORMAT_JSON)
		parse_json_line(line, &fields);
	else
		parse_text_line(line, &fields);
	/* marked, and still saying whose event it was */
	if (!strstr(field_of(&fields, "message")->value, "too long"))
		fail_msg("not marked as too long: %s", line);
	assert_string_field(&fields, "event", "thread");
	if (log_format == PLAN_FORMAT_JSON) {
		assert_number_field(&fields, "pid", "4321");
		assert_number_field(&fields, "tid", "4325");
	} else {
		assert_string_field(&fields, "pid", "4321");
		assert_string_field(&fields, "tid", "4325");
	}
	assert_null(strstr(line, "aaaaaaaa"));
	free(name);
	free(line);
}

static void test_too_long_event_json(void **state)
{
	(void)state;
	check_too_long(PLAN_FORMAT_JSON, 'a', 5000, SHIM_LOG_LINE_MAX);
	/* short enough raw, too long once each byte is escaped as \u00XX */
	check_too_long(PLAN_FORMAT_JSON, '\x01', 1000, SHIM_LOG_LINE_MAX);
	/* the smallest buffer the header allows */
	check_too_long(PLAN_FORMAT_JSON, 'a', 300, 256);
}

static void test_too_long_event_text(void **state)
{
	(void)state;
	check_too_long(PLAN_FORMAT_TEXT, 'a', 5000, SHIM_LOG_LINE_MAX);
	check_too_long(PLAN_FORMAT_TEXT, '\x01', 1000, SHIM_LOG_LINE_MAX);
	check_too_long(PLAN_FORMAT_TEXT, 'a', 300, 256);
}

/* Right at the edge: every length of name either fits whole or gives the
 * marked line, never a cut line. */
static void test_no_line_is_cut(void **state)
{
	(void)state;
	static char name[SHIM_LOG_LINE_MAX];

	for (int f = 0; f < 2; f++) {
		enum plan_log_format log_format =
			f ? PLAN_FORMAT_JSON : PLAN_FORMAT_TEXT;

		for (size_t length = 3800; length < 4096; length++) {
			struct shim_log_event event = thread_event();
			struct fields fields;
			const struct field *name_field;
			const char *line;

			memset(name, 'n', length);
			name[length] = '\0';
			event.name = name;
			line = format(&event, log_format);
			if (log_format == PLAN_FORMAT_JSON)
				parse_json_line(line, &fields);
			else
				parse_text_line(line, &fields);
			if (!has_field(&fields, "name")) {
				assert_true(has_field(&fields, "message"));
				continue;
			}
			name_field = field_of(&fields, "name");
			assert_int_equal(strlen(name_field->value), length);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_has_every_spec_field_in_order),
		cmocka_unit_test(test_json_values),
		cmocka_unit_test(test_json_timestamp_keeps_leading_zeros),
		cmocka_unit_test(test_json_all_strings_null),
		cmocka_unit_test(test_json_escapes_names),
		cmocka_unit_test(test_json_stays_utf8),
		cmocka_unit_test(test_json_negative_nice),
		cmocka_unit_test(test_json_large_numbers),
		cmocka_unit_test(test_json_config_event),
		cmocka_unit_test(test_text_fields),
		cmocka_unit_test(test_text_plain_line),
		cmocka_unit_test(test_text_quotes_what_would_not_split),
		cmocka_unit_test(test_text_escapes_bytes_outside_printable_ascii),
		cmocka_unit_test(test_text_timestamp_is_utc_iso_8601),
		cmocka_unit_test(test_text_null_and_dash_differ),
		cmocka_unit_test(test_text_negative_nice),
		cmocka_unit_test(test_text_config_event),
		cmocka_unit_test(test_too_long_event_json),
		cmocka_unit_test(test_too_long_event_text),
		cmocka_unit_test(test_no_line_is_cut),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
