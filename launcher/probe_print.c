/*
 * klipper-pin probe's report: text for a terminal, with a log2 histogram,
 * one JSON object, or the setups of --compare side by side.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cpulist.h"
#include "probe.h"
#include "proc.h"

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

static void probe_json_string(const char *text)
{
	putchar('"');
	for (const unsigned char *p = (const unsigned char *)text; *p; p++)
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if (*p < 0x20)
			printf("\\u%04x", *p);
		else
			putchar(*p);
	putchar('"');
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
	probe_json_string(report->asked);
	printf(", \"allowed\": ");
	probe_json_string(run->allowed);
	printf(", \"policy\": ");
	probe_json_string(proc_policy_name(run->policy));
	printf(", \"priority\": %d, \"nice\": %d", run->priority, run->nice);
	printf(", \"rule\": ");
	if (report->placement->rule[0])
		probe_json_string(report->placement->rule);
	else
		printf("null");
	printf(", \"load\": ");
	probe_json_string(report->options->load ? report->options->load : "");
	printf(", \"siblings\": %lu, \"woke_on\": ", report->options->siblings);
	probe_json_string(report->woke);
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

/* One row of the comparison: label, then each setup's value. */
static void probe_compare_row(const char *label, char values[][32],
			      size_t count)
{
	printf("%-20s", label);
	for (size_t i = 0; i < count; i++)
		printf(i + 1 < count ? " %-14s" : " %s", values[i]);
	putchar('\n');
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
	char values[3][32], interval[32], threshold[32], label[48];

	if (count > 3)
		count = 3;
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
			snprintf(values[i], sizeof(values[i]), "%.1f",
				 (double)value / 1e3);
		}
		probe_compare_row(figures[f].label, values, count);
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
}
