/*
 * klipper-pin report: Klipper's own timing, from the Stats lines klippy
 * writes to klippy.log once a second, summed up per session (each printer
 * start) as median, p99 and max, with the shutdowns counted, and each
 * session set against the first.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "report.h"
#include "subcommands.h"
#include "svg.h"

#define REPORT_MAX_FIELDS 512

/* The figures the text shows (every one with --all, and in JSON). */
static const char *const report_headline[] = {
	"srtt",		 "rttvar",	 "rto",		"bytes_retransmit",
	"bytes_invalid", "mcu_task_avg", "buffer_time", "print_stall",
	"sysload",	 "cputime",	 "memavail",
};

struct report_options {
	bool json, all;
	const char *svg; /* --svg FILE, or NULL */
};

struct report_session {
	const char *file;
	long line;
	char started[64]; /* "Wed Dec  2 00:29:59 2026", or "" */
	const char *kind; /* "start", "restart" or "continued" */
	size_t stats_lines, shutdowns, mcu_shutdowns, timer_too_close;
	size_t inactive; /* "klipper_pin: inactive" lines */
	struct report_series *series;
	struct report_series *times; /* the Stats time of each of series[i] */
	size_t count, capacity;
	size_t cursor; /* where the next field was last time */
	struct report_summary *summaries;
};

struct report_log {
	struct report_session *sessions;
	size_t count, capacity;
	bool process_started; /* "Starting Klippy..." since the last start */
};

static void report_usage(FILE *out)
{
	fputs("usage: klipper-pin report [--json] [--all] [--svg FILE] "
	      "KLIPPY_LOG\n"
	      "                          [KLIPPY_LOG...]\n"
	      "\n"
	      "Klipper's own timing from klippy.log's Stats lines: each "
	      "figure's median,\n"
	      "p99 and max per session (each printer start), the shutdowns "
	      "counted, and\n"
	      "with two sessions or more each against the first. Logs are "
	      "read in the\n"
	      "order given; rotated ones as they are, a .gz through gzip "
	      "-dc.\n"
	      "\n"
	      "  --json     one JSON document, every figure\n"
	      "  --all      every figure in the text, not only the main ones\n"
	      "  --svg FILE and a picture in FILE (SVG): srtt, buffer_time "
	      "and\n"
	      "             klipper_pin.max_wait_ms over time, a line per "
	      "session\n"
	      "  -h, --help this help\n"
	      "\n"
	      "Exit status: 0 the report was printed; 1 a log could not be "
	      "read, was\n"
	      "empty, was not a klippy log or a corrupt .gz, or the --svg "
	      "FILE could\n"
	      "not be written; 2 usage.\n",
	      out);
}

static int report_parse_args(int argc, char **argv, struct report_options *o)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "all", no_argument, NULL, 'a' },
		{ "svg", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 1;
	while ((c = getopt_long(argc, argv, "+h", options, NULL)) != -1) {
		switch (c) {
		case 'j':
			o->json = true;
			break;
		case 'a':
			o->all = true;
			break;
		case 's':
			if (!optarg[0]) {
				fputs("klipper-pin: report: --svg needs a file "
				      "name\n",
				      stderr);
				return -1;
			}
			o->svg = optarg;
			break;
		case 'h':
			report_usage(stdout);
			return 1;
		default:
			report_usage(stderr);
			return -1;
		}
	}
	if (optind >= argc) {
		fputs("klipper-pin: report: no klippy.log given\n", stderr);
		report_usage(stderr);
		return -1;
	}
	return 0;
}

static struct report_session *report_new_session(struct report_log *log,
						 const char *file, long line,
						 const char *kind)
{
	if (log->count == log->capacity) {
		size_t capacity = log->capacity ? log->capacity * 2 : 8;
		struct report_session *sessions =
			realloc(log->sessions, capacity * sizeof(*sessions));

		if (!sessions)
			return NULL;
		log->sessions = sessions;
		log->capacity = capacity;
	}
	struct report_session *s = &log->sessions[log->count++];

	memset(s, 0, sizeof(*s));
	s->file = file;
	s->line = line;
	s->kind = kind;
	return s;
}

/* "Start printer at Wed Dec  2 00:29:59 2026 (...)": the date. */
static void report_started(struct report_session *s, const char *line)
{
	const char *at = strstr(line, "Start printer at ") + 17;
	size_t length = strcspn(at, "(");

	while (length > 0 && at[length - 1] == ' ')
		length--;
	if (length >= sizeof(s->started))
		length = sizeof(s->started) - 1;
	memcpy(s->started, at, length);
	s->started[length] = '\0';
}

static struct report_series *report_find(struct report_session *s,
					 const char *name)
{
	/* The fields come in the same order each second: look there first. */
	if (s->cursor < s->count &&
	    strcmp(s->series[s->cursor].name, name) == 0)
		return &s->series[s->cursor++];
	for (size_t i = 0; i < s->count; i++)
		if (strcmp(s->series[i].name, name) == 0) {
			s->cursor = i + 1;
			return &s->series[i];
		}
	if (s->count == s->capacity) {
		size_t capacity = s->capacity ? s->capacity * 2 : 32;
		struct report_series *series =
			realloc(s->series, capacity * sizeof(*series));

		if (!series)
			return NULL;
		s->series = series;
		series = realloc(s->times, capacity * sizeof(*series));
		if (!series)
			return NULL;
		s->times = series;
		s->capacity = capacity;
	}
	memset(&s->times[s->count], 0, sizeof(s->times[0]));
	struct report_series *added = &s->series[s->count++];

	memset(added, 0, sizeof(*added));
	snprintf(added->name, sizeof(added->name), "%s", name);
	s->cursor = s->count;
	return added;
}

static int report_stats_line(struct report_session *s, const char *line,
			     struct report_field *fields)
{
	bool inactive;
	int count =
		report_parse_stats(line, fields, REPORT_MAX_FIELDS, &inactive);
	double time;

	if (count < 0)
		return 0;
	/* "Stats 16048.2: ...": klippy's monotonic time, for --svg. */
	time = strtod(line + 6, NULL);
	if (count > REPORT_MAX_FIELDS)
		count = REPORT_MAX_FIELDS;
	s->stats_lines++;
	s->inactive += inactive;
	s->cursor = 0;
	for (int i = 0; i < count; i++) {
		struct report_series *series = report_find(s, fields[i].name);

		if (!series ||
		    report_series_add(series, fields[i].value) != 0 ||
		    report_series_add(&s->times[series - s->series], time) != 0)
			return -1;
	}
	return 0;
}

/*
 * Reads one log into the sessions. Returns 0, or 1 with the message
 * printed.
 */
static int report_read(struct report_log *log, const char *path,
		       struct report_field *fields)
{
	struct report_input input;
	char problem[256] = "";
	const char *line;
	long number = 0;
	size_t known = 0;
	int failed = 0;

	if (report_open(&input, path, problem, sizeof(problem)) != 0) {
		fprintf(stderr, "klipper-pin: report: %s: %s\n", path, problem);
		return 1;
	}
	while ((line = report_next(&input, problem, sizeof(problem)))) {
		enum report_line kind = report_classify(line);
		struct report_session *s =
			log->count ? &log->sessions[log->count - 1] : NULL;

		number++;
		if (kind != REPORT_OTHER)
			known++;
		if (kind == REPORT_STARTING) {
			log->process_started = true;
			continue;
		}
		if (kind == REPORT_START) {
			s = report_new_session(
				log, path, number,
				log->process_started ? "start" : "restart");
			if (!s) {
				failed = -1;
				break;
			}
			report_started(s, line);
			log->process_started = false;
			continue;
		}
		if (kind == REPORT_OTHER || kind == REPORT_ROLLOVER)
			continue;
		/* Before any start: a session begun in an earlier log. */
		if (!s) {
			s = report_new_session(log, path, number, "continued");
			if (!s) {
				failed = -1;
				break;
			}
		}
		if (kind == REPORT_STATS)
			failed = report_stats_line(s, line, fields);
		else if (kind == REPORT_SHUTDOWN)
			s->shutdowns++;
		else if (kind == REPORT_MCU_SHUTDOWN)
			s->mcu_shutdowns++;
		else if (kind == REPORT_TIMER_TOO_CLOSE) {
			s->mcu_shutdowns++;
			s->timer_too_close++;
		}
		if (failed)
			break;
	}
	if (failed) {
		fprintf(stderr, "klipper-pin: report: %s: out of memory\n",
			path);
		report_close(&input, problem, sizeof(problem));
		return 1;
	}
	if (problem[0]) {
		fprintf(stderr, "klipper-pin: report: %s: %s\n", path, problem);
		report_close(&input, problem, sizeof(problem));
		return 1;
	}
	bool cut = input.cut;

	if (report_close(&input, problem, sizeof(problem)) != 0) {
		fprintf(stderr, "klipper-pin: report: %s: %s\n", path, problem);
		return 1;
	}
	if (number == 0 && !cut) {
		fprintf(stderr, "klipper-pin: report: %s: empty file\n", path);
		return 1;
	}
	if (known == 0) {
		fprintf(stderr,
			"klipper-pin: report: %s: not a klippy log (no "
			"'Starting Klippy...', 'Start printer at' or 'Stats' "
			"line in %ld line%s)\n",
			path, number, number == 1 ? "" : "s");
		return 1;
	}
	if (cut)
		fprintf(stderr,
			"klipper-pin: report: %s: last line cut short (no "
			"newline at the end): read up to line %ld, the rest "
			"left out\n",
			path, number);
	return 0;
}

static bool report_shown(const struct report_options *o, const char *name)
{
	const char *key = strrchr(name, '.');

	if (o->all || strncmp(name, "klipper_pin.", 12) == 0)
		return true;
	key = key ? key + 1 : name;
	for (size_t i = 0;
	     i < sizeof(report_headline) / sizeof(report_headline[0]); i++)
		if (strcmp(report_headline[i], key) == 0)
			return true;
	return false;
}

static const struct report_summary *
report_summary_of(const struct report_session *s, const char *name)
{
	for (size_t i = 0; i < s->count; i++)
		if (strcmp(s->series[i].name, name) == 0)
			return &s->summaries[i];
	return NULL;
}

/* b / a, or false where a is 0 and there is no ratio. */
static bool report_ratio(double a, double b, double *ratio)
{
	if (a == 0)
		return false;
	*ratio = b / a;
	return true;
}

static void report_json_ratio(double a, double b)
{
	double ratio;

	if (report_ratio(a, b, &ratio))
		printf("%.6g", ratio);
	else
		fputs("null", stdout);
}

static void report_print_json(const struct report_log *log)
{
	const struct report_session *first = &log->sessions[0];

	fputs("{\"sessions\":[", stdout);
	for (size_t i = 0; i < log->count; i++) {
		const struct report_session *s = &log->sessions[i];

		printf("%s{\"session\":%zu,\"file\":", i ? "," : "", i + 1);
		json_string(stdout, s->file);
		printf(",\"line\":%ld,\"kind\":\"%s\",\"started\":", s->line,
		       s->kind);
		json_string(stdout, s->started);
		printf(",\"stats_lines\":%zu,\"events\":{\"timer_too_close\":"
		       "%zu,\"mcu_shutdown\":%zu,\"shutdown\":%zu},"
		       "\"klipper_pin_inactive\":%zu,\"figures\":{",
		       s->stats_lines, s->timer_too_close, s->mcu_shutdowns,
		       s->shutdowns, s->inactive);
		for (size_t f = 0; f < s->count; f++) {
			const struct report_summary *m = &s->summaries[f];

			printf("%s", f ? "," : "");
			json_string(stdout, s->series[f].name);
			printf(":{\"count\":%zu,\"median\":%.9g,\"p99\":%.9g,"
			       "\"max\":%.9g",
			       m->count, m->median, m->p99, m->max);
			const struct report_summary *a =
				report_summary_of(first, s->series[f].name);

			if (i > 0 && a) {
				fputs(",\"ratio\":{\"median\":", stdout);
				report_json_ratio(a->median, m->median);
				fputs(",\"p99\":", stdout);
				report_json_ratio(a->p99, m->p99);
				fputs(",\"max\":", stdout);
				report_json_ratio(a->max, m->max);
				putchar('}');
			}
			putchar('}');
		}
		fputs("}}", stdout);
	}
	fputs("]}\n", stdout);
}

/* A figure as Klipper wrote it: whole numbers whole, others short. */
static void report_print_value(double value)
{
	if (value == (double)(long long)value && value > -1e15 && value < 1e15)
		printf(" %12lld", (long long)value);
	else
		printf(" %12.6g", value);
}

static void report_print_session(const struct report_options *o,
				 const struct report_session *s, size_t index)
{
	const char *how = strcmp(s->kind, "continued") == 0
				  ? "begun in an earlier log"
			  : strcmp(s->kind, "start") == 0 ? "klippy started"
							  : "printer restarted";

	printf("session %zu: %s:%ld, %s%s%s, %zu Stats line%s\n", index + 1,
	       s->file, s->line, how, s->started[0] ? " " : "", s->started,
	       s->stats_lines, s->stats_lines == 1 ? "" : "s");
	printf("  events: timer_too_close=%zu mcu_shutdown=%zu shutdown=%zu\n",
	       s->timer_too_close, s->mcu_shutdowns, s->shutdowns);
	if (s->inactive)
		printf("  klipper_pin: inactive in %zu Stats line%s\n",
		       s->inactive, s->inactive == 1 ? "" : "s");
	if (!s->stats_lines) {
		puts("  no Stats lines (klippy logs them once ready, while the "
		     "toolhead is busy)");
		return;
	}
	printf("  %-24s %12s %12s %12s\n", "figure", "median", "p99", "max");
	for (size_t f = 0; f < s->count; f++)
		if (report_shown(o, s->series[f].name)) {
			printf("  %-24s", s->series[f].name);
			report_print_value(s->summaries[f].median);
			report_print_value(s->summaries[f].p99);
			report_print_value(s->summaries[f].max);
			putchar('\n');
		}
}

/* Each figure of the first session, each later session's against it. */
static void report_print_ratios(const struct report_options *o,
				const struct report_log *log)
{
	const struct report_session *first = &log->sessions[0];
	static const char *const which[] = { "median", "p99", "max" };

	printf("\neach session against session 1 (value / session 1's):\n");
	printf("  %-24s %-6s", "figure", "");
	for (size_t i = 1; i < log->count; i++)
		printf(" %12s%-2zu", "session ", i + 1);
	putchar('\n');
	for (size_t f = 0; f < first->count; f++) {
		const char *name = first->series[f].name;

		if (!report_shown(o, name))
			continue;
		for (size_t w = 0; w < 3; w++) {
			const struct report_summary *a = &first->summaries[f];
			double av = w == 0   ? a->median
				    : w == 1 ? a->p99
					     : a->max;

			printf("  %-24s %-6s", w == 0 ? name : "", which[w]);
			for (size_t i = 1; i < log->count; i++) {
				const struct report_summary *b =
					report_summary_of(&log->sessions[i],
							  name);
				double ratio;

				if (!b || !b->count) {
					printf(" %14s", "-");
					continue;
				}
				double bv = w == 0   ? b->median
					    : w == 1 ? b->p99
						     : b->max;

				if (report_ratio(av, bv, &ratio))
					printf(" %13.3fx", ratio);
				else
					printf(" %14s",
					       bv == 0 ? "same" : "(was 0)");
			}
			putchar('\n');
		}
	}
}

/* ---- --svg --------------------------------------------------------------- */

#define REPORT_SVG_WIDTH 960 /* the right margin: 4 sessions' marks */
#define REPORT_SVG_LEFT 80.0
#define REPORT_SVG_RIGHT 870.0
#define REPORT_SVG_PANEL 150.0 /* a figure's height, its axis included */
#define REPORT_SVG_MAX_PANELS 16

/* The figures --svg draws: each MCU's srtt, buffer_time and the Klipper
 * module's max_wait_ms, in the order they first come. */
static bool report_svg_drawn(const char *name)
{
	const char *dot = strrchr(name, '.');

	return strcmp(name, "buffer_time") == 0 ||
	       strcmp(name, "klipper_pin.max_wait_ms") == 0 ||
	       (dot && strcmp(dot + 1, "srtt") == 0);
}

static const struct report_series *
report_series_of(const struct report_session *s, const char *name,
		 const struct report_series **times)
{
	for (size_t i = 0; i < s->count; i++)
		if (strcmp(s->series[i].name, name) == 0) {
			*times = &s->times[i];
			return &s->series[i];
		}
	return NULL;
}

/* "0.025", "1.5e+07": an axis's figure. */
static void report_svg_number(double value, char *buf, size_t len)
{
	snprintf(buf, len, "%.4g", value);
}

/* A session's median and p99 as dashed lines across the figure, named at
 * its right edge, columns apart by session. scratch (count doubles) is
 * sorted in place: the series keeps its time order. */
static void report_svg_marks(FILE *out, const struct svg_axis *y,
			     const struct report_series *values,
			     double *scratch, const char *color, size_t session)
{
	struct report_summary summary;
	struct {
		const char *label;
		double value;
	} marks[2];

	memcpy(scratch, values->values, values->count * sizeof(double));
	summary = report_summarize(scratch, values->count);
	marks[0].label = "p50";
	marks[0].value = summary.median;
	marks[1].label = "p99";
	marks[1].value = summary.p99;
	for (size_t m = 0; m < 2; m++) {
		double py = svg_map(y, marks[m].value);

		fprintf(out, "<g class=\"mark %s session-%zu\">\n",
			marks[m].label, session + 1);
		svg_line(out, REPORT_SVG_LEFT, py, REPORT_SVG_RIGHT, py, color,
			 1, true);
		svg_text(out, REPORT_SVG_RIGHT + 3 + 20 * (double)(session % 4),
			 py + 3, "start", 9, color, marks[m].label);
		fputs("</g>\n", out);
	}
}

/* One figure: every session's values against its seconds since its first
 * Stats line, on one pair of axes, with each session's p50 and p99. */
static void report_svg_panel(FILE *out, const struct report_log *log,
			     const char *name, double top)
{
	struct svg_axis x = { 0, 1, REPORT_SVG_LEFT, REPORT_SVG_RIGHT, false };
	struct svg_axis y = { 0, 0, top + REPORT_SVG_PANEL - 40, top + 22,
			      false };
	double bottom = top + REPORT_SVG_PANEL - 40;
	char text[64];

	for (size_t i = 0; i < log->count; i++) {
		const struct report_series *times,
			*values = report_series_of(&log->sessions[i], name,
						   &times);

		for (size_t v = 0; values && v < values->count; v++) {
			double seconds = times->values[v] - times->values[0];

			if (seconds > x.high)
				x.high = seconds;
			if (values->values[v] > y.high)
				y.high = values->values[v];
			if (values->values[v] < y.low)
				y.low = values->values[v];
		}
	}
	if (y.high == y.low)
		y.high = y.low + 1;
	svg_text(out, REPORT_SVG_LEFT, top + 14, "start", 13, "black", name);
	fprintf(out,
		"<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
		"fill=\"none\" stroke=\"#888\"/>\n",
		REPORT_SVG_LEFT, y.to, REPORT_SVG_RIGHT - REPORT_SVG_LEFT,
		bottom - y.to);
	for (int step = 0; step <= 2; step++) {
		double value = y.low + (y.high - y.low) * step / 2;
		double py = svg_map(&y, value);

		svg_line(out, REPORT_SVG_LEFT - 4, py, REPORT_SVG_RIGHT, py,
			 "#eee", 1, false);
		report_svg_number(value, text, sizeof(text));
		svg_text(out, REPORT_SVG_LEFT - 7, py + 4, "end", 10, "black",
			 text);
	}
	for (int step = 0; step <= 4; step++) {
		double value = x.high * step / 4;
		double px = svg_map(&x, value);

		svg_line(out, px, bottom, px, bottom + 4, "#888", 1, false);
		snprintf(text, sizeof(text), "%.3gs", value);
		svg_text(out, px, bottom + 16, "middle", 10, "black", text);
	}
	for (size_t i = 0; i < log->count; i++) {
		const struct report_series *times,
			*values = report_series_of(&log->sessions[i], name,
						   &times);
		double *xs, *ys;
		char class_name[48];

		if (!values || !values->count)
			continue;
		xs = malloc(values->count * sizeof(double));
		ys = malloc(values->count * sizeof(double));
		if (xs && ys) {
			for (size_t v = 0; v < values->count; v++) {
				xs[v] = svg_map(&x, times->values[v] -
							    times->values[0]);
				ys[v] = svg_map(&y, values->values[v]);
			}
			snprintf(class_name, sizeof(class_name),
				 "series session-%zu", i + 1);
			svg_polyline(out, xs, ys, values->count, svg_color(i),
				     class_name);
			report_svg_marks(out, &y, values, xs, svg_color(i), i);
		}
		free(xs);
		free(ys);
	}
}

/* The picture: a legend line per session, then a figure each (small
 * multiples, one above the other). The series must not be summed up yet:
 * report_summarize sorts them. */
static void report_print_svg(FILE *out, const struct report_log *log)
{
	const char *names[REPORT_SVG_MAX_PANELS];
	size_t panels = 0;
	double top;
	char line[1024];

	for (size_t i = 0; i < log->count; i++)
		for (size_t f = 0; f < log->sessions[i].count; f++) {
			const char *name = log->sessions[i].series[f].name;
			size_t p = 0;

			if (!report_svg_drawn(name))
				continue;
			while (p < panels && strcmp(names[p], name) != 0)
				p++;
			if (p == panels && panels < REPORT_SVG_MAX_PANELS)
				names[panels++] = name;
		}
	top = 50 + 20 * (double)log->count;
	svg_begin(out, REPORT_SVG_WIDTH,
		  (int)(top + REPORT_SVG_PANEL * (double)panels + 40),
		  "klipper-pin report");
	svg_text(out, REPORT_SVG_LEFT, 26, "start", 18, "black",
		 "klipper-pin report: Klipper's timing over each session");
	for (size_t i = 0; i < log->count; i++) {
		const struct report_session *s = &log->sessions[i];
		double y = 50 + 20 * (double)i;

		snprintf(line, sizeof(line),
			 "session %zu: %s:%ld, %s%s%s, %zu "
			 "Stats line%s",
			 i + 1, s->file, s->line, s->kind,
			 s->started[0] ? " " : "", s->started, s->stats_lines,
			 s->stats_lines == 1 ? "" : "s");
		if (s->mcu_shutdowns || s->shutdowns)
			snprintf(line + strlen(line),
				 sizeof(line) - strlen(line),
				 ", %zu MCU shutdown%s, %zu shutdown%s",
				 s->mcu_shutdowns,
				 s->mcu_shutdowns == 1 ? "" : "s", s->shutdowns,
				 s->shutdowns == 1 ? "" : "s");
		svg_line(out, REPORT_SVG_LEFT, y - 4, REPORT_SVG_LEFT + 24,
			 y - 4, s->stats_lines ? svg_color(i) : "#ccc", 3,
			 false);
		svg_text(out, REPORT_SVG_LEFT + 32, y, "start", 12,
			 s->stats_lines ? "black" : "#888", line);
	}
	if (!panels)
		svg_text(out, REPORT_SVG_LEFT, top + 20, "start", 12, "#888",
			 "no srtt, buffer_time or klipper_pin.max_wait_ms "
			 "in these logs");
	for (size_t p = 0; p < panels; p++)
		report_svg_panel(out, log, names[p],
				 top + REPORT_SVG_PANEL * (double)p);
	svg_text(out, (REPORT_SVG_LEFT + REPORT_SVG_RIGHT) / 2,
		 top + REPORT_SVG_PANEL * (double)panels + 20, "middle", 12,
		 "black", "seconds since the session's first Stats line");
	svg_end(out);
}

static void report_free(struct report_log *log)
{
	for (size_t i = 0; i < log->count; i++) {
		for (size_t f = 0; f < log->sessions[i].count; f++) {
			free(log->sessions[i].series[f].values);
			free(log->sessions[i].times[f].values);
		}
		free(log->sessions[i].series);
		free(log->sessions[i].times);
		free(log->sessions[i].summaries);
	}
	free(log->sessions);
}

int report_main(int argc, char **argv)
{
	struct report_options o;
	struct report_log log = { NULL, 0, 0, false };
	struct report_field *fields;
	struct svg svg = { .out = NULL };
	char problem[256];
	int parsed = report_parse_args(argc, argv, &o), status = 0;

	if (parsed != 0)
		return parsed > 0 ? 0 : 2;
	/* Before any log is read: a place it cannot write to is known at
	 * once, and nothing is printed. */
	if (o.svg && svg_open(&svg, o.svg, problem, sizeof(problem)) != 0) {
		fprintf(stderr,
			"klipper-pin: report: --svg %s: cannot write: "
			"%s\n",
			o.svg, problem);
		return 1;
	}
	fields = calloc(REPORT_MAX_FIELDS, sizeof(*fields));
	if (!fields) {
		svg_abandon(&svg);
		return 1;
	}
	for (int i = optind; i < argc && status == 0; i++)
		status = report_read(&log, argv[i], fields);
	free(fields);
	if (status == 0 && log.count && o.svg) {
		report_print_svg(svg.out, &log);
		if (svg_commit(&svg, problem, sizeof(problem)) != 0) {
			fprintf(stderr,
				"klipper-pin: report: --svg %s: cannot write: "
				"%s\n",
				o.svg, problem);
			status = 1;
		}
	}
	svg_abandon(&svg);
	for (size_t i = 0; i < log.count && status == 0; i++) {
		struct report_session *s = &log.sessions[i];

		s->summaries = calloc(s->count + 1, sizeof(*s->summaries));
		if (!s->summaries) {
			status = 1;
			break;
		}
		for (size_t f = 0; f < s->count; f++)
			s->summaries[f] = report_summarize(s->series[f].values,
							   s->series[f].count);
	}
	if (status == 0 && log.count == 0)
		fputs("klipper-pin: report: no session: no 'Start printer at' "
		      "or 'Stats' line in the logs\n",
		      stderr);
	if (status == 0 && log.count) {
		if (o.json)
			report_print_json(&log);
		else {
			for (size_t i = 0; i < log.count; i++)
				report_print_session(&o, &log.sessions[i], i);
			if (log.count > 1)
				report_print_ratios(&o, &log);
		}
	}
	report_free(&log);
	return status;
}
