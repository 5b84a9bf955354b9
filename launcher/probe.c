/*
 * klipper-pin probe: wake-up latency in the manner of cyclictest. One
 * thread sleeps to absolute deadlines (clock_nanosleep, CLOCK_MONOTONIC,
 * TIMER_ABSTIME) and records how late each wake-up was and the CPU it woke
 * on, under a placement (CPUs, policy, priority, nice, or a config rule, so
 * that the very plan used for klippy is measured) and under a load of busy
 * processes and sibling threads (probe_load.h).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "build.h"
#include "cpulist.h"
#include "plan.h"
#include "probe_load.h"
#include "probe_stats.h"
#include "proc.h"
#include "subcommands.h"

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

static void probe_usage(FILE *out)
{
	fputs("usage: klipper-pin probe [--count N | --duration TIME] "
	      "[--interval TIME]\n"
	      "                         [--cpus LIST] [--policy POLICY] "
	      "[--priority N]\n"
	      "                         [--nice N] [--config FILE --rule "
	      "NAME]\n"
	      "                         [--load LIST] [--siblings N] "
	      "[--threshold TIME]\n"
	      "                         [--json]\n"
	      "\n"
	      "Measures wake-up latency as cyclictest does: a thread sleeps "
	      "to absolute\n"
	      "deadlines and records how late it woke, and on which CPU.\n"
	      "\n"
	      "  -n, --count N         wake-ups (default 1000)\n"
	      "  -d, --duration TIME   or run this long (10s, 500ms)\n"
	      "  -i, --interval TIME   between deadlines (default 1ms; "
	      "bare: us)\n"
	      "      --cpus LIST       place the probe thread there (taskset "
	      "-c)\n"
	      "      --policy POLICY   other, batch, idle, fifo or rr\n"
	      "      --priority N      1-99, with fifo or rr (default 1)\n"
	      "      --nice N          its nice value\n"
	      "  -c, --config FILE     with --rule: place it as the config's\n"
	      "  -r, --rule NAME       [thread NAME] rule (or main) places a "
	      "thread\n"
	      "      --load LIST       a busy process pinned on each CPU of "
	      "LIST\n"
	      "      --siblings N      N busy threads of this process (2 ms "
	      "busy,\n"
	      "                        1 ms idle), where it may run\n"
	      "  -t, --threshold TIME  count wake-ups later than this "
	      "(default 1ms)\n"
	      "  -j, --json            one JSON document\n"
	      "  -h, --help            this text\n"
	      "\n"
	      "Exit status: 0 measured, 1 cannot run, 2 usage; 128+N "
	      "interrupted by\n"
	      "signal N (after the results so far).\n",
	      out);
}

/* "1ms", "250us", "2s", "500ns", "1.5ms"; a bare number is in bare_ns
 * units. Returns false unless it is a finite number with a known unit. */
static bool probe_parse_time(const char *text, long long bare_ns, long long *ns)
{
	static const struct {
		const char *unit;
		long long ns;
	} units[] = {
		{ "ns", 1 },
		{ "us", 1000 },
		{ "ms", 1000000 },
		{ "s", PROBE_NS },
	};
	char *end;
	double value;

	errno = 0;
	value = strtod(text, &end);
	if (end == text || errno || !isfinite(value) || strchr(text, 'x') ||
	    strchr(text, 'X'))
		return false;
	if (*end == '\0') {
		value *= (double)bare_ns;
	} else {
		size_t i;

		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++)
			if (strcmp(end, units[i].unit) == 0)
				break;
		if (i == sizeof(units) / sizeof(units[0]))
			return false;
		value *= (double)units[i].ns;
	}
	if (value > 1e15 || value < -1e15)
		return false;
	*ns = (long long)(value < 0 ? value - 0.5 : value + 0.5);
	return true;
}

static bool probe_parse_long(const char *text, long long low, long long high,
			     long long *out)
{
	char *end;
	long long value;

	errno = 0;
	value = strtoll(text, &end, 10);
	if (end == text || *end || errno || value < low || value > high)
		return false;
	*out = value;
	return true;
}

/* "1ms", "1500us": the shortest exact way to write ns. */
static void probe_format_time(long long ns, char *buf, size_t len)
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

static int probe_bad(const char *what, const char *value, const char *expected)
{
	fprintf(stderr, "klipper-pin probe: bad %s '%s': expected %s\n", what,
		value, expected);
	return PROBE_EXIT_USAGE;
}

/*
 * Parses a CPU list and checks that each CPU it names is online: 0 with
 * *set allocated (the caller frees it), or PROBE_EXIT_USAGE said.
 */
static int probe_cpus(const char *option, const char *text, cpu_set_t **set)
{
	cpu_set_t *online = CPU_ALLOC(CPULIST_MAX_CPU + 1);
	cpu_set_t *named = CPU_ALLOC(CPULIST_MAX_CPU + 1);
	cpu_set_t *missing = CPU_ALLOC(CPULIST_MAX_CPU + 1);
	struct cpulist list = { 0 };
	const char *bad = NULL;
	char absent[256] = "", missing_text[256], online_text[256];
	enum cpulist_error error = CPULIST_NO_MEMORY;
	long absent_count = -1;
	int status = PROBE_EXIT_USAGE;

	if (!online || !named || !missing)
		goto out;
	error = cpulist_parse(text, CPULIST_MAX_CPU, &list, &bad);
	if (error != CPULIST_OK) {
		fprintf(stderr,
			"klipper-pin probe: bad %s '%s': %s at '%s' (a list "
			"as taskset -c takes, e.g. 1 or 0-1)\n",
			option, text, cpulist_strerror(error), bad ? bad : "");
		goto out;
	}
	if (cpulist_read_online(online, CPULIST_SETSIZE) != 0) {
		fprintf(stderr,
			"klipper-pin probe: cannot read the online CPUs: %s\n",
			strerror(errno));
		status = PROBE_EXIT_CANNOT_RUN;
		goto out;
	}
	CPU_ZERO_S(CPULIST_SETSIZE, named);
	absent_count = cpulist_resolve(&list, online, CPULIST_SETSIZE, named,
				       absent, sizeof(absent));
	CPU_XOR_S(CPULIST_SETSIZE, missing, named, online);
	CPU_AND_S(CPULIST_SETSIZE, missing, missing, named);
	cpulist_format(online, CPULIST_SETSIZE, online_text,
		       sizeof(online_text));
	if (absent_count != 0 || CPU_COUNT_S(CPULIST_SETSIZE, missing)) {
		cpulist_format(missing, CPULIST_SETSIZE, missing_text,
			       sizeof(missing_text));
		fprintf(stderr,
			"klipper-pin probe: %s '%s': CPU %s%s%s not online "
			"here (online: %s)\n",
			option, text, missing_text,
			missing_text[0] && absent[0] ? "," : "", absent,
			online_text);
		goto out;
	}
	*set = named;
	named = NULL;
	status = 0;
out:
	if (error == CPULIST_NO_MEMORY)
		fprintf(stderr, "klipper-pin probe: out of memory\n");
	cpulist_free(&list);
	CPU_FREE(online);
	CPU_FREE(named);
	CPU_FREE(missing);
	return status;
}

/* The placement of the config's rule named name: 0, or an exit status
 * said. */
static int probe_from_rule(const char *config, const char *name,
			   struct probe_placement *placement)
{
	struct plan_error error = { .line = 0 };
	struct plan plan = { 0 };
	struct plan_inputs inputs = { .config = NULL };
	char path[PATH_MAX];
	struct plan_action *action = NULL;
	long spread_cpu;

	if (plan_choose_config(config, path, sizeof(path)) != 0) {
		fprintf(stderr, "klipper-pin probe: the config's path is too "
				"long\n");
		return PROBE_EXIT_CANNOT_RUN;
	}
	inputs.config = path;
	if (plan_build(&plan, &inputs, &error) != 0) {
		fprintf(stderr, "klipper-pin probe: %s%s", error.file,
			error.file[0] ? ":" : "");
		if (error.line)
			fprintf(stderr, "%d:", error.line);
		fprintf(stderr, " %s\n", error.message);
		return PROBE_EXIT_CANNOT_RUN;
	}
	for (size_t i = 0; i < plan.rule_count && !action; i++)
		if (strcmp(plan.rules[i].name, name) == 0)
			action = &plan.rules[i].action;
	if (!action && strcmp(name, "main") == 0)
		action = &plan.main;
	if (!action) {
		fprintf(stderr, "klipper-pin probe: %s: no rule [thread %s]",
			path, name);
		for (size_t i = 0; i < plan.rule_count; i++)
			fprintf(stderr, "%s%s",
				i ? ", " : " (its rules: ", plan.rules[i].name);
		fprintf(stderr, "%s\n", plan.rule_count ? ", and main)" : "");
		plan_free(&plan);
		return PROBE_EXIT_CANNOT_RUN;
	}
	for (size_t i = 0; i < plan.warning_count; i++)
		fprintf(stderr, "klipper-pin probe: warning: %s\n",
			plan.warnings[i]);
	snprintf(placement->rule, sizeof(placement->rule), "%s", name);
	if (action->skipped) {
		/* As the shim does: the rule matches and changes nothing. */
		plan_free(&plan);
		return 0;
	}
	spread_cpu = plan_action_next_cpu(action);
	if (spread_cpu >= 0 || action->set) {
		placement->cpus = CPU_ALLOC(CPULIST_MAX_CPU + 1);
		if (!placement->cpus) {
			plan_free(&plan);
			return PROBE_EXIT_CANNOT_RUN;
		}
		CPU_ZERO_S(CPULIST_SETSIZE, placement->cpus);
		if (spread_cpu >= 0)
			CPU_SET_S((size_t)spread_cpu, CPULIST_SETSIZE,
				  placement->cpus);
		else
			CPU_OR_S(CPULIST_SETSIZE, placement->cpus,
				 placement->cpus, action->set);
	}
	placement->policy = action->policy;
	placement->priority = action->priority;
	placement->has_nice = action->has_nice;
	placement->nice = action->nice;
	plan_free(&plan);
	return 0;
}

/* ---- the probe thread ---------------------------------------------------- */

/* The second field of this thread's schedstat: its time waiting on a run
 * queue, in ns. False where the kernel keeps none. */
static bool probe_read_wait(unsigned long long *wait)
{
	char path[64], text[128], *end;

	snprintf(path, sizeof(path), "/proc/self/task/%ld/schedstat",
		 (long)gettid());
	if (proc_read_file(path, text, sizeof(text)) < 0)
		return false;
	errno = 0;
	(void)strtoull(text, &end, 10);
	if (end == text || *end != ' ')
		return false;
	*wait = strtoull(end + 1, &end, 10);
	return errno == 0 && (*end == ' ' || *end == '\n');
}

static int probe_place(struct probe_run *run)
{
	const struct probe_placement *placement = run->placement;
	cpu_set_t *now = CPU_ALLOC(CPULIST_MAX_CPU + 1);
	char want[256] = "";

	if (placement->cpus &&
	    sched_setaffinity(0, CPULIST_SETSIZE, placement->cpus) != 0) {
		run->failure = errno;
		cpulist_format(placement->cpus, CPULIST_SETSIZE, want,
			       sizeof(want));
		snprintf(run->problem, sizeof(run->problem),
			 "cannot place the probe on CPUs %s: %s", want,
			 strerror(run->failure));
		CPU_FREE(now);
		return -1;
	}
	if (placement->policy != PLAN_POLICY_UNSET) {
		struct sched_param param = { .sched_priority =
						     placement->priority };

		if (sched_setscheduler(0,
				       plan_policy_to_sched(placement->policy),
				       &param) != 0) {
			run->failure = errno;
			snprintf(run->problem, sizeof(run->problem),
				 "cannot set policy %s priority %d: %s%s%d%s",
				 plan_policy_name(placement->policy),
				 placement->priority, strerror(run->failure),
				 run->failure == EPERM
					 ? " (run as root, or raise "
					   "RLIMIT_RTPRIO to at least "
					 : "",
				 placement->priority,
				 run->failure == EPERM
					 ? ": ulimit -r, or LimitRTPRIO= in "
					   "a unit)"
					 : "");
			if (run->failure != EPERM)
				snprintf(run->problem, sizeof(run->problem),
					 "cannot set policy %s priority %d: %s",
					 plan_policy_name(placement->policy),
					 placement->priority,
					 strerror(run->failure));
			CPU_FREE(now);
			return -1;
		}
	}
	if (placement->has_nice &&
	    setpriority(PRIO_PROCESS, (id_t)gettid(), placement->nice) != 0) {
		run->failure = errno;
		snprintf(run->problem, sizeof(run->problem),
			 "cannot set nice %d: %s%s", placement->nice,
			 strerror(run->failure),
			 run->failure == EACCES || run->failure == EPERM
				 ? " (run as root, or raise RLIMIT_NICE)"
				 : "");
		CPU_FREE(now);
		return -1;
	}
	{
		struct sched_param param = { .sched_priority = 0 };

		run->policy = sched_getscheduler(0);
		if (sched_getparam(0, &param) == 0)
			run->priority = param.sched_priority;
		errno = 0;
		run->nice = getpriority(PRIO_PROCESS, (id_t)gettid());
	}
	if (now && sched_getaffinity(0, CPULIST_SETSIZE, now) == 0)
		cpulist_format(now, CPULIST_SETSIZE, run->allowed,
			       sizeof(run->allowed));
	CPU_FREE(now);
	return 0;
}

static void probe_add_ns(struct timespec *t, long long ns)
{
	t->tv_sec += (time_t)(ns / PROBE_NS);
	t->tv_nsec += (long)(ns % PROBE_NS);
	if (t->tv_nsec >= PROBE_NS) {
		t->tv_nsec -= PROBE_NS;
		t->tv_sec++;
	}
}

static void *probe_thread(void *argument)
{
	struct probe_run *run = argument;
	struct timespec next;

	if (probe_place(run) == 0) {
		/* As cyclictest -m: no page fault in the loop. Best effort;
		 * never under a sanitizer, whose shadow memory would all be
		 * faulted in. */
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
		(void)mlockall(MCL_CURRENT);
#endif
		run->has_wait = probe_read_wait(&run->wait_before);
		clock_gettime(CLOCK_MONOTONIC, &next);
		probe_add_ns(&next, run->interval_ns);
		for (size_t i = 0; i < run->want && !atomic_load(&run->stop);) {
			struct timespec now;
			int cpu;

			if (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME,
					    &next, NULL) != 0)
				continue; /* EINTR: the same deadline again */
			clock_gettime(CLOCK_MONOTONIC, &now);
			cpu = sched_getcpu();
			run->samples[i] =
				(int64_t)(now.tv_sec - next.tv_sec) * PROBE_NS +
				(now.tv_nsec - next.tv_nsec);
			if (cpu >= 0 && cpu <= (int)CPULIST_MAX_CPU)
				run->woke[cpu]++;
			atomic_store(&run->got, ++i);
			probe_add_ns(&next, run->interval_ns);
		}
		if (run->has_wait)
			run->has_wait = probe_read_wait(&run->wait_after);
	}
	atomic_store(&run->done, true);
	return NULL;
}

/* ---- the report ---------------------------------------------------------- */

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
static void probe_woke_text(const struct probe_run *run, char *buf, size_t len)
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

struct probe_report {
	const struct probe_options *options;
	const struct probe_placement *placement;
	const struct probe_run *run;
	const struct probe_summary *summary;
	const char *asked; /* the CPUs asked for, or "inherit" */
	const char *woke;
	int signal; /* what stopped it, or 0 */
};

static void probe_print_json(const struct probe_report *report)
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
	printf("], \"interrupted\": %s}\n", report->signal ? "true" : "false");
}

static void probe_print_text(const struct probe_report *report)
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

/* ---- the command --------------------------------------------------------- */

static int probe_parse(int argc, char **argv, struct probe_options *options)
{
	enum {
		OPTION_CPUS = 256,
		OPTION_POLICY,
		OPTION_PRIORITY,
		OPTION_NICE,
		OPTION_LOAD,
		OPTION_SIBLINGS,
	};
	static const struct option longs[] = {
		{ "count", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'd' },
		{ "interval", required_argument, NULL, 'i' },
		{ "cpus", required_argument, NULL, OPTION_CPUS },
		{ "policy", required_argument, NULL, OPTION_POLICY },
		{ "priority", required_argument, NULL, OPTION_PRIORITY },
		{ "nice", required_argument, NULL, OPTION_NICE },
		{ "config", required_argument, NULL, 'c' },
		{ "rule", required_argument, NULL, 'r' },
		{ "load", required_argument, NULL, OPTION_LOAD },
		{ "siblings", required_argument, NULL, OPTION_SIBLINGS },
		{ "threshold", required_argument, NULL, 't' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int option;
	long long value;

	while ((option = getopt_long(argc, argv, "n:d:i:c:r:t:jh", longs,
				     NULL)) != -1) {
		switch (option) {
		case 'n':
			if (!probe_parse_long(optarg, 1, PROBE_MAX_SAMPLES,
					      &value))
				return probe_bad("--count", optarg,
						 "a number of wake-ups, 1 to "
						 "10000000");
			options->count = (unsigned long long)value;
			break;
		case 'd':
			if (!probe_parse_time(optarg, PROBE_NS,
					      &options->duration_ns) ||
			    options->duration_ns <= 0)
				return probe_bad("--duration", optarg,
						 "a time above 0 (10s, 500ms)");
			break;
		case 'i':
			if (!probe_parse_time(optarg, 1000,
					      &options->interval_ns) ||
			    options->interval_ns < 1000 ||
			    options->interval_ns > PROBE_MAX_INTERVAL_NS)
				return probe_bad("--interval", optarg,
						 "a time from 1us to 1s (1ms, "
						 "500us)");
			break;
		case OPTION_CPUS:
			options->cpus = optarg;
			break;
		case OPTION_POLICY:
			options->policy = optarg;
			break;
		case OPTION_PRIORITY:
			if (!probe_parse_long(optarg, 1, 99, &value))
				return probe_bad("--priority", optarg,
						 "1 to 99");
			options->priority = (int)value;
			break;
		case OPTION_NICE:
			if (!probe_parse_long(optarg, -20, 19, &value))
				return probe_bad("--nice", optarg, "-20 to 19");
			options->has_nice = true;
			options->nice = (int)value;
			break;
		case 'c':
			options->config = optarg;
			break;
		case 'r':
			options->rule = optarg;
			break;
		case OPTION_LOAD:
			options->load = optarg;
			break;
		case OPTION_SIBLINGS:
			if (!probe_parse_long(optarg, 0, 64, &value))
				return probe_bad("--siblings", optarg,
						 "0 to 64 threads");
			options->siblings = (unsigned long)value;
			break;
		case 't':
			if (!probe_parse_time(optarg, 1000,
					      &options->threshold_ns) ||
			    options->threshold_ns < 0)
				return probe_bad("--threshold", optarg,
						 "a time (1ms, 200us)");
			break;
		case 'j':
			options->json = true;
			break;
		case 'h':
			probe_usage(stdout);
			return -1;
		default:
			probe_usage(stderr);
			return PROBE_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "klipper-pin probe: unexpected '%s'\n",
			argv[optind]);
		return PROBE_EXIT_USAGE;
	}
	if (options->count && options->duration_ns) {
		fprintf(stderr, "klipper-pin probe: --count and --duration "
				"exclude each other\n");
		return PROBE_EXIT_USAGE;
	}
	if (!options->rule != !options->config) {
		fprintf(stderr, "klipper-pin probe: --config and --rule go "
				"together: the rule of that config places the "
				"probe\n");
		return PROBE_EXIT_USAGE;
	}
	if (options->duration_ns) {
		long long want = options->duration_ns / options->interval_ns;

		if (want < 1 || want > (long long)PROBE_MAX_SAMPLES) {
			fprintf(stderr,
				"klipper-pin probe: --duration makes %lld "
				"wake-ups: 1 to %u expected\n",
				want, PROBE_MAX_SAMPLES);
			return PROBE_EXIT_USAGE;
		}
		options->count = (unsigned long long)want;
	}
	if (!options->count)
		options->count = 1000;
	return 0;
}

/* The placement the options ask for, a config rule first, then --cpus,
 * --policy, --priority and --nice over it. 0 or an exit status said. */
static int probe_placement(const struct probe_options *options,
			   struct probe_placement *placement)
{
	int status;

	if (options->rule) {
		status = probe_from_rule(options->config, options->rule,
					 placement);
		if (status)
			return status;
	}
	if (options->cpus) {
		CPU_FREE(placement->cpus);
		placement->cpus = NULL;
		status = probe_cpus("--cpus", options->cpus, &placement->cpus);
		if (status)
			return status;
	}
	if (options->policy) {
		enum plan_policy policy = PLAN_POLICY_UNSET;

		for (int p = PLAN_POLICY_OTHER; p <= PLAN_POLICY_RR; p++)
			if (strcmp(options->policy,
				   plan_policy_name((enum plan_policy)p)) == 0)
				policy = (enum plan_policy)p;
		if (policy == PLAN_POLICY_UNSET)
			return probe_bad("--policy", options->policy,
					 "other, batch, idle, fifo or rr");
		placement->policy = policy;
		placement->priority = 0;
		if (policy == PLAN_POLICY_FIFO || policy == PLAN_POLICY_RR)
			placement->priority = 1;
	}
	if (options->priority > 0) {
		if (placement->policy != PLAN_POLICY_FIFO &&
		    placement->policy != PLAN_POLICY_RR) {
			fprintf(stderr, "klipper-pin probe: --priority needs "
					"--policy fifo or rr\n");
			return PROBE_EXIT_USAGE;
		}
		placement->priority = options->priority;
	}
	if (options->has_nice) {
		placement->has_nice = true;
		placement->nice = options->nice;
	}
	return 0;
}

/* Waits for the probe thread, a line of progress on a terminal, and any
 * SIGINT, SIGTERM or SIGHUP (blocked: they arrive here). Returns the
 * signal that stopped it, or 0. */
static int probe_wait(struct probe_run *run, const sigset_t *signals,
		      bool progress)
{
	const struct timespec tick = { 0, 200000000L };
	int stopped = 0;

	while (!atomic_load(&run->done)) {
		int caught = sigtimedwait(signals, NULL, &tick);

		if (caught > 0 && !stopped) {
			stopped = caught;
			atomic_store(&run->stop, true);
		}
		if (progress)
			fprintf(stderr, "\rprobe: %zu of %zu wake-ups",
				atomic_load(&run->got), run->want);
	}
	if (progress)
		fprintf(stderr, "\r%40s\r", "");
	return stopped;
}

static int probe_measure(const struct probe_options *options,
			 const struct probe_placement *placement,
			 cpu_set_t *load_cpus)
{
	struct probe_load load = { .children = NULL };
	struct probe_run run = { .placement = placement };
	struct probe_summary summary;
	struct probe_report report = { .options = options };
	sigset_t signals, old;
	pthread_t thread;
	char asked[256] = "inherit", woke[256];
	int failure, stopped = 0, status = PROBE_EXIT_CANNOT_RUN;
	bool progress;

	/* Blocked before any child or thread exists, so that each inherits
	 * the mask and the signals come to probe_wait alone. */
	sigemptyset(&signals);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &signals, &old);
	run.want = (size_t)options->count;
	run.interval_ns = options->interval_ns;
	run.samples = calloc(run.want, sizeof(run.samples[0]));
	run.woke = calloc(CPULIST_MAX_CPU + 1, sizeof(run.woke[0]));
	if (!run.samples || !run.woke) {
		fprintf(stderr, "klipper-pin probe: out of memory\n");
		goto out;
	}
	if (probe_load_start_children(&load, load_cpus, CPULIST_SETSIZE) != 0) {
		fprintf(stderr,
			"klipper-pin probe: cannot start the load: %s\n",
			strerror(errno));
		goto out;
	}
	failure = probe_load_start_siblings(&load, options->siblings);
	if (failure == 0)
		failure = pthread_create(&thread, NULL, probe_thread, &run);
	if (failure) {
		fprintf(stderr,
			"klipper-pin probe: cannot start a thread: %s\n",
			strerror(failure));
		goto out;
	}
	progress = isatty(STDERR_FILENO) &&
		   (long double)options->interval_ns * run.want > PROBE_NS;
	stopped = probe_wait(&run, &signals, progress);
	pthread_join(thread, NULL);
	probe_load_stop(&load);
	if (run.failure) {
		fprintf(stderr, "klipper-pin probe: %s\n", run.problem);
		goto out;
	}
	if (!stopped) {
		const struct timespec none = { 0, 0 };
		int late = sigtimedwait(&signals, NULL, &none);

		if (late > 0)
			stopped = late;
	}
	probe_stats_summarize(run.samples, atomic_load(&run.got),
			      options->threshold_ns, &summary);
	if (placement->cpus)
		cpulist_format(placement->cpus, CPULIST_SETSIZE, asked,
			       sizeof(asked));
	probe_woke_text(&run, woke, sizeof(woke));
	report.placement = placement;
	report.run = &run;
	report.summary = &summary;
	report.asked = asked;
	report.woke = woke;
	report.signal = stopped;
	if (options->json)
		probe_print_json(&report);
	else
		probe_print_text(&report);
	fflush(stdout);
	status = stopped ? 128 + stopped : 0;
out:
	probe_load_stop(&load);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	free(run.samples);
	free(run.woke);
	return status;
}

int probe_main(int argc, char **argv)
{
	struct probe_options options = {
		.interval_ns = 1000000,
		.threshold_ns = 1000000,
		.priority = -1,
	};
	struct probe_placement placement = { .policy = PLAN_POLICY_UNSET };
	cpu_set_t *load_cpus = NULL;
	int status = probe_parse(argc, argv, &options);

	if (status)
		return status < 0 ? 0 : status;
	status = probe_placement(&options, &placement);
	if (status == 0 && options.load)
		status = probe_cpus("--load", options.load, &load_cpus);
	if (status == 0)
		status = probe_measure(&options, &placement, load_cpus);
	CPU_FREE(placement.cpus);
	CPU_FREE(load_cpus);
	return status;
}
