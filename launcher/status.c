/*
 * klipper-pin status: every thread of a running process, what placed it
 * (the shim's placement table), and what the kernel says of it now: its
 * CPUs, the CPU it last ran on, its scheduling, its CPU time and its
 * run-queue wait (schedstat: the time it was runnable and waiting for a
 * CPU, the direct measure of contention).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cpulist.h"
#include "json.h"
#include "placements.h"
#include "proc.h"
#include "subcommands.h"

#define STATUS_DEFAULT_MATCH "klippy.py"

struct status_options {
	const char *root;
	pid_t pid;
	const char *unit;
	const char *match;
	bool json;
	bool watch;
	double interval; /* seconds, with --watch */
	long count;	 /* intervals, with --watch; 0: until stopped */
};

/* What placed a thread, from the table; placed false when nothing did. */
struct status_placed {
	bool placed;
	char event[8], rule[48], result[40], want[256];
	unsigned long long seq;
};

struct status_row {
	struct proc_thread thread;
	struct status_placed placed;
	bool moved, failed;
	char problem[PROC_PROBLEM_LEN]; /* "" unless its files were garbled */
};

struct status_process {
	pid_t pid;
	char command[512];
	const char *shim; /* what the shim does there, in words */
	char shim_text[256];
	int table_error; /* why the table could not be read, or 0 */
	char config[256];
	bool has_table;
	struct status_row *rows;
	size_t count;
	struct timespec taken;
};

static void status_usage(FILE *out)
{
	fputs("usage: klipper-pin status [PID | --unit UNIT | --match TEXT]\n"
	      "                          [--json] [--watch [SECONDS] "
	      "[--count N]]\n"
	      "\n"
	      "Every thread of a running process: the rule that placed it, "
	      "the CPUs\n"
	      "it may run on and the one it last ran on, its scheduling, CPU "
	      "time,\n"
	      "run-queue wait, context switches and migrations. With nothing "
	      "given,\n"
	      "the processes whose command line contains '" STATUS_DEFAULT_MATCH
	      "'.\n"
	      "\n"
	      "  -u, --unit UNIT     the unit's main process (systemctl show)\n"
	      "  -m, --match TEXT    processes whose command line contains "
	      "TEXT\n"
	      "  -j, --json          one JSON document (one per interval)\n"
	      "  -w, --watch [SECS]  refresh every SECS (default 1), with "
	      "rates\n"
	      "  -n, --count N       with --watch: stop after N intervals\n"
	      "      --root DIR      read DIR/proc instead of /proc (tests)\n"
	      "\n"
	      "Exit status: 0 shown, 1 no such process or it cannot be read, "
	      "2 usage.\n",
	      out);
}

/* ---- the placement table ------------------------------------------------ */

static void status_fill_placed(const struct record_slot *slot,
			       struct status_placed *placed)
{
	placed->placed = true;
	placed->seq = slot->seq;
	snprintf(placed->event, sizeof(placed->event), "%.*s",
		 (int)sizeof(slot->event), slot->event);
	snprintf(placed->rule, sizeof(placed->rule), "%.*s",
		 (int)sizeof(slot->rule), slot->rule);
	snprintf(placed->result, sizeof(placed->result), "%.*s",
		 (int)sizeof(slot->result), slot->result);
	/* The slot's mask is bytes at any offset: copied into a set. */
	cpu_set_t want;

	_Static_assert(sizeof(want) >= RECORD_MASK_BYTES, "a slot's mask fits");
	if (slot->want_bytes == 0 || slot->want_bytes > RECORD_MASK_BYTES) {
		snprintf(placed->want, sizeof(placed->want), "inherit");
		return;
	}
	CPU_ZERO(&want);
	memcpy(&want, slot->want, slot->want_bytes);
	cpulist_format(&want, sizeof(want), placed->want, sizeof(placed->want));
}

/* Fills each row's placement from the table, when there is one. */
static void status_read_table(const char *root, struct status_process *process)
{
	struct placements table;

	if (placements_read(root, process->pid, &table) != 0) {
		process->table_error =
			errno == EACCES || errno == EPERM ? errno : 0;
		return;
	}
	process->has_table = true;
	snprintf(process->config, sizeof(process->config), "%s", table.config);
	for (size_t r = 0; r < process->count; r++) {
		const struct record_slot *slot =
			placements_find(&table, process->rows[r].thread.tid);

		if (slot)
			status_fill_placed(slot, &process->rows[r].placed);
	}
	placements_free(&table);
}

/* ---- one look at a process ---------------------------------------------- */

/* What the shim does in the process, from its maps and environment. */
static const char *status_shim_state(const char *root,
				     struct status_process *process)
{
	static char text[65536];
	char path[4096];
	struct stat owner;
	pid_t pid = process->pid;

	if (process->has_table)
		return "placing";
	if (process->table_error) {
		bool known = proc_path(path, sizeof(path), root, "/proc/%d",
				       (int)pid) &&
			     stat(path, &owner) == 0;

		snprintf(process->shim_text, sizeof(process->shim_text),
			 "placement table unreadable (%s): %s",
			 strerror(process->table_error),
			 geteuid() == 0
				 ? "the process refuses root too (it is not "
				   "dumpable, or of another namespace)"
				 : "");
		if (geteuid() != 0)
			snprintf(
				process->shim_text, sizeof(process->shim_text),
				"placement table unreadable (%s): the process "
				"is uid %ld's; run status as that user or root",
				strerror(process->table_error),
				known ? (long)owner.st_uid : -1L);
		return process->shim_text;
	}
	if (proc_path(path, sizeof(path), root, "/proc/%d/environ", (int)pid) &&
	    proc_read_file(path, text, sizeof(text)) >= 0)
		for (const char *entry = text; *entry;
		     entry += strlen(entry) + 1)
			if (strncmp(entry, "KLIPPER_PIN_OFF=", 16) == 0)
				return "inactive: the config was invalid, "
				       "running unplaced (--on-error run)";
	if (proc_path(path, sizeof(path), root, "/proc/%d/maps", (int)pid) &&
	    (proc_read_file(path, text, sizeof(text)) >= 0 || errno == E2BIG) &&
	    strstr(text, "libklipper-pin"))
		return "loaded, no placement table (a child of the launched "
		       "program, or the program closed the shim's "
		       "descriptors)";
	return "not loaded: not started by klipper-pin";
}

static void status_flag(struct status_row *row)
{
	const struct status_placed *placed = &row->placed;

	row->failed = placed->placed && strcmp(placed->result, "ok") != 0;
	row->moved = placed->placed && strcmp(placed->want, "inherit") != 0 &&
		     strcmp(placed->want, row->thread.cpus) != 0;
}

/* Reads every thread of the process; -1 (problem said) when the process
 * is gone or cannot be read at all. */
static int status_look(const char *root, pid_t pid,
		       struct status_process *process, char *problem,
		       size_t len)
{
	char dir[4096];
	pid_t *tids;
	size_t count;

	memset(process, 0, sizeof(*process));
	process->pid = pid;
	clock_gettime(CLOCK_MONOTONIC, &process->taken);
	if (!proc_path(dir, sizeof(dir), root, "/proc/%d/task", (int)pid) ||
	    proc_list_ids(dir, &tids, &count) != 0) {
		snprintf(problem, len, "no process %d (%.200s: %s)", (int)pid,
			 dir, strerror(errno));
		return -1;
	}
	if (proc_command_line(root, pid, process->command,
			      sizeof(process->command)) != 0)
		process->command[0] = '\0';
	process->rows = calloc(count ? count : 1, sizeof(*process->rows));
	if (!process->rows) {
		free(tids);
		snprintf(problem, len, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < count; i++) {
		struct status_row *row = &process->rows[process->count];

		if (proc_read_thread(root, pid, tids[i], &row->thread,
				     row->problem, sizeof(row->problem)) != 0) {
			if (errno == ESRCH)
				continue; /* ended while being read */
			if (errno != EINVAL)
				snprintf(row->problem, sizeof(row->problem),
					 "thread %d: %s", (int)tids[i],
					 strerror(errno));
		}
		process->count++;
	}
	free(tids);
	if (process->count == 0) {
		snprintf(problem, len, "no process %d (it has no thread left)",
			 (int)pid);
		free(process->rows);
		process->rows = NULL;
		return -1;
	}
	status_read_table(root, process);
	process->shim = status_shim_state(root, process);
	for (size_t i = 0; i < process->count; i++)
		status_flag(&process->rows[i]);
	return 0;
}

static void status_free(struct status_process *process)
{
	free(process->rows);
	process->rows = NULL;
	process->count = 0;
}

/* ---- rates between two looks -------------------------------------------- */

struct status_rates {
	bool known;
	double cpu_percent, wait_ms_per_s, switches_per_s, migrations_per_s;
};

static double status_seconds(const struct timespec *from,
			     const struct timespec *to)
{
	return (double)(to->tv_sec - from->tv_sec) +
	       (double)(to->tv_nsec - from->tv_nsec) / 1e9;
}

static struct status_rates status_rates_of(const struct status_row *row,
					   const struct status_process *now,
					   const struct status_process *before)
{
	struct status_rates rates = { .known = false };
	double seconds;

	if (!before)
		return rates;
	seconds = status_seconds(&before->taken, &now->taken);
	for (size_t i = 0; i < before->count && seconds > 0; i++) {
		const struct proc_thread *was = &before->rows[i].thread;
		const struct proc_thread *is = &row->thread;

		if (was->tid != is->tid)
			continue;
		rates.known = true;
		rates.cpu_percent = (double)(is->cpu_ns - was->cpu_ns) / 1e9 /
				    seconds * 100;
		rates.wait_ms_per_s =
			(double)(is->wait_ns - was->wait_ns) / 1e6 / seconds;
		rates.switches_per_s =
			(double)(is->voluntary + is->involuntary -
				 was->voluntary - was->involuntary) /
			seconds;
		rates.migrations_per_s =
			(double)(is->migrations - was->migrations) / seconds;
		break;
	}
	return rates;
}

/* ---- output -------------------------------------------------------------- */

/* text with bytes outside printable ASCII as \xNN (names are the
 * program's: no escape sequence of theirs reaches the terminal). */
static void status_put_escaped(FILE *out, const char *text, int width)
{
	int used = 0;

	for (const unsigned char *p = (const unsigned char *)text; *p; p++)
		if (*p < 0x20 || *p >= 0x7f || *p == '\\')
			used += fprintf(out, "\\x%02x", *p);
		else
			used += fputc(*p, out) != EOF;
	for (; used < width; used++)
		fputc(' ', out);
}

static const char *status_flags_text(const struct status_row *row)
{
	if (row->problem[0])
		return "unreadable";
	if (!row->placed.placed)
		return "unplaced";
	if (row->failed)
		return "failed";
	if (row->moved)
		return "moved";
	return "";
}

static void status_print_header(FILE *out, const struct status_process *p)
{
	fprintf(out, "PID %d  ", (int)p->pid);
	status_put_escaped(out, p->command, 0);
	fprintf(out, "\nshim: %s", p->shim);
	if (p->has_table)
		fprintf(out, "; plan: %s",
			p->config[0] ? p->config : "the built-in plan");
	fputc('\n', out);
}

static void status_print_table(FILE *out, const struct status_process *p,
			       const struct status_process *before)
{
	status_print_header(out, p);
	fprintf(out,
		"%-8s %-16s %-14s %-9s %-9s %4s %-9s %4s %9s %10s %8s "
		"%8s %6s %s",
		"TID", "NAME", "RULE", "CPUS", "WANT", "LAST", "POLICY", "NICE",
		"CPU-TIME", "RQ-WAIT", "VCSW", "ICSW", "MIGR", "S");
	if (before)
		fprintf(out, " %6s %9s %7s %6s", "CPU%", "WAIT/s", "CSW/s",
			"MIG/s");
	fputs(" FLAGS\n", out);
	for (size_t i = 0; i < p->count; i++) {
		const struct status_row *row = &p->rows[i];
		const struct proc_thread *t = &row->thread;
		char policy[16], wait[24], migrations[24];

		if (row->problem[0]) {
			fprintf(out, "%-8d ", (int)t->tid);
			status_put_escaped(out, row->problem, 0);
			fputc('\n', out);
			continue;
		}
		snprintf(policy, sizeof(policy), "%s",
			 proc_policy_name(t->policy));
		if (t->priority)
			snprintf(policy, sizeof(policy), "%s/%d",
				 proc_policy_name(t->policy), t->priority);
		snprintf(wait, sizeof(wait), "-");
		if (t->has_schedstat)
			snprintf(wait, sizeof(wait), "%.1fms",
				 (double)t->wait_ns / 1e6);
		snprintf(migrations, sizeof(migrations), "-");
		if (t->has_migrations)
			snprintf(migrations, sizeof(migrations), "%llu",
				 t->migrations);
		fprintf(out, "%-8d ", (int)t->tid);
		status_put_escaped(out, t->name, 16);
		fputc(' ', out);
		status_put_escaped(
			out, row->placed.placed ? row->placed.rule : "-", 14);
		fprintf(out,
			" %-9s %-9s %4d %-9s %4d %8.2fs %10s %8llu %8llu "
			"%6s %c",
			t->cpus, row->placed.placed ? row->placed.want : "-",
			t->last_cpu, policy, t->nice, (double)t->cpu_ns / 1e9,
			wait, t->voluntary, t->involuntary, migrations,
			t->state);
		if (before) {
			struct status_rates r = status_rates_of(row, p, before);

			if (r.known)
				fprintf(out, " %6.1f %7.1fms %7.0f %6.0f",
					r.cpu_percent, r.wait_ms_per_s,
					r.switches_per_s, r.migrations_per_s);
			else
				fprintf(out, " %6s %9s %7s %6s", "new", "-",
					"-", "-");
		}
		fprintf(out, " %s\n", status_flags_text(row));
	}
}

static void status_json_row(FILE *out, const struct status_row *row,
			    const struct status_process *p,
			    const struct status_process *before)
{
	const struct proc_thread *t = &row->thread;

	fprintf(out, "{\"tid\":%d,\"name\":", (int)t->tid);
	json_string(out, t->name);
	if (row->problem[0]) {
		fputs(",\"problem\":", out);
		json_string(out, row->problem);
		fputc('}', out);
		return;
	}
	fputs(",\"rule\":", out);
	if (row->placed.placed) {
		json_string(out, row->placed.rule);
		fprintf(out, ",\"event\":\"%s\",\"seq\":%llu,\"want\":",
			row->placed.event, row->placed.seq);
		json_string(out, row->placed.want);
		fputs(",\"result\":", out);
		json_string(out, row->placed.result);
	} else {
		fputs("null,\"event\":null,\"seq\":null,\"want\":null,"
		      "\"result\":null",
		      out);
	}
	fprintf(out,
		",\"cpus\":\"%s\",\"last_cpu\":%d,\"policy\":\"%s\","
		"\"priority\":%d,\"nice\":%d,\"cpu_ns\":%llu",
		t->cpus, t->last_cpu, proc_policy_name(t->policy), t->priority,
		t->nice, t->cpu_ns);
	if (t->has_schedstat)
		fprintf(out, ",\"wait_ns\":%llu", t->wait_ns);
	else
		fputs(",\"wait_ns\":null", out);
	fprintf(out, ",\"voluntary\":%llu,\"involuntary\":%llu", t->voluntary,
		t->involuntary);
	if (t->has_migrations)
		fprintf(out, ",\"migrations\":%llu", t->migrations);
	else
		fputs(",\"migrations\":null", out);
	fprintf(out, ",\"state\":\"%c\",\"flag\":", t->state);
	json_string(out, status_flags_text(row));
	if (before) {
		struct status_rates r = status_rates_of(row, p, before);

		if (r.known)
			fprintf(out,
				",\"cpu_percent\":%.2f,\"wait_ms_per_s\":%.3f,"
				"\"switches_per_s\":%.1f,"
				"\"migrations_per_s\":%.1f",
				r.cpu_percent, r.wait_ms_per_s,
				r.switches_per_s, r.migrations_per_s);
	}
	fputc('}', out);
}

static void status_print_json(FILE *out, const struct status_process *now,
			      const struct status_process *before, size_t count)
{
	fputs("{\"processes\":[", out);
	for (size_t i = 0; i < count; i++) {
		const struct status_process *p = &now[i];
		const struct status_process *was =
			before && before[i].rows ? &before[i] : NULL;

		fprintf(out, "%s{\"pid\":%d,\"command\":", i ? "," : "",
			(int)p->pid);
		json_string(out, p->command);
		fputs(",\"shim\":", out);
		json_string(out, p->shim);
		fputs(",\"config\":", out);
		if (p->has_table)
			json_string(out, p->config);
		else
			fputs("null", out);
		fputs(",\"threads\":[", out);
		for (size_t r = 0; r < p->count; r++) {
			if (r)
				fputc(',', out);
			status_json_row(out, &p->rows[r], p, was);
		}
		fputs("]}", out);
	}
	fputs("]}\n", out);
}

/* ---- options and the loop ------------------------------------------------ */

static bool status_number(const char *text, double *value)
{
	char *end;

	errno = 0;
	*value = strtod(text, &end);
	return errno == 0 && end != text && *end == '\0' && *value > 0 &&
	       *value <= 3600;
}

/* "--watch 2" as "--watch=2" (and "-w 2" as "-w2"): the seconds are
 * optional, so getopt takes them only joined. The joined word replaces
 * the two in argv, which ends one shorter (NULL-terminated still). */
static int status_join_watch_seconds(int argc, char **argv)
{
	static char joined[64];
	double number;

	for (int i = 1; i + 1 < argc; i++) {
		bool is_long = strcmp(argv[i], "--watch") == 0;

		if (strcmp(argv[i], "--") == 0)
			return argc;
		if ((!is_long && strcmp(argv[i], "-w") != 0) ||
		    !status_number(argv[i + 1], &number) ||
		    strlen(argv[i + 1]) > 32)
			continue;
		snprintf(joined, sizeof(joined), "%s%s%s", argv[i],
			 is_long ? "=" : "", argv[i + 1]);
		argv[i] = joined;
		memmove(&argv[i + 1], &argv[i + 2],
			(size_t)(argc - i - 1) * sizeof(*argv));
		return argc - 1;
	}
	return argc;
}

/* Parses argv; returns -1 after printing a usage error, 1 after --help. */
static int status_parse(int argc, char **argv, struct status_options *o)
{
	static const struct option longs[] = {
		{ "unit", required_argument, NULL, 'u' },
		{ "match", required_argument, NULL, 'm' },
		{ "json", no_argument, NULL, 'j' },
		{ "watch", optional_argument, NULL, 'w' },
		{ "count", required_argument, NULL, 'n' },
		{ "root", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int option;
	double number;
	char *end;

	*o = (struct status_options){ .root = "", .interval = 1 };
	argc = status_join_watch_seconds(argc, argv);
	while ((option = getopt_long(argc, argv, "u:m:jw::n:h", longs, NULL)) !=
	       -1) {
		switch (option) {
		case 'u':
			o->unit = optarg;
			break;
		case 'm':
			o->match = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 'w':
			o->watch = true;
			if (optarg && !status_number(optarg, &number)) {
				fprintf(stderr,
					"klipper-pin: status: --watch wants "
					"seconds above 0 and up to 3600, not "
					"'%s'\n",
					optarg);
				return -1;
			}
			if (optarg)
				o->interval = number;
			break;
		case 'n':
			o->count = strtol(optarg ? optarg : "", &end, 10);
			if (*end || end == optarg || o->count <= 0) {
				fprintf(stderr,
					"klipper-pin: status: --count wants a "
					"number of intervals above 0, not "
					"'%s'\n",
					optarg);
				return -1;
			}
			break;
		case 'r':
			o->root = optarg;
			break;
		case 'h':
			status_usage(stdout);
			return 1;
		default:
			status_usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		long pid = strtol(argv[optind], &end, 10);

		if (*end || end == argv[optind] || pid <= 0 || pid > 1 << 22) {
			fprintf(stderr,
				"klipper-pin: status: '%s' is not a process "
				"ID\n",
				argv[optind]);
			return -1;
		}
		o->pid = (pid_t)pid;
		optind++;
	}
	if (optind < argc ||
	    (o->pid != 0) + (o->unit != NULL) + (o->match != NULL) > 1) {
		fprintf(stderr, "klipper-pin: status: give one of PID, --unit "
				"or --match\n");
		return -1;
	}
	if (o->count && !o->watch) {
		fprintf(stderr, "klipper-pin: status: --count goes with "
				"--watch\n");
		return -1;
	}
	return 0;
}

/* The processes to show; -1 (said) when there is none. */
static int status_targets(const struct status_options *o, pid_t **pids,
			  size_t *count)
{
	char problem[PROC_PROBLEM_LEN];
	const char *match = o->match ? o->match : STATUS_DEFAULT_MATCH;

	if (o->pid || o->unit) {
		pid_t pid = o->pid;

		if (o->unit) {
			pid = proc_unit_main_pid(o->unit, problem,
						 sizeof(problem));
			if (pid <= 0) {
				fprintf(stderr, "klipper-pin: status: %s\n",
					problem);
				return -1;
			}
		}
		*pids = malloc(sizeof(**pids));
		if (!*pids)
			return -1;
		**pids = pid;
		*count = 1;
		return 0;
	}
	if (proc_find_by_command(o->root, match, pids, count) != 0) {
		fprintf(stderr,
			"klipper-pin: status: cannot list %s/proc: %s\n",
			o->root, strerror(errno));
		return -1;
	}
	if (*count == 0) {
		fprintf(stderr,
			"klipper-pin: status: no process whose command line "
			"contains '%s'%s\n",
			match,
			o->match ? "" : " (give a PID, --unit or --match)");
		free(*pids);
		return -1;
	}
	return 0;
}

static void status_sleep(double seconds)
{
	struct timespec wait = {
		.tv_sec = (time_t)seconds,
		.tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9),
	};

	while (nanosleep(&wait, &wait) != 0 && errno == EINTR)
		;
}

static void status_show(const struct status_options *o,
			struct status_process *now,
			struct status_process *before, size_t count)
{
	bool terminal = isatty(STDOUT_FILENO);

	if (o->json) {
		status_print_json(stdout, now, before, count);
	} else {
		if (o->watch && terminal)
			fputs("\033[H\033[J", stdout); /* in place, as top */
		else if (o->watch && before)
			fputc('\n', stdout);
		for (size_t i = 0; i < count; i++) {
			if (!now[i].rows)
				continue;
			if (i)
				fputc('\n', stdout);
			status_print_table(stdout, &now[i],
					   before && before[i].rows ? &before[i]
								    : NULL);
		}
	}
	fflush(stdout);
}

int status_main(int argc, char **argv)
{
	struct status_options o;
	struct status_process *now, *before;
	char problem[PROC_PROBLEM_LEN + 64];
	pid_t *pids;
	size_t count;
	int parsed = status_parse(argc, argv, &o), shown = 0;

	if (parsed != 0)
		return parsed > 0 ? 0 : 2;
	if (status_targets(&o, &pids, &count) != 0)
		return 1;
	now = calloc(count, sizeof(*now));
	before = calloc(count, sizeof(*before));
	if (!now || !before) {
		free(now);
		free(before);
		free(pids);
		return 1;
	}
	for (long interval = 0;; interval++) {
		shown = 0;
		for (size_t i = 0; i < count; i++) {
			if (status_look(o.root, pids[i], &now[i], problem,
					sizeof(problem)) == 0)
				shown++;
			else if (interval == 0 || before[i].rows)
				fprintf(stderr, "klipper-pin: status: %s\n",
					problem);
		}
		if (shown)
			status_show(&o, now, interval ? before : NULL, count);
		/* This look is the next one's before. */
		struct status_process *was = before;

		for (size_t i = 0; i < count; i++)
			status_free(&was[i]);
		before = now;
		now = was;
		if (!o.watch || !shown || (o.count && interval + 1 >= o.count))
			break;
		status_sleep(o.interval);
	}
	for (size_t i = 0; i < count; i++) {
		status_free(&before[i]);
		status_free(&now[i]);
	}
	free(now);
	free(before);
	free(pids);
	return shown ? 0 : 1;
}
