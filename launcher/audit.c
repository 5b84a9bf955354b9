/*
 * klipper-pin audit [PID | --unit UNIT | --match TEXT]: what else may run
 * on the CPUs a process is placed on, and what to write to keep it off.
 * Exit 0 when no other movable work may run there, 1 when some may, 2
 * when audit cannot tell (no such process, a file unreadable, usage).
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "audit.h"
#include "cpulist.h"
#include "placements.h"
#include "subcommands.h"

#define AUDIT_FREE 0
#define AUDIT_NOT_FREE 1
#define AUDIT_ERROR 2

struct audit_options {
	const char *root;
	const char *unit;
	const char *match;
	const char *cpus;
	pid_t pid;
	double interval;
	bool json;
};

void audit_problem(struct audit_problems *problems, const char *format, ...)
{
	char text[PROC_PROBLEM_LEN];
	va_list args;

	va_start(args, format);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized) */
	vsnprintf(text, sizeof(text), format, args);
	va_end(args);
	if (!problems->quiet)
		fprintf(stderr, "klipper-pin: audit: %s\n", text);
	if (problems->count < AUDIT_MAX_PROBLEMS)
		memcpy(problems->text[problems->count], text, sizeof(text));
	problems->count++;
}

/* ---- CPU sets ---------------------------------------------------------- */

cpu_set_t *audit_set_new(void)
{
	cpu_set_t *set = CPU_ALLOC(CPULIST_MAX_CPU + 1);

	if (set)
		CPU_ZERO_S(CPULIST_SETSIZE, set);
	return set;
}

bool audit_set_parse(const char *text, cpu_set_t *set)
{
	struct cpulist list;
	char copy[4096];

	CPU_ZERO_S(CPULIST_SETSIZE, set);
	snprintf(copy, sizeof(copy), "%s", text);
	copy[strcspn(copy, "\n")] = '\0';
	if (!copy[strspn(copy, " \t")])
		return true;
	if (cpulist_parse(copy, CPULIST_MAX_CPU, &list, NULL) != CPULIST_OK)
		return false;
	bool numbers = !cpulist_is_relative(&list);

	if (numbers)
		cpulist_to_set(&list, set, CPULIST_SETSIZE);
	cpulist_free(&list);
	return numbers;
}

static int audit_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

bool audit_set_parse_mask(const char *text, cpu_set_t *set)
{
	size_t len, digits = 0;

	CPU_ZERO_S(CPULIST_SETSIZE, set);
	text += strspn(text, " \t");
	if (text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))
		text += 2;
	len = strcspn(text, " \t\n");
	/* The lowest CPUs are the last digits; commas part 32-bit words. */
	for (size_t i = len; i-- > 0;) {
		int value = audit_hex_digit(text[i]);

		if (text[i] == ',')
			continue;
		if (value < 0)
			return false;
		for (unsigned bit = 0; bit < 4; bit++)
			if (value & (1 << bit) &&
			    digits * 4 + bit <= CPULIST_MAX_CPU)
				CPU_SET_S(digits * 4 + bit, CPULIST_SETSIZE,
					  set);
		digits++;
	}
	return digits > 0;
}

bool audit_set_meets(const cpu_set_t *a, const cpu_set_t *b)
{
	for (unsigned cpu = 0; cpu <= CPULIST_MAX_CPU; cpu++)
		if (CPU_ISSET_S(cpu, CPULIST_SETSIZE, a) &&
		    CPU_ISSET_S(cpu, CPULIST_SETSIZE, b))
			return true;
	return false;
}

bool audit_set_within(const cpu_set_t *a, const cpu_set_t *b)
{
	for (unsigned cpu = 0; cpu <= CPULIST_MAX_CPU; cpu++)
		if (CPU_ISSET_S(cpu, CPULIST_SETSIZE, a) &&
		    !CPU_ISSET_S(cpu, CPULIST_SETSIZE, b))
			return false;
	return true;
}

size_t audit_set_count(const cpu_set_t *set)
{
	return (size_t)CPU_COUNT_S(CPULIST_SETSIZE, set);
}

const char *audit_set_text(const cpu_set_t *set, int slot)
{
	static char text[4][1024];

	cpulist_format(set, CPULIST_SETSIZE, text[slot & 3], sizeof(text[0]));
	return text[slot & 3];
}

double audit_percent(const struct audit_report *report, unsigned long long ns)
{
	return report->seconds > 0 ? (double)ns / 1e7 / report->seconds : 0;
}

/* ---- the command line ------------------------------------------------- */

static void audit_usage(FILE *out)
{
	fputs("usage: klipper-pin audit [PID | --unit UNIT | --match TEXT] "
	      "[OPTIONS]\n"
	      "\n"
	      "What else may run on the CPUs a process is placed on (the "
	      "union of its\n"
	      "threads' CPUs): processes by unit, the busiest, kernel "
	      "threads, IRQs,\n"
	      "the kernel's isolation, slices, CPUAffinity=, irqbalance; "
	      "then what to\n"
	      "write to keep them off. Default: the process whose command "
	      "line holds\n"
	      "klippy.py.\n"
	      "\n"
	      "  -u, --unit UNIT        the unit's main process (systemctl "
	      "show)\n"
	      "  -m, --match TEXT       the process whose command line holds "
	      "TEXT\n"
	      "  -c, --cpus LIST        audit these CPUs instead (taskset "
	      "syntax, or\n"
	      "                         last-1-last as the config writes "
	      "them)\n"
	      "  -i, --interval SECONDS how long to watch who runs (default "
	      "1)\n"
	      "      --root DIR         read DIR/proc, DIR/sys, DIR/etc\n"
	      "      --json             one JSON document\n"
	      "  -h, --help             this text\n"
	      "\n"
	      "Exit status: 0 no other movable work may run there, 1 some "
	      "may, 2 error.\n",
	      out);
}

static int audit_bad(const char *what, const char *value)
{
	fprintf(stderr, "klipper-pin: audit: bad %s '%s'\n", what, value);
	audit_usage(stderr);
	return -1;
}

static int audit_parse_pid(const char *text, pid_t *pid)
{
	char *end;
	long value;

	errno = 0;
	value = strtol(text, &end, 10);
	if (errno || end == text || *end || value <= 0 || value > 0x3fffffff)
		return audit_bad("PID", text);
	*pid = (pid_t)value;
	return 0;
}

static int audit_parse_interval(const char *text, double *seconds)
{
	char *end;

	errno = 0;
	*seconds = strtod(text, &end);
	if (errno || end == text || *end || !isfinite(*seconds) ||
	    *seconds < 0 || *seconds > 3600)
		return audit_bad("--interval (seconds, 0 to 3600)", text);
	return 0;
}

static int audit_parse_options(int argc, char **argv,
			       struct audit_options *options)
{
	enum {
		OPTION_ROOT = 256,
		OPTION_JSON
	};
	static const struct option longs[] = {
		{ "unit", required_argument, NULL, 'u' },
		{ "match", required_argument, NULL, 'm' },
		{ "cpus", required_argument, NULL, 'c' },
		{ "interval", required_argument, NULL, 'i' },
		{ "root", required_argument, NULL, OPTION_ROOT },
		{ "json", no_argument, NULL, OPTION_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int option, given = 0;

	/* 0, not 1: glibc then starts afresh, permuting (the launcher's
	 * own parse stopped at the first word). */
	optind = 0;
	while ((option = getopt_long(argc, argv, "u:m:c:i:h", longs, NULL)) !=
	       -1) {
		switch (option) {
		case 'u':
			options->unit = optarg;
			given++;
			break;
		case 'm':
			options->match = optarg;
			given++;
			break;
		case 'c':
			options->cpus = optarg;
			break;
		case 'i':
			if (audit_parse_interval(optarg, &options->interval))
				return -1;
			break;
		case OPTION_ROOT:
			/* "/" is the machine's own: paths are root + path. */
			options->root = strcmp(optarg, "/") == 0 ? "" : optarg;
			break;
		case OPTION_JSON:
			options->json = true;
			break;
		case 'h':
			audit_usage(stdout);
			return 1;
		default:
			audit_usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		if (audit_parse_pid(argv[optind], &options->pid))
			return -1;
		given++;
		optind++;
	}
	if (optind < argc)
		return audit_bad("argument", argv[optind]);
	if (given > 1) {
		fputs("klipper-pin: audit: give one of PID, --unit and "
		      "--match\n",
		      stderr);
		return -1;
	}
	return 0;
}

/* ---- which process, which CPUs --------------------------------------- */

static bool audit_process_exists(const char *root, pid_t pid)
{
	char path[4096];
	struct stat info;

	return proc_path(path, sizeof(path), root, "/proc/%d/task", (int)pid) &&
	       stat(path, &info) == 0;
}

/* The one process whose command line holds text; 0 when none is and
 * none had to be (--cpus alone). */
static int audit_find_match(const struct audit_options *options,
			    const char *text, bool needed, pid_t *pid)
{
	pid_t *pids;
	size_t count;

	if (proc_find_by_command(options->root, text, &pids, &count) != 0) {
		fprintf(stderr, "klipper-pin: audit: cannot list %s/proc: %s\n",
			options->root, strerror(errno));
		return -1;
	}
	if (count == 1)
		*pid = pids[0];
	if (count == 0 && needed)
		fprintf(stderr,
			"klipper-pin: audit: no process's command line holds "
			"'%s' (give PID, --unit UNIT or --match TEXT)\n",
			text);
	if (count > 1) {
		fprintf(stderr,
			"klipper-pin: audit: %zu processes' command lines "
			"hold '%s':",
			count, text);
		for (size_t i = 0; i < count && i < 10; i++)
			fprintf(stderr, " %d", (int)pids[i]);
		fputs(" (give one PID)\n", stderr);
	}
	free(pids);
	return count == 1 || (count == 0 && !needed) ? 0 : -1;
}

static int audit_find_process(const struct audit_options *options, pid_t *pid)
{
	char problem[PROC_PROBLEM_LEN] = "";

	*pid = options->pid;
	if (options->unit) {
		*pid = proc_unit_main_pid(options->unit, problem,
					  sizeof(problem));
		if (*pid <= 0) {
			fprintf(stderr, "klipper-pin: audit: %s\n", problem);
			return -1;
		}
	} else if (!*pid) {
		/* --cpus alone may audit CPUs that no klippy runs on. */
		bool needed = options->match || !options->cpus;

		return audit_find_match(
			options, options->match ? options->match : "klippy.py",
			needed, pid);
	}
	if (!audit_process_exists(options->root, *pid)) {
		fprintf(stderr, "klipper-pin: audit: no process %d%s%s\n",
			(int)*pid, options->root[0] ? " under " : "",
			options->root);
		return -1;
	}
	return 0;
}

static int audit_read_online(const char *root, cpu_set_t *online)
{
	char path[4096], text[4096];

	if (!root[0])
		return cpulist_read_online(online, CPULIST_SETSIZE);
	if (!proc_path(path, sizeof(path), root,
		       "/sys/devices/system/cpu/online") ||
	    proc_read_file(path, text, sizeof(text)) < 0)
		return -1;
	if (!audit_set_parse(text, online) || !audit_set_count(online)) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

/* --cpus LIST against the CPUs online, relative names resolved. */
static int audit_given_cpus(const char *text, const cpu_set_t *online,
			    cpu_set_t *reserved)
{
	struct cpulist list;
	const char *bad = NULL;
	char absent[256];
	enum cpulist_error error =
		cpulist_parse(text, CPULIST_MAX_CPU, &list, &bad);
	long missing;

	if (error != CPULIST_OK) {
		fprintf(stderr, "klipper-pin: audit: bad --cpus '%s': %s\n",
			text, cpulist_strerror(error));
		return -1;
	}
	missing = cpulist_resolve(&list, online, CPULIST_SETSIZE, reserved,
				  absent, sizeof(absent));
	cpulist_free(&list);
	if (missing != 0 || !audit_set_within(reserved, online) ||
	    !audit_set_count(reserved)) {
		fprintf(stderr,
			"klipper-pin: audit: --cpus '%s' names CPUs not online "
			"(online: %s)\n",
			text, audit_set_text(online, 0));
		return -1;
	}
	return 0;
}

/* The plan's [children] CPUs are the ones it leaves to other work (the
 * shipped plan's housekeeping threads run there too): taken out of the
 * threads' CPUs, when some remain, as the placement table tells them. */
static void audit_leave_children_cpus(struct audit_report *report)
{
	struct placements table;
	cpu_set_t *kept = audit_set_new();

	if (kept && placements_read(report->root, report->pid, &table) == 0) {
		if (table.children) {
			CPU_XOR_S(CPULIST_SETSIZE, kept, report->reserved,
				  table.children);
			CPU_AND_S(CPULIST_SETSIZE, kept, kept,
				  report->reserved);
			if (audit_set_count(kept)) {
				memcpy(report->reserved, kept, CPULIST_SETSIZE);
				report->reserved_by_plan = true;
			}
		}
		placements_free(&table);
	}
	free(kept);
}

/* The union of the audited process's threads' CPUs, read now; less the
 * plan's [children] CPUs. */
static int audit_threads_cpus(struct audit_report *report)
{
	/* What is garbled is said once, by the reading of every thread. */
	struct audit_problems quiet = { .quiet = true };
	struct audit_sample none = { 0 };
	struct audit_tasks tasks;
	cpu_set_t *one = audit_set_new();
	size_t threads = 0;

	if (!one || audit_process_read(report->root, report->pid, &none, &tasks,
				       &quiet) != 0) {
		free(one);
		return -1;
	}
	for (size_t i = 0; i < tasks.count; i++)
		if (audit_set_parse(tasks.task[i].thread.cpus, one)) {
			CPU_OR_S(CPULIST_SETSIZE, report->reserved,
				 report->reserved, one);
			threads++;
		}
	audit_tasks_free(&tasks);
	free(one);
	audit_leave_children_cpus(report);
	if (!threads)
		fprintf(stderr,
			"klipper-pin: audit: process %d: no thread could be "
			"read: %s\n",
			(int)report->pid,
			quiet.count ? quiet.text[0] : "it is gone");
	return threads ? 0 : -1;
}

/* ---- reading and judging ------------------------------------------------ */

static double audit_now(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static void audit_sleep(double seconds)
{
	struct timespec left = {
		.tv_sec = (time_t)seconds,
		.tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9),
	};

	while (nanosleep(&left, &left) != 0 && errno == EINTR)
		;
}

/* Reads every thread and the IRQ counts twice, the interval apart, and
 * the system's settings. */
static int audit_read(struct audit_report *report, double interval)
{
	struct audit_sample first;
	struct audit_fired fired;
	double started = audit_now();
	int failed;

	audit_fired_take(report->root, report->reserved, &fired);
	if (audit_sample_take(report->root, &first, &report->problems) != 0) {
		audit_fired_free(&fired);
		return -1;
	}
	audit_sleep(interval);
	report->seconds = audit_now() - started;
	failed = audit_tasks_read(report->root, &first, &report->tasks,
				  &report->problems) != 0 ||
		 audit_system_read(report->root, report->reserved, &fired,
				   &report->system, &report->problems) != 0;
	audit_sample_free(&first);
	audit_fired_free(&fired);
	if (failed)
		return -1;
	audit_tasks_classify(&report->tasks, report->pid, report->reserved);
	return 0;
}

static void audit_count(struct audit_report *report)
{
	pid_t last = 0;

	for (size_t i = 0; i < report->tasks.count; i++) {
		const struct audit_task *task = &report->tasks.task[i];

		if (task->audited) {
			/* A zombie has exited; only its parent has not
			 * reaped it. */
			report->audited_threads += task->thread.state != 'Z' &&
						   task->thread.state != 'X';
			continue;
		}
		if (!task->there)
			continue;
		if (task->per_cpu) {
			report->kernel_per_cpu++;
		} else if (task->thread.kernel) {
			report->kernel_unbound++;
		} else {
			report->threads++;
			report->processes += task->pid != last;
			last = task->pid;
		}
		if (strcmp(task->thread.name, "irqbalance") == 0 ||
		    strcmp(task->process, "irqbalance") == 0)
			report->system.irqbalance_running = true;
	}
	/* irqbalance may run anywhere, not only on the reserved CPUs. */
	for (size_t i = 0; i < report->tasks.count; i++)
		if (strcmp(report->tasks.task[i].process, "irqbalance") == 0)
			report->system.irqbalance_running = true;
}

/* Movable work is what systemd and the users start: `reserve` moves it
 * all. Unbound kernel threads only the kernel command line moves
 * (isolcpus=): listed, advised, not counted. */
static int audit_verdict(const struct audit_report *report)
{
	if (report->processes)
		return AUDIT_NOT_FREE;
	/* Free, unless a thread we could not read may be there. */
	if (report->tasks.unreadable) {
		fprintf(stderr,
			"klipper-pin: audit: cannot tell: %zu threads could "
			"not be read\n",
			report->tasks.unreadable);
		return AUDIT_ERROR;
	}
	return AUDIT_FREE;
}

/* The CPUs audited: --cpus, else the process's own. */
static int audit_reserved(struct audit_report *report, const char *cpus)
{
	if (audit_read_online(report->root, report->online) != 0) {
		fprintf(stderr, "klipper-pin: audit: cannot read %s%s: %s\n",
			report->root, "/sys/devices/system/cpu/online",
			strerror(errno));
		return -1;
	}
	if (cpus ? audit_given_cpus(cpus, report->online, report->reserved)
		 : audit_threads_cpus(report))
		return -1;
	CPU_AND_S(CPULIST_SETSIZE, report->reserved, report->reserved,
		  report->online);
	CPU_XOR_S(CPULIST_SETSIZE, report->others, report->online,
		  report->reserved);
	report->others_count = audit_set_count(report->others);
	return 0;
}

static int audit_run(struct audit_report *report,
		     const struct audit_options *options)
{
	struct audit_advice advice[AUDIT_MAX_ADVICE];
	size_t advice_count;

	if (audit_reserved(report, options->cpus) != 0)
		return AUDIT_ERROR;
	if (report->pid) {
		proc_command_line(report->root, report->pid, report->command,
				  sizeof(report->command));
		audit_unit_of(report->root, report->pid, report->unit,
			      sizeof(report->unit));
	}
	if (audit_read(report, options->interval) != 0)
		return AUDIT_ERROR;
	audit_count(report);
	if (report->pid && !report->audited_threads) {
		fprintf(stderr,
			"klipper-pin: audit: process %d exited while it was "
			"watched\n",
			(int)report->pid);
		return AUDIT_ERROR;
	}
	advice_count = audit_advise(report, advice);
	if (options->json)
		audit_print_json(report, advice, advice_count);
	else
		audit_print_text(report, advice, advice_count);
	return audit_verdict(report);
}

int audit_main(int argc, char **argv)
{
	struct audit_options options = { .root = "", .interval = 1 };
	struct audit_report report = { 0 };
	int parsed = audit_parse_options(argc, argv, &options), status;

	if (parsed)
		return parsed > 0 ? 0 : AUDIT_ERROR;
	if (audit_find_process(&options, &report.pid) != 0)
		return AUDIT_ERROR;
	report.root = options.root;
	report.reserved_given = options.cpus != NULL;
	report.online = audit_set_new();
	report.reserved = audit_set_new();
	report.others = audit_set_new();
	if (!report.online || !report.reserved || !report.others) {
		fputs("klipper-pin: audit: out of memory\n", stderr);
		status = AUDIT_ERROR;
	} else {
		status = audit_run(&report, &options);
	}
	audit_tasks_free(&report.tasks);
	audit_system_free(&report.system);
	free(report.online);
	free(report.reserved);
	free(report.others);
	return status;
}
