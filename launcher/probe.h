/*
 * What the parts of klipper-pin probe share: its options, the placement
 * of the probe thread, one run of it (written by the probe thread, read by
 * the main thread once joined), and the report printed of it
 * (probe_print.c).
 */
#ifndef KLIPPER_PIN_PROBE_H
#define KLIPPER_PIN_PROBE_H

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "plan.h"
#include "probe_stats.h"

#define PROBE_EXIT_CANNOT_RUN 1
#define PROBE_EXIT_USAGE 2
#define PROBE_MAX_SAMPLES 10000000u
#define PROBE_MAX_INTERVAL_NS 1000000000LL
#define PROBE_NS 1000000000LL

/* What the probe thread is to be given; unset fields keep what it has. */
struct probe_placement {
	cpu_set_t *cpus; /* NULL: keep */
	enum plan_policy policy;
	int priority;
	bool has_nice;
	int nice;
	char rule[64]; /* "" when no config rule is used */
};

struct probe_options {
	long long interval_ns, duration_ns, threshold_ns;
	unsigned long long count;
	const char *cpus, *policy, *config, *rule, *load;
	int priority; /* -1: not given */
	bool has_nice;
	int nice;
	unsigned long siblings;
	bool json;
	bool compare;	      /* the setups of enum probe_setup in turn */
	unsigned long rounds; /* of --compare */
	const char *svg;      /* --svg FILE, or NULL */
};

/* Shared by the probe thread and the main thread. */
struct probe_run {
	const struct probe_placement *placement;
	size_t want;
	long long interval_ns;
	int64_t *samples;
	unsigned long *woke; /* wake-ups per CPU, CPULIST_MAX_CPU + 1 */
	atomic_size_t got;
	atomic_bool stop, done;
	bool has_wait;
	unsigned long long wait_before, wait_after;
	char allowed[1024];	    /* the CPUs it may run on, once placed */
	int policy, priority, nice; /* what it runs with, once placed */
	int failure;		    /* errno of a placement that failed, or 0 */
	char problem[512];
};

struct probe_report {
	const struct probe_options *options;
	const struct probe_placement *placement;
	const struct probe_run *run;
	const struct probe_summary *summary;
	const char *asked; /* the CPUs asked for, or "inherit" */
	const char *woke;
	int signal; /* what stopped it, or 0 */
};

/*
 * The setups of --compare, in this order in its reports: the probe
 * unplaced; the whole process on the placement's CPUs (as systemd's
 * CPUAffinity= puts it); the placement; and where it has a policy or nice
 * as well as CPUs, its CPUs alone and its policy and nice alone.
 */
enum probe_setup_index {
	PROBE_UNPLACED,
	PROBE_PROCESS,
	PROBE_PLAN,
	PROBE_CPUS_ONLY,
	PROBE_POLICY_ONLY,
	PROBE_SETUPS
};

/* The CPUs run->woke counts wake-ups on, as a list ("1", "0-1"). */
void probe_woke_text(const struct probe_run *run, char *buf, size_t len);

/* One JSON object of the report, with no newline after it. */
void probe_print_json(const struct probe_report *report);

/* The report for a terminal: one "label: value" line each, then the
 * histogram of the buckets from the first to the last one used. */
void probe_print_text(const struct probe_report *report);

/*
 * --compare: the reports of each setup side by side, one column each, in
 * the order of enum probe_setup_index (count 3 or 5), a row of each
 * p99 over the process's, then a sentence for each thing the p99s say:
 * the CPUs alone or the whole process worse than unplaced, the policy
 * alone better than the CPUs alone, and always the lowest. The p99s are
 * compared to the 0.1 us the table prints them to.
 */
void probe_print_compare(const struct probe_report *reports,
			 const char *const *names, size_t count);

/* --compare --json: one object of every setup's report by its name, each
 * p99 over the process's ("p99_to_process"), the setups whose p99 is over
 * the unplaced one's ("worse_than_unplaced") and those of the lowest
 * ("lowest_p99"), as the text compares them; no newline after it. */
void probe_print_compare_json(const struct probe_report *reports,
			      const char *const *names, size_t count);

/*
 * The picture of --svg: each setup's cumulative latency curve on one log
 * axis of microseconds, p50 and p99 marked with their values, a legend
 * line each. The samples of each report's run must be sorted (as
 * probe_stats_summarize leaves them).
 */
void probe_print_svg(FILE *out, const struct probe_report *reports,
		     const char *const *names, size_t count);

/* "1ms", "1500us": the shortest exact way to write ns. */
void probe_format_time(long long ns, char *buf, size_t len);

#endif
