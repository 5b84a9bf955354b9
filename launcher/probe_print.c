/*
 * klipper-pin probe's report: text for a terminal, with a log2 histogram,
 * one JSON object, or the setups of --compare side by side.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpulist.h"
#include "json.h"
#include "probe.h"
#include "proc.h"
#include "svg.h"

/* "1ms", "1500us": the shortest exact way to write ns. */
void probe_format_time(long long ns, char *buf, size_t len)
{
	if (ns != 0 && ns % PROBE_NS == 0)
		snprintf(buf, len, "%llds", ns / PROBE_NS);
	else if (ns != 0 && ns % 1000000 == 0)
		snprintf(buf, len, "%lldms", ns / 1000000);
	else if (ns % 1000 == 0)
		snprintf(buf, len, "%lldus", ns / 1000);
	else
		snprintf(buf, len, "%lldns", ns);
}

/* The CPUs the probe woke on, as a list ("1", "0-1"). */
void probe_woke_text(const struct probe_run *run, char *buf, size_t len)
{
	cpu_set_t *set = CPU_ALLOC(CPULIST_MAX_CPU + 1);

	buf[0] = '\0';
	if (!set)
		return;
	CPU_ZERO_S(CPULIST_SETSIZE, set);
	for (unsigned cpu = 0; cpu <= CPULIST_MAX_CPU; cpu++)
		if (run->woke[cpu])
			CPU_SET_S(cpu, CPULIST_SETSIZE, set);
	cpulist_format(set, CPULIST_SETSIZE, buf, len);
	CPU_FREE(set);
}

void probe_print_json(const struct probe_report *report)
{
	const struct probe_summary *s = report->summary;
	const struct probe_run *run = report->run;
	bool first = true;

	printf("{\"count\": %zu, \"asked\": %zu, \"interval_ns\": %lld, ",
	       s->count, run->want, report->options->interval_ns);
	printf("\"cpus\": ");
	json_string(stdout, report->asked);
	printf(", \"allowed\": ");
	json_string(stdout, run->allowed);
	printf(", \"policy\": ");
	json_string(stdout, proc_policy_name(run->policy));
	printf(", \"priority\": %d, \"nice\": %d", run->priority, run->nice);
	printf(", \"rule\": ");
	if (report->placement->rule[0])
		json_string(stdout, report->placement->rule);
	else
		printf("null");
	printf(", \"load\": ");
	json_string(stdout, report->options->load ? report->options->load : "");
	printf(", \"siblings\": %lu, \"woke_on\": ", report->options->siblings);
	json_string(stdout, report->woke);
	printf(", \"woke_per_cpu\": {");
	for (unsigned cpu = 0; cpu <= CPULIST_MAX_CPU; cpu++)
		if (run->woke[cpu]) {
			printf("%s\"%u\": %lu", first ? "" : ", ", cpu,
			       run->woke[cpu]);
			first = false;
		}
	printf("}, \"min_ns\": %lld, \"mean_ns\": %.1f, \"p50_ns\": %lld, "
	       "\"p99_ns\": %lld, \"p999_ns\": %lld, \"max_ns\": %lld, ",
	       (long long)s->min, s->mean, (long long)s->p50, (long long)s->p99,
	       (long long)s->p999, (long long)s->max);
	printf("\"threshold_ns\": %lld, \"over_threshold\": %zu, ",
	       report->options->threshold_ns, s->over);
	if (run->has_wait)
		printf("\"wait_before_ns\": %llu, \"wait_after_ns\": %llu, "
		       "\"wait_ns\": %llu, ",
		       run->wait_before, run->wait_after,
		       run->wait_after - run->wait_before);
	else
		printf("\"wait_before_ns\": null, \"wait_after_ns\": null, "
		       "\"wait_ns\": null, ");
	printf("\"histogram\": [");
	for (size_t b = 0; b < PROBE_BUCKETS; b++) {
		printf("%s{\"low_ns\": %lld, \"high_ns\": ", b ? ", " : "",
		       (long long)probe_stats_bucket_low(b));
		if (b + 1 < PROBE_BUCKETS)
			printf("%lld",
			       (long long)probe_stats_bucket_low(b + 1));
		else
			printf("null");
		printf(", \"count\": %zu}", s->buckets[b]);
	}
	printf("], \"interrupted\": %s}", report->signal ? "true" : "false");
}

void probe_print_text(const struct probe_report *report)
{
	const struct probe_summary *s = report->summary;
	const struct probe_run *run = report->run;
	const struct probe_placement *placement = report->placement;
	char interval[32], threshold[32];
	size_t first = PROBE_BUCKETS, last = 0, most = 0;
	int pad;

	probe_format_time(report->options->interval_ns, interval,
			  sizeof(interval));
	probe_format_time(report->options->threshold_ns, threshold,
			  sizeof(threshold));
	printf("wake-ups:        %zu of %zu, every %s%s\n", s->count, run->want,
	       interval, report->signal ? " (interrupted)" : "");
	printf("placement:       cpus %s, policy %s, priority %d, nice %d",
	       report->asked, proc_policy_name(run->policy), run->priority,
	       run->nice);
	if (placement->rule[0])
		printf(" (rule %s)", placement->rule);
	printf("\nallowed cpus:    %s\n", run->allowed);
	printf("load:            cpus %s, siblings %lu\n",
	       report->options->load ? report->options->load : "-",
	       report->options->siblings);
	printf("woke on cpus:    %s\n", report->woke[0] ? report->woke : "-");
	printf("min:             %.1f us\n", (double)s->min / 1e3);
	printf("mean:            %.1f us\n", s->mean / 1e3);
	printf("p50:             %.1f us\n", (double)s->p50 / 1e3);
	printf("p99:             %.1f us\n", (double)s->p99 / 1e3);
	printf("p99.9:           %.1f us\n", (double)s->p999 / 1e3);
	printf("max:             %.1f us\n", (double)s->max / 1e3);
	pad = 11 - (int)strlen(threshold);
	printf("over %s:%*s%zu\n", threshold, pad > 1 ? pad : 1, "", s->over);
	if (run->has_wait)
		printf("run-queue wait:  %.1f us (schedstat %llu -> %llu ns)\n",
		       (double)(run->wait_after - run->wait_before) / 1e3,
		       run->wait_before, run->wait_after);
	else
		printf("run-queue wait:  - (no schedstat here)\n");
	for (size_t b = 0; b < PROBE_BUCKETS; b++)
		if (s->buckets[b]) {
			if (first == PROBE_BUCKETS)
				first = b;
			last = b;
			if (s->buckets[b] > most)
				most = s->buckets[b];
		}
	if (first == PROBE_BUCKETS)
		return;
	printf("\nhistogram (us):\n");
	for (size_t b = first; b <= last; b++) {
		char range[48];
		int bar = (int)((s->buckets[b] * 40 + most - 1) / most);

		if (b + 1 < PROBE_BUCKETS)
			snprintf(range, sizeof(range), "%lld-%lld",
				 (long long)probe_stats_bucket_low(b) / 1000,
				 (long long)probe_stats_bucket_low(b + 1) /
					 1000);
		else
			snprintf(range, sizeof(range), "%lld+",
				 (long long)probe_stats_bucket_low(b) / 1000);
		printf("  %-14s %8zu %.*s\n", range, s->buckets[b], bar,
		       "########################################");
	}
}

/* ns in tenths of a microsecond, rounded half away from zero: the
 * figures of the comparison, and what its verdicts compare. */
static long long probe_tenths(int64_t ns)
{
	return ns < 0 ? -((-(long long)ns + 50) / 100)
		      : ((long long)ns + 50) / 100;
}

static void probe_format_tenths(long long tenths, char *buf, size_t len)
{
	unsigned long long magnitude =
		tenths < 0 ? 0ULL - (unsigned long long)tenths
			   : (unsigned long long)tenths;

	snprintf(buf, len, "%s%llu.%llu", tenths < 0 ? "-" : "", magnitude / 10,
		 magnitude % 10);
}

/* A ratio of p99s: two decimals, three under 0.1 (where two would say
 * little). */
static void probe_format_ratio(double ratio, char *buf, size_t len)
{
	snprintf(buf, len, ratio < 0.1 ? "%.3f" : "%.2f", ratio);
}

/* What the p99s of --compare say, to the 0.1 us the table prints. */
struct probe_verdict {
	size_t count;
	bool has[PROBE_SETUPS]; /* a p99: some wake-ups */
	long long p99[PROBE_SETUPS];
	bool has_ratio[PROBE_SETUPS];
	double ratio[PROBE_SETUPS]; /* p99 over the process's */
	bool worse[PROBE_SETUPS];   /* p99 over the unplaced one's */
	bool lowest[PROBE_SETUPS];
	size_t alone; /* the CPUs alone: cpus only, or the plan of three */
	bool policy_better; /* the policy alone under the CPUs alone */
};

static void probe_judge(const struct probe_report *reports, size_t count,
			struct probe_verdict *v)
{
	long long low = 0;
	bool any = false;

	memset(v, 0, sizeof(*v));
	v->count = count;
	v->alone = PROBE_PLAN;
	if (count >= PROBE_SETUPS) {
		v->count = PROBE_SETUPS;
		v->alone = PROBE_CPUS_ONLY;
	}
	for (size_t i = 0; i < v->count; i++) {
		v->has[i] = reports[i].summary->count > 0;
		v->p99[i] = probe_tenths(reports[i].summary->p99);
		if (v->has[i] && (!any || v->p99[i] < low))
			low = v->p99[i];
		any = any || v->has[i];
	}
	for (size_t i = 0; i < v->count; i++) {
		if (!v->has[i])
			continue;
		v->lowest[i] = v->p99[i] == low;
		v->worse[i] = i != PROBE_UNPLACED && v->has[PROBE_UNPLACED] &&
			      v->p99[i] > v->p99[PROBE_UNPLACED];
		v->has_ratio[i] = v->count > PROBE_PROCESS &&
				  v->has[PROBE_PROCESS] &&
				  v->p99[PROBE_PROCESS] > 0;
		if (v->has_ratio[i])
			v->ratio[i] = (double)v->p99[i] /
				      (double)v->p99[PROBE_PROCESS];
	}
	v->policy_better = v->count == PROBE_SETUPS &&
			   v->has[PROBE_POLICY_ONLY] &&
			   v->has[PROBE_CPUS_ONLY] &&
			   v->p99[PROBE_POLICY_ONLY] < v->p99[PROBE_CPUS_ONLY];
}

/* One row of the comparison: label, then each setup's value. */
static void probe_compare_row(const char *label, char values[][32],
			      size_t count)
{
	printf("%-20s", label);
	for (size_t i = 0; i < count; i++)
		printf(i + 1 < count ? " %-14s" : " %s", values[i]);
	putchar('\n');
}

/* text as a paragraph after a blank line, broken at its spaces before
 * column 78. */
static void probe_print_wrapped(const char *text)
{
	size_t column = 0;

	putchar('\n');
	text += strspn(text, " ");
	while (*text) {
		size_t word = strcspn(text, " ");

		if (column && column + 1 + word > 78) {
			putchar('\n');
			column = 0;
		} else if (column) {
			putchar(' ');
			column++;
		}
		fwrite(text, 1, word, stdout);
		column += word;
		text += word;
		text += strspn(text, " ");
	}
	putchar('\n');
}

/* The sentences under the table, each where the p99s say it. */
static void probe_print_verdicts(const struct probe_report *reports,
				 const char *const *names,
				 const struct probe_verdict *v)
{
	char text[1024], p99[PROBE_SETUPS][32];
	const struct probe_report *policy = &reports[PROBE_POLICY_ONLY];
	size_t lowest = 0, said = 0, first = PROBE_SETUPS;

	for (size_t i = 0; i < v->count; i++) {
		probe_format_tenths(v->p99[i], p99[i], sizeof(p99[i]));
		if (v->lowest[i]) {
			lowest++;
			if (first == PROBE_SETUPS)
				first = i;
		}
	}
	if (v->worse[v->alone]) {
		snprintf(text, sizeof(text),
			 "The placement alone made the p99 worse: %s us on "
			 "CPUs %s against %s us unplaced. A pinned thread "
			 "cannot leave a busy CPU, and an idle CPU first has "
			 "to wake up: keep its CPU free of other work "
			 "(klipper-pin reserve) or give it a policy.",
			 p99[v->alone], reports[v->alone].asked,
			 p99[PROBE_UNPLACED]);
		probe_print_wrapped(text);
	}
	if (v->worse[PROBE_PROCESS]) {
		snprintf(text, sizeof(text),
			 "The whole process on CPUs %s (what CPUAffinity= "
			 "gives) made the p99 worse: %s us against %s us "
			 "unplaced.",
			 reports[PROBE_PROCESS].asked, p99[PROBE_PROCESS],
			 p99[PROBE_UNPLACED]);
		probe_print_wrapped(text);
	}
	if (v->policy_better) {
		snprintf(text, sizeof(text),
			 "The policy alone (%s %d) did more than the placement "
			 "alone (CPUs %s): p99 %s us against %s us.",
			 proc_policy_name(policy->run->policy),
			 policy->run->priority, reports[PROBE_CPUS_ONLY].asked,
			 p99[PROBE_POLICY_ONLY], p99[PROBE_CPUS_ONLY]);
		probe_print_wrapped(text);
	}
	if (first == PROBE_SETUPS)
		return;
	snprintf(text, sizeof(text), "Lowest p99: ");
	for (size_t i = 0; i < v->count; i++)
		if (v->lowest[i]) {
			said++;
			snprintf(text + strlen(text),
				 sizeof(text) - strlen(text), "%s%s",
				 said == 1	  ? ""
				 : said == lowest ? " and "
						  : ", ",
				 names[i]);
		}
	snprintf(text + strlen(text), sizeof(text) - strlen(text), ", %s us",
		 p99[first]);
	if (!v->lowest[PROBE_PROCESS] && v->has_ratio[first]) {
		char ratio[32];

		probe_format_ratio(v->ratio[first], ratio, sizeof(ratio));
		snprintf(text + strlen(text), sizeof(text) - strlen(text),
			 ", %sx the whole process's", ratio);
	}
	snprintf(text + strlen(text), sizeof(text) - strlen(text), ".");
	probe_print_wrapped(text);
}

void probe_print_compare(const struct probe_report *reports,
			 const char *const *names, size_t count)
{
	static const struct {
		const char *label;
		size_t offset;
	} figures[] = {
		{ "min (us)", offsetof(struct probe_summary, min) },
		{ "p50 (us)", offsetof(struct probe_summary, p50) },
		{ "p99 (us)", offsetof(struct probe_summary, p99) },
		{ "p99.9 (us)", offsetof(struct probe_summary, p999) },
		{ "max (us)", offsetof(struct probe_summary, max) },
	};
	char values[PROBE_SETUPS][32], interval[32], threshold[32], label[48];
	struct probe_verdict verdict;

	probe_judge(reports, count, &verdict);
	count = verdict.count;
	probe_format_time(reports[0].options->interval_ns, interval,
			  sizeof(interval));
	probe_format_time(reports[0].options->threshold_ns, threshold,
			  sizeof(threshold));
	printf("compare: %lu rounds of %llu wake-ups every %s for each, in "
	       "turn%s\n\n",
	       reports[0].options->rounds, reports[0].options->count, interval,
	       reports[0].signal ? " (interrupted)" : "");
	for (size_t i = 0; i < count; i++)
		snprintf(values[i], sizeof(values[i]), "%s", names[i]);
	probe_compare_row("", values, count);
	for (size_t i = 0; i < count; i++)
		snprintf(values[i], sizeof(values[i]), "%s", reports[i].asked);
	probe_compare_row("cpus", values, count);
	for (size_t i = 0; i < count; i++)
		snprintf(values[i], sizeof(values[i]), "%s %d",
			 proc_policy_name(reports[i].run->policy),
			 reports[i].run->priority);
	probe_compare_row("policy", values, count);
	for (size_t i = 0; i < count; i++)
		snprintf(values[i], sizeof(values[i]), "%s",
			 reports[i].woke[0] ? reports[i].woke : "-");
	probe_compare_row("woke on cpus", values, count);
	for (size_t i = 0; i < count; i++)
		snprintf(values[i], sizeof(values[i]), "%zu",
			 reports[i].summary->count);
	probe_compare_row("wake-ups", values, count);
	for (size_t i = 0; i < count; i++)
		snprintf(values[i], sizeof(values[i]), "%.1f",
			 reports[i].summary->mean / 1e3);
	probe_compare_row("mean (us)", values, count);
	for (size_t f = 0; f < sizeof(figures) / sizeof(figures[0]); f++) {
		for (size_t i = 0; i < count; i++) {
			int64_t value;

			memcpy(&value,
			       (const char *)reports[i].summary +
				       figures[f].offset,
			       sizeof(value));
			probe_format_tenths(probe_tenths(value), values[i],
					    sizeof(values[i]));
		}
		probe_compare_row(figures[f].label, values, count);
		if (figures[f].offset != offsetof(struct probe_summary, p99))
			continue;
		for (size_t i = 0; i < count; i++)
			if (verdict.has_ratio[i])
				probe_format_ratio(verdict.ratio[i], values[i],
						   sizeof(values[i]));
			else
				snprintf(values[i], sizeof(values[i]), "-");
		probe_compare_row("p99 / process", values, count);
	}
	for (size_t i = 0; i < count; i++)
		snprintf(values[i], sizeof(values[i]), "%zu",
			 reports[i].summary->over);
	snprintf(label, sizeof(label), "over %s", threshold);
	probe_compare_row(label, values, count);
	for (size_t i = 0; i < count; i++)
		if (reports[i].run->has_wait)
			snprintf(values[i], sizeof(values[i]), "%.1f",
				 (double)(reports[i].run->wait_after -
					  reports[i].run->wait_before) /
					 1e3);
		else
			snprintf(values[i], sizeof(values[i]), "-");
	probe_compare_row("run-queue wait (us)", values, count);
	probe_print_verdicts(reports, names, &verdict);
}

/* The names of the setups where flags holds, as a JSON list. */
static void probe_json_names(const char *key, const bool *flags,
			     const char *const *names, size_t count)
{
	bool first = true;

	printf(", \"%s\": [", key);
	for (size_t i = 0; i < count; i++)
		if (flags[i]) {
			printf("%s", first ? "" : ", ");
			json_string(stdout, names[i]);
			first = false;
		}
	putchar(']');
}

void probe_print_compare_json(const struct probe_report *reports,
			      const char *const *names, size_t count)
{
	struct probe_verdict verdict;

	probe_judge(reports, count, &verdict);
	count = verdict.count;
	printf("{\"compare\": true, \"rounds\": %lu, \"interrupted\": %s, "
	       "\"setups\": {",
	       reports[0].options->rounds,
	       reports[0].signal ? "true" : "false");
	for (size_t i = 0; i < count; i++) {
		printf("%s", i ? ", " : "");
		json_string(stdout, names[i]);
		printf(": ");
		probe_print_json(&reports[i]);
	}
	printf("}, \"p99_to_process\": {");
	for (size_t i = 0; i < count; i++) {
		printf("%s", i ? ", " : "");
		json_string(stdout, names[i]);
		if (verdict.has_ratio[i]) {
			char ratio[32];

			probe_format_ratio(verdict.ratio[i], ratio,
					   sizeof(ratio));
			printf(": %s", ratio);
		} else {
			printf(": null");
		}
	}
	putchar('}');
	probe_json_names("worse_than_unplaced", verdict.worse, names, count);
	probe_json_names("lowest_p99", verdict.lowest, names, count);
	putchar('}');
}

/* ---- --svg --------------------------------------------------------------- */

#define PROBE_SVG_WIDTH 900
#define PROBE_SVG_LEFT 70.0
#define PROBE_SVG_RIGHT 870.0
#define PROBE_SVG_TOP 70.0
#define PROBE_SVG_BOTTOM 400.0

/* The cumulative curve of one setup's sorted samples: a step at each
 * pixel the curve moves, not one per wake-up. */
static void probe_svg_curve(FILE *out, const struct probe_report *report,
			    const struct svg_axis *x, const struct svg_axis *y,
			    const char *color, size_t index)
{
	const int64_t *sorted = report->run->samples;
	size_t count = report->summary->count, used = 0;
	size_t room = 4 * (size_t)(PROBE_SVG_WIDTH + PROBE_SVG_BOTTOM) + 8;
	double *xs = malloc(room * sizeof(double));
	double *ys = malloc(room * sizeof(double));
	double last_x = -1, last_y = y->from;
	char class_name[48];

	if (!xs || !ys || count == 0) {
		free(xs);
		free(ys);
		return;
	}
	for (size_t i = 0; i < count && used + 2 <= room; i++) {
		double px = svg_map(x, (double)sorted[i] / 1e3);
		double py = svg_map(y, (double)(i + 1) / (double)count);

		if (used == 0) {
			xs[used] = px;
			ys[used++] = y->from;
		} else if (px - last_x < 0.5 && last_y - py < 0.5 &&
			   i + 1 < count) {
			continue;
		}
		xs[used] = px;
		ys[used++] = last_y;
		xs[used] = px;
		ys[used++] = py;
		last_x = px;
		last_y = py;
	}
	snprintf(class_name, sizeof(class_name), "series setup-%zu", index + 1);
	svg_polyline(out, xs, ys, used, color, class_name);
	free(xs);
	free(ys);
}

/* A percentile marked on a setup's curve: a dashed line down to the
 * axis and its value beside it, rows apart by setup. */
static void probe_svg_mark(FILE *out, const struct svg_axis *x,
			   const struct svg_axis *y, const char *label,
			   int64_t ns, double fraction, const char *color,
			   size_t index)
{
	double px = svg_map(x, (double)ns / 1e3);
	double py = svg_map(y, fraction);
	char text[64];

	svg_line(out, px, py, px, y->from, color, 1, true);
	fprintf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n",
		px, py, color);
	snprintf(text, sizeof(text), "%s %.1f \xc2\xb5s", label,
		 (double)ns / 1e3);
	/* On a white ground, so that another curve's line does not cross
	 * the figures (about 6.5 px a character at 11 px). */
	py += 16 + 15 * (double)index;
	fprintf(out,
		"<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"14\" "
		"fill=\"white\" fill-opacity=\"0.85\"/>\n",
		px + 2, py - 11, 6.5 * (double)strlen(text) - 4);
	svg_text(out, px + 4, py, "start", 11, color, text);
}

void probe_print_svg(FILE *out, const struct probe_report *reports,
		     const char *const *names, size_t count)
{
	const struct probe_options *options = reports[0].options;
	struct svg_axis x = { 10, 10000, PROBE_SVG_LEFT, PROBE_SVG_RIGHT,
			      true };
	struct svg_axis y = { 0, 1, PROBE_SVG_BOTTOM, PROBE_SVG_TOP, false };
	double legend = PROBE_SVG_BOTTOM + 62;
	char interval[32], line[1024];
	int64_t low = INT64_MAX, high = 0;
	int height = (int)legend + 22 * (int)count + 30;

	for (size_t i = 0; i < count; i++)
		if (reports[i].summary->count) {
			if (reports[i].summary->min < low)
				low = reports[i].summary->min;
			if (reports[i].summary->max > high)
				high = reports[i].summary->max;
		}
	/* Whole decades around the samples, 10 us to 10 ms at least. */
	while (x.low > 0.01 && (double)low < x.low * 1e3)
		x.low /= 10;
	while (x.high < 1e7 && (double)high > x.high * 1e3)
		x.high *= 10;
	probe_format_time(options->interval_ns, interval, sizeof(interval));
	svg_begin(out, PROBE_SVG_WIDTH, height,
		  "klipper-pin probe: wake-up latency");
	svg_text(out, PROBE_SVG_LEFT, 28, "start", 18, "black",
		 options->compare ? "klipper-pin probe --compare: wake-up "
				    "latency"
				  : "klipper-pin probe: wake-up latency");
	snprintf(line, sizeof(line), "%llu wake-ups every %s%s%s%s%s%s%s%s",
		 options->count * (options->compare ? options->rounds : 1),
		 interval, options->compare ? " for each setup" : "",
		 options->rule ? "; rule " : "",
		 options->rule ? options->rule : "",
		 options->config ? " of " : "",
		 options->config ? options->config : "",
		 options->load ? "; busy processes on cpus " : "",
		 options->load ? options->load : "");
	if (options->siblings)
		snprintf(line + strlen(line), sizeof(line) - strlen(line),
			 "; %lu busy sibling thread%s", options->siblings,
			 options->siblings == 1 ? "" : "s");
	if (reports[0].signal)
		snprintf(line + strlen(line), sizeof(line) - strlen(line),
			 " (interrupted)");
	svg_text(out, PROBE_SVG_LEFT, 50, "start", 12, "#444", line);
	/* The frame, the decades and the fractions. */
	fprintf(out,
		"<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
		"fill=\"none\" stroke=\"#888\"/>\n",
		PROBE_SVG_LEFT, PROBE_SVG_TOP, PROBE_SVG_RIGHT - PROBE_SVG_LEFT,
		PROBE_SVG_BOTTOM - PROBE_SVG_TOP);
	for (int decade = 0; decade < 12; decade++) {
		double tick = x.low;
		double px;

		for (int i = 0; i < decade; i++)
			tick *= 10;
		if (tick > x.high * 1.001)
			break;
		px = svg_map(&x, tick);
		char text[32];

		svg_line(out, px, PROBE_SVG_TOP, px, PROBE_SVG_BOTTOM + 5,
			 "#ddd", 1, false);
		snprintf(text, sizeof(text), "%g", tick);
		svg_text(out, px, PROBE_SVG_BOTTOM + 18, "middle", 11, "black",
			 text);
	}
	svg_text(out, (PROBE_SVG_LEFT + PROBE_SVG_RIGHT) / 2,
		 PROBE_SVG_BOTTOM + 36, "middle", 12, "black",
		 "how late it woke (\xc2\xb5s, log scale)");
	for (int percent = 0; percent <= 100; percent += 25) {
		double py = svg_map(&y, percent / 100.0);
		char text[16];

		svg_line(out, PROBE_SVG_LEFT - 5, py, PROBE_SVG_RIGHT, py,
			 "#eee", 1, false);
		snprintf(text, sizeof(text), "%d%%", percent);
		svg_text(out, PROBE_SVG_LEFT - 8, py + 4, "end", 11, "black",
			 text);
	}
	svg_line(out, PROBE_SVG_LEFT, svg_map(&y, 0.99), PROBE_SVG_RIGHT,
		 svg_map(&y, 0.99), "#bbb", 1, true);
	svg_text(out, PROBE_SVG_RIGHT + 3, svg_map(&y, 0.99) + 4, "start", 10,
		 "#666", "99%");
	fprintf(out,
		"<text x=\"18\" y=\"%.1f\" text-anchor=\"middle\" "
		"font-size=\"12\" transform=\"rotate(-90 18 %.1f)\">"
		"wake-ups woken by then</text>\n",
		(PROBE_SVG_TOP + PROBE_SVG_BOTTOM) / 2,
		(PROBE_SVG_TOP + PROBE_SVG_BOTTOM) / 2);
	for (size_t i = 0; i < count; i++) {
		const struct probe_report *r = &reports[i];
		const char *color = svg_color(i);

		probe_svg_curve(out, r, &x, &y, color, i);
		if (r->summary->count) {
			probe_svg_mark(out, &x, &y, "p50", r->summary->p50, 0.5,
				       color, i);
			probe_svg_mark(out, &x, &y, "p99", r->summary->p99,
				       0.99, color, i);
		}
		snprintf(line, sizeof(line),
			 "%s: cpus %s, %s %d, woke on %s: p50 %.1f \xc2\xb5s, "
			 "p99 %.1f \xc2\xb5s, max %.1f \xc2\xb5s, %zu wake-ups",
			 count == 1 ? "probe" : names[i], r->asked,
			 proc_policy_name(r->run->policy), r->run->priority,
			 r->woke[0] ? r->woke : "-",
			 (double)r->summary->p50 / 1e3,
			 (double)r->summary->p99 / 1e3,
			 (double)r->summary->max / 1e3, r->summary->count);
		svg_line(out, PROBE_SVG_LEFT, legend + 22 * (double)i - 4,
			 PROBE_SVG_LEFT + 24, legend + 22 * (double)i - 4,
			 color, 3, false);
		svg_text(out, PROBE_SVG_LEFT + 32, legend + 22 * (double)i,
			 "start", 12, "black", line);
	}
	svg_end(out);
}
