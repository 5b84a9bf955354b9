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
#include "probe.h"
#include "probe_load.h"
#include "proc.h"
#include "subcommands.h"
#include "svg.h"

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
	      "                         [--compare [--rounds N]] [--json] "
	      "[--svg FILE]\n"
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
	      "      --compare         rounds of: unplaced, the whole process "
	      "on the\n"
	      "                        placement's CPUs, the placement, and "
	      "with a\n"
	      "                        policy its CPUs alone and its policy "
	      "alone;\n"
	      "                        side by side, with what the p99s "
	      "say\n"
	      "      --rounds N        with --compare (default 3), N wake-ups "
	      "each\n"
	      "  -j, --json            one JSON document\n"
	      "      --svg FILE        and a picture of the latencies in FILE "
	      "(SVG):\n"
	      "                        each setup's cumulative curve, p50 "
	      "and p99\n"
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
		OPTION_COMPARE,
		OPTION_ROUNDS,
		OPTION_SVG,
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
		{ "compare", no_argument, NULL, OPTION_COMPARE },
		{ "rounds", required_argument, NULL, OPTION_ROUNDS },
		{ "svg", required_argument, NULL, OPTION_SVG },
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
		case OPTION_COMPARE:
			options->compare = true;
			break;
		case OPTION_ROUNDS:
			if (!probe_parse_long(optarg, 1, 100, &value))
				return probe_bad("--rounds", optarg,
						 "1 to 100 rounds");
			options->rounds = (unsigned long)value;
			break;
		case OPTION_SVG:
			if (!optarg[0])
				return probe_bad("--svg", optarg,
						 "a file name");
			options->svg = optarg;
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
	if (options->rounds && !options->compare) {
		fprintf(stderr, "klipper-pin probe: --rounds goes with "
				"--compare\n");
		return PROBE_EXIT_USAGE;
	}
	if (options->compare && !options->cpus && !options->rule) {
		fprintf(stderr,
			"klipper-pin probe: --compare needs a placement to "
			"compare: --cpus LIST, or --config FILE --rule NAME\n");
		return PROBE_EXIT_USAGE;
	}
	if (!options->rounds)
		options->rounds = 3;
	if (options->compare &&
	    options->count * options->rounds > PROBE_MAX_SAMPLES) {
		fprintf(stderr,
			"klipper-pin probe: %llu wake-ups in each of %lu "
			"rounds: at most %u in all expected\n",
			options->count, options->rounds, PROBE_MAX_SAMPLES);
		return PROBE_EXIT_USAGE;
	}
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

/* Waits for the probe thread, a line of progress on a terminal (label
 * before it; NULL: none), and any SIGINT, SIGTERM or SIGHUP (blocked:
 * they arrive here). Returns the signal that stopped it, or 0. */
static int probe_wait(struct probe_run *run, const sigset_t *signals,
		      const char *label)
{
	/* Short: the end of a run is seen at the next tick. */
	const struct timespec tick = { 0, 20000000L };
	int stopped = 0;

	for (unsigned ticks = 0; !atomic_load(&run->done); ticks++) {
		int caught = sigtimedwait(signals, NULL, &tick);

		if (caught > 0 && !stopped) {
			stopped = caught;
			atomic_store(&run->stop, true);
		}
		if (label && ticks % 10 == 0)
			fprintf(stderr, "\rprobe: %s%zu of %zu wake-ups", label,
				atomic_load(&run->got), run->want);
	}
	if (label)
		fprintf(stderr, "\r%60s\r", "");
	return stopped;
}

/* One way to measure: how the probe thread is placed, and the CPUs the
 * whole process is put on meanwhile (NULL: where it was). */
struct probe_setup {
	const char *name;
	struct probe_placement placement;
	const cpu_set_t *process_cpus;
	struct probe_run total; /* every round's wake-ups together */
	struct probe_summary summary;
	char asked[256], woke[256];
};

/* One round of a setup: its wake-ups from offset of the setup's samples,
 * with the siblings started anew around it (where the process runs then).
 * Returns 0, or -1 with the problem said and what it started stopped;
 * *stopped is the signal that stopped it, or 0. */
static int probe_once(const struct probe_options *options,
		      struct probe_setup *setup, size_t offset,
		      struct probe_load *load, const sigset_t *signals,
		      const char *label, int *stopped)
{
	struct probe_run run = { .placement = &setup->placement };
	struct probe_run *total = &setup->total;
	cpu_set_t *before = NULL;
	pthread_t thread;
	int failure;

	run.want = (size_t)options->count;
	run.interval_ns = options->interval_ns;
	run.samples = total->samples + offset;
	run.woke = total->woke;
	if (setup->process_cpus) {
		/* The main thread's CPUs for the threads it starts now. */
		before = CPU_ALLOC(CPULIST_MAX_CPU + 1);
		if (!before ||
		    sched_getaffinity(0, CPULIST_SETSIZE, before) != 0 ||
		    sched_setaffinity(0, CPULIST_SETSIZE,
				      setup->process_cpus) != 0) {
			fprintf(stderr,
				"klipper-pin probe: cannot place the process: "
				"%s\n",
				strerror(errno));
			CPU_FREE(before);
			return -1;
		}
	}
	failure = probe_load_start_siblings(load, options->siblings);
	if (failure == 0) {
		failure = pthread_create(&thread, NULL, probe_thread, &run);
		if (failure)
			probe_load_stop_siblings(load);
	}
	if (before) {
		(void)sched_setaffinity(0, CPULIST_SETSIZE, before);
		CPU_FREE(before);
	}
	if (failure) {
		fprintf(stderr,
			"klipper-pin probe: cannot start a thread: %s\n",
			strerror(failure));
		return -1;
	}
	*stopped = probe_wait(&run, signals, label);
	pthread_join(thread, NULL);
	probe_load_stop_siblings(load);
	if (run.failure) {
		fprintf(stderr, "klipper-pin probe: %s\n", run.problem);
		return -1;
	}
	total->want += run.want;
	atomic_store(&total->got,
		     atomic_load(&total->got) + atomic_load(&run.got));
	memcpy(total->allowed, run.allowed, sizeof(total->allowed));
	total->policy = run.policy;
	total->priority = run.priority;
	total->nice = run.nice;
	if (run.has_wait) {
		if (!total->has_wait) {
			total->has_wait = true;
			total->wait_before = run.wait_before;
			total->wait_after = run.wait_before;
		}
		total->wait_after += run.wait_after - run.wait_before;
	}
	return 0;
}

/* The setups to measure: the placement alone, or with --compare those
 * of enum probe_setup_index, the last two only where the placement has a
 * policy or nice besides its CPUs (else the CPUs alone are the plan and
 * the policy alone is unplaced). Their count. */
static size_t probe_setups(const struct probe_options *options,
			   const struct probe_placement *placement,
			   struct probe_setup *setups)
{
	struct probe_setup *cpus_only = &setups[PROBE_CPUS_ONLY];
	struct probe_setup *policy_only = &setups[PROBE_POLICY_ONLY];

	memset(setups, 0, PROBE_SETUPS * sizeof(setups[0]));
	for (size_t i = 0; i < PROBE_SETUPS; i++)
		setups[i].placement.policy = PLAN_POLICY_UNSET;
	if (!options->compare) {
		setups[0].name = "plan";
		setups[0].placement = *placement;
		return 1;
	}
	setups[PROBE_UNPLACED].name = "unplaced";
	setups[PROBE_PROCESS].name = "process";
	setups[PROBE_PROCESS].process_cpus = placement->cpus;
	setups[PROBE_PLAN].name = "plan";
	setups[PROBE_PLAN].placement = *placement;
	if (placement->policy == PLAN_POLICY_UNSET && !placement->has_nice)
		return PROBE_PLAN + 1;
	cpus_only->name = "cpus only";
	cpus_only->placement.cpus = placement->cpus;
	snprintf(cpus_only->placement.rule, sizeof(cpus_only->placement.rule),
		 "%s", placement->rule);
	policy_only->name = "policy only";
	policy_only->placement = *placement;
	policy_only->placement.cpus = NULL;
	return PROBE_SETUPS;
}

/* The report on stdout, and with --svg the picture into svg (committed:
 * renamed into place). Returns 0, or PROBE_EXIT_CANNOT_RUN said. */
static int probe_print(const struct probe_options *options,
		       struct probe_setup *setups, size_t count, int stopped,
		       struct svg *svg)
{
	char problem[256];

	struct probe_report reports[PROBE_SETUPS];
	const char *names[PROBE_SETUPS];

	for (size_t i = 0; i < count; i++) {
		struct probe_setup *setup = &setups[i];
		const cpu_set_t *asked = setup->placement.cpus
						 ? setup->placement.cpus
						 : setup->process_cpus;

		probe_stats_summarize(setup->total.samples,
				      atomic_load(&setup->total.got),
				      options->threshold_ns, &setup->summary);
		snprintf(setup->asked, sizeof(setup->asked), "inherit");
		if (asked)
			cpulist_format(asked, CPULIST_SETSIZE, setup->asked,
				       sizeof(setup->asked));
		probe_woke_text(&setup->total, setup->woke,
				sizeof(setup->woke));
		reports[i] = (struct probe_report){
			.options = options,
			.placement = &setup->placement,
			.run = &setup->total,
			.summary = &setup->summary,
			.asked = setup->asked,
			.woke = setup->woke,
			.signal = stopped,
		};
		names[i] = setup->name;
	}
	if (options->json && !options->compare) {
		probe_print_json(&reports[0]);
	} else if (options->json) {
		probe_print_compare_json(reports, names, count);
	} else if (options->compare) {
		probe_print_compare(reports, names, count);
	} else {
		probe_print_text(&reports[0]);
	}
	if (options->json)
		putchar('\n');
	fflush(stdout);
	if (!svg)
		return 0;
	probe_print_svg(svg->out, reports, names, count);
	if (svg_commit(svg, problem, sizeof(problem)) != 0) {
		fprintf(stderr,
			"klipper-pin probe: --svg %s: cannot write: %s\n",
			svg->path, problem);
		return PROBE_EXIT_CANNOT_RUN;
	}
	return 0;
}

static int probe_measure(const struct probe_options *options,
			 const struct probe_placement *placement,
			 cpu_set_t *load_cpus, struct svg *svg)
{
	struct probe_setup setups[PROBE_SETUPS];
	struct probe_load load = { .children = NULL };
	size_t count = probe_setups(options, placement, setups);
	size_t rounds = options->compare ? options->rounds : 1;
	sigset_t signals, old;
	int stopped = 0, status = PROBE_EXIT_CANNOT_RUN;
	bool progress;

	/* Blocked before any child or thread exists, so that each inherits
	 * the mask and the signals come to probe_wait alone. */
	sigemptyset(&signals);
	sigaddset(&signals, SIGINT);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &signals, &old);
	for (size_t i = 0; i < count; i++) {
		setups[i].total.samples =
			calloc(rounds * options->count, sizeof(int64_t));
		setups[i].total.woke =
			calloc(CPULIST_MAX_CPU + 1, sizeof(unsigned long));
		if (!setups[i].total.samples || !setups[i].total.woke) {
			fprintf(stderr, "klipper-pin probe: out of memory\n");
			goto out;
		}
	}
	if (probe_load_start_children(&load, load_cpus, CPULIST_SETSIZE) != 0) {
		fprintf(stderr,
			"klipper-pin probe: cannot start the load: %s\n",
			strerror(errno));
		goto out;
	}
	progress = isatty(STDERR_FILENO) && (long double)options->interval_ns *
							    options->count *
							    rounds * count >
						    PROBE_NS;
	/* Round by round, each setup in turn: what the machine does
	 * meanwhile falls on every setup alike. */
	for (size_t r = 0; r < rounds && !stopped; r++)
		for (size_t i = 0; i < count && !stopped; i++) {
			char label[96] = "";

			if (options->compare)
				snprintf(label, sizeof(label),
					 "round %zu of %zu, %s: ", r + 1,
					 rounds, setups[i].name);
			if (probe_once(options, &setups[i], r * options->count,
				       &load, &signals, progress ? label : NULL,
				       &stopped) != 0)
				goto out;
		}
	probe_load_stop(&load);
	if (!stopped) {
		const struct timespec none = { 0, 0 };
		int late = sigtimedwait(&signals, NULL, &none);

		if (late > 0)
			stopped = late;
	}
	status = probe_print(options, setups, count, stopped, svg);
	if (status == 0 && stopped)
		status = 128 + stopped;
out:
	probe_load_stop(&load);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	for (size_t i = 0; i < count; i++) {
		free(setups[i].total.samples);
		free(setups[i].total.woke);
	}
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
	struct svg svg = { .out = NULL };
	char problem[256];
	int status = probe_parse(argc, argv, &options);

	if (status)
		return status < 0 ? 0 : status;
	status = probe_placement(&options, &placement);
	if (status == 0 && options.compare && !placement.cpus) {
		fprintf(stderr,
			"klipper-pin probe: --compare needs CPUs to compare: "
			"rule %s places the probe on none\n",
			placement.rule);
		status = PROBE_EXIT_USAGE;
	}
	if (status == 0 && options.load)
		status = probe_cpus("--load", options.load, &load_cpus);
	/* Before the run, which may be long: a place it cannot write to is
	 * known at once. */
	if (status == 0 && options.svg &&
	    svg_open(&svg, options.svg, problem, sizeof(problem)) != 0) {
		fprintf(stderr,
			"klipper-pin probe: --svg %s: cannot write: %s\n",
			options.svg, problem);
		status = PROBE_EXIT_CANNOT_RUN;
	}
	if (status == 0)
		status = probe_measure(&options, &placement, load_cpus,
				       options.svg ? &svg : NULL);
	svg_abandon(&svg);
	CPU_FREE(placement.cpus);
	CPU_FREE(load_cpus);
	return status;
}
