/*
 * audit's report, for people (sections of aligned columns) and for
 * scripts (one JSON document with the same data). Names come from
 * processes and may hold any byte: text escapes what a terminal would
 * act on, JSON escapes what JSON requires.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "json.h"

#define AUDIT_PER_UNIT 5 /* processes shown per unit in text */
#define AUDIT_BUSIEST 10

/* One process's threads that may run on the reserved CPUs, summed. */
struct audit_process {
	const struct audit_task *first;
	size_t threads;
	unsigned long long ran_ns;
	bool only_there;
};

struct audit_unit {
	const char *name;
	struct audit_process *process; /* into the processes array */
	size_t count;
	unsigned long long ran_ns;
};

struct audit_groups {
	struct audit_process *process;
	size_t process_count;
	struct audit_unit *unit;
	size_t unit_count;
};

static bool audit_is_other(const struct audit_task *task)
{
	return task->there && !task->audited && !task->thread.kernel;
}

static int audit_by_unit_then_time(const void *a, const void *b)
{
	const struct audit_process *x = a, *y = b;
	int unit = strcmp(x->first->unit, y->first->unit);

	if (unit)
		return unit;
	return (x->ran_ns < y->ran_ns) - (x->ran_ns > y->ran_ns);
}

static int audit_unit_by_time(const void *a, const void *b)
{
	const struct audit_unit *x = a, *y = b;

	if (x->ran_ns != y->ran_ns)
		return (x->ran_ns < y->ran_ns) - (x->ran_ns > y->ran_ns);
	return strcmp(x->name, y->name);
}

/* Tasks are in process order: each process's threads are together. */
static int audit_group(const struct audit_report *report,
		       struct audit_groups *groups)
{
	const struct audit_tasks *tasks = &report->tasks;

	memset(groups, 0, sizeof(*groups));
	groups->process = calloc(tasks->count + 1, sizeof(*groups->process));
	groups->unit = calloc(tasks->count + 1, sizeof(*groups->unit));
	if (!groups->process || !groups->unit)
		return -1;
	for (size_t i = 0; i < tasks->count; i++) {
		const struct audit_task *task = &tasks->task[i];
		struct audit_process *last =
			groups->process_count
				? &groups->process[groups->process_count - 1]
				: NULL;

		if (!audit_is_other(task))
			continue;
		if (!last || last->first->pid != task->pid) {
			last = &groups->process[groups->process_count++];
			last->first = task;
			last->only_there = true;
		}
		last->threads++;
		last->ran_ns += task->ran_ns;
		last->only_there = last->only_there && task->only_there;
	}
	qsort(groups->process, groups->process_count, sizeof(*groups->process),
	      audit_by_unit_then_time);
	for (size_t i = 0; i < groups->process_count; i++) {
		struct audit_process *process = &groups->process[i];
		struct audit_unit *unit =
			groups->unit_count
				? &groups->unit[groups->unit_count - 1]
				: NULL;

		if (!unit || strcmp(unit->name, process->first->unit) != 0) {
			unit = &groups->unit[groups->unit_count++];
			unit->name = process->first->unit;
			unit->process = process;
		}
		unit->count++;
		unit->ran_ns += process->ran_ns;
	}
	qsort(groups->unit, groups->unit_count, sizeof(*groups->unit),
	      audit_unit_by_time);
	return 0;
}

static void audit_groups_free(struct audit_groups *groups)
{
	free(groups->process);
	free(groups->unit);
}

/* A task to sort: a struct, so that arrays of it are sized as such. */
struct audit_ranked {
	const struct audit_task *task;
};

static int audit_by_time(const void *a, const void *b)
{
	const struct audit_task *x = ((const struct audit_ranked *)a)->task;
	const struct audit_task *y = ((const struct audit_ranked *)b)->task;

	return (x->ran_ns < y->ran_ns) - (x->ran_ns > y->ran_ns);
}

/* The threads other than the audited that ran in the interval and may
 * run there, busiest first; kernel threads too (they take the CPU as
 * much); at most AUDIT_BUSIEST. */
static size_t audit_busiest(const struct audit_report *report,
			    struct audit_ranked *out)
{
	const struct audit_tasks *tasks = &report->tasks;
	struct audit_ranked *all = calloc(tasks->count + 1, sizeof(*all));
	size_t count = 0;

	if (!all)
		return 0;
	for (size_t i = 0; i < tasks->count; i++)
		if (tasks->task[i].there && !tasks->task[i].audited &&
		    tasks->task[i].ran_ns)
			all[count++].task = &tasks->task[i];
	qsort(all, count, sizeof(*all), audit_by_time);
	if (count > AUDIT_BUSIEST)
		count = AUDIT_BUSIEST;
	memcpy(out, all, count * sizeof(*all));
	free(all);
	return count;
}

/* ---- text ----------------------------------------------------------- */

/* text with bytes outside printable ASCII as \xNN. */
static const char *audit_clean(const char *text, char *out, size_t len)
{
	size_t used = 0;

	for (const unsigned char *p = (const unsigned char *)text;
	     *p && used + 5 < len; p++)
		if (*p < 0x20 || *p >= 0x7f)
			used += (size_t)snprintf(out + used, len - used,
						 "\\x%02x", *p);
		else
			out[used++] = (char)*p;
	out[used] = '\0';
	return out;
}

static void audit_text_header(const struct audit_report *report)
{
	char clean[AUDIT_TEXT_LEN * 4];

	if (report->pid)
		printf("process:  %d %s%s%s\n", (int)report->pid,
		       audit_clean(report->command, clean, sizeof(clean)),
		       report->unit[0] ? ", in " : "", report->unit);
	else
		printf("process:  none (--cpus alone: every process counts)\n");
	printf("reserved: CPUs %s (%s), online %s, others %s\n",
	       audit_set_text(report->reserved, 0),
	       report->reserved_given ? "--cpus"
	       : report->reserved_by_plan
		       ? "its threads', less the plan's [children] CPUs"
	       : report->others_count
		       ? "its threads'"
		       : "its threads', which span every online CPU: nothing "
			 "is set apart for it",
	       audit_set_text(report->online, 1),
	       audit_set_text(report->others, 2)[0]
		       ? audit_set_text(report->others, 2)
		       : "none");
	printf("watched:  %.2f s\n", report->seconds);
}

static void audit_text_units(const struct audit_report *report,
			     const struct audit_groups *groups)
{
	char clean[AUDIT_TEXT_LEN];

	printf("\nother processes that may run there, by unit: %zu (%zu "
	       "threads)\n",
	       report->processes, report->threads);
	if (!groups->unit_count)
		printf("  none\n");
	else
		printf("  %-7s %-16s %8s %7s  %s\n", "pid", "name", "threads",
		       "cpu%", "cpus");
	for (size_t i = 0; i < groups->unit_count; i++) {
		const struct audit_unit *unit = &groups->unit[i];

		printf("  %s: %zu process%s, %.1f%%\n",
		       audit_clean(unit->name[0] ? unit->name : "(no cgroup)",
				   clean, sizeof(clean)),
		       unit->count, unit->count == 1 ? "" : "es",
		       audit_percent(report, unit->ran_ns));
		for (size_t j = 0; j < unit->count && j < AUDIT_PER_UNIT; j++) {
			const struct audit_process *process = &unit->process[j];

			printf("    %-7d %-16s %8zu %6.1f%%  %s%s\n",
			       (int)process->first->pid,
			       audit_clean(process->first->process, clean,
					   sizeof(clean)),
			       process->threads,
			       audit_percent(report, process->ran_ns),
			       process->first->thread.cpus,
			       process->only_there && report->others_count
				       ? " (pinned there)"
				       : "");
		}
		if (unit->count > AUDIT_PER_UNIT)
			printf("    ... and %zu more\n",
			       unit->count - AUDIT_PER_UNIT);
	}
}

static void audit_text_busiest(const struct audit_report *report)
{
	struct audit_ranked busiest[AUDIT_BUSIEST];
	size_t count = audit_busiest(report, busiest);
	char name[64], process[64], unit[AUDIT_TEXT_LEN];

	printf("\nbusiest there in the last %.2f s (%% of one CPU, on any CPU "
	       "it may use):\n",
	       report->seconds);
	if (!count)
		printf("  none ran\n");
	else
		printf("  %-7s %-7s %-16s %-16s %6s  %-8s %4s  %s\n", "pid",
		       "tid", "thread", "process", "cpu%", "cpus", "last",
		       "unit");
	for (size_t i = 0; i < count; i++) {
		const struct audit_task *task = busiest[i].task;

		printf("  %-7d %-7d %-16s %-16s %5.1f%%  %-8s %4d  %s\n",
		       (int)task->pid, (int)task->thread.tid,
		       audit_clean(task->thread.name, name, sizeof(name)),
		       audit_clean(task->process, process, sizeof(process)),
		       audit_percent(report, task->ran_ns), task->thread.cpus,
		       task->thread.last_cpu,
		       task->thread.kernel
			       ? "(kernel)"
			       : audit_clean(task->unit, unit, sizeof(unit)));
	}
}

/* The names of kernel threads of one kind, on as many lines as needed. */
static void audit_text_kernel_names(const struct audit_report *report,
				    bool per_cpu)
{
	size_t column = 2;
	char clean[64];

	printf("  ");
	for (size_t i = 0; i < report->tasks.count; i++) {
		const struct audit_task *task = &report->tasks.task[i];
		size_t len;

		if (!task->there || task->audited || !task->thread.kernel ||
		    task->per_cpu != per_cpu)
			continue;
		audit_clean(task->thread.name, clean, sizeof(clean));
		len = strlen(clean) + 1;
		if (column + len > 78) {
			printf("\n  ");
			column = 2;
		}
		printf("%s ", clean);
		column += len;
	}
	printf("\n");
}

static void audit_text_kernel(const struct audit_report *report)
{
	printf("\nper-CPU kernel threads bound there (unmovable, not "
	       "counted): %zu\n",
	       report->kernel_per_cpu);
	if (report->kernel_per_cpu)
		audit_text_kernel_names(report, true);
	printf("\nunbound kernel threads that may run there (not counted: only "
	       "isolcpus= on the kernel command line keeps them off): %zu\n",
	       report->kernel_unbound);
	if (report->kernel_unbound)
		audit_text_kernel_names(report, false);
}

static void audit_text_irqs(const struct audit_report *report)
{
	const struct audit_system *system = &report->system;
	char clean[AUDIT_TEXT_LEN * 4];

	printf("\nIRQs that may fire there: %zu\n", system->irq_count);
	if (system->irq_count)
		printf("  %-5s %-10s %-10s %7s  %s\n", "irq", "affinity",
		       "effective", "fired", "name");
	for (size_t i = 0; i < system->irq_count; i++) {
		const struct audit_irq *irq = &system->irq[i];

		printf("  %-5u %-10s %-10s %7llu  %s%s%s\n", irq->number,
		       irq->affinity[0] ? irq->affinity : "?",
		       irq->effective[0] ? irq->effective : "-", irq->fired,
		       irq->name[0]
			       ? audit_clean(irq->name, clean, sizeof(clean))
			       : "-",
		       irq->device ? "  <- serial or USB: the MCU's?" : "",
		       irq->garbled ? "  (unreadable list: may fire there)"
				    : "");
	}
}

static const char *audit_or(const char *text, const char *none)
{
	return text[0] ? text : none;
}

static void audit_text_isolation(const struct audit_report *report)
{
	const struct audit_system *system = &report->system;

	printf("\nkernel isolation:\n");
	printf("  command line: isolcpus=%s nohz_full=%s\n",
	       audit_or(system->isolcpus, "(none)"),
	       audit_or(system->nohz_full, "(none)"));
	printf("  /sys/devices/system/cpu/isolated: %s\n",
	       system->has_isolated ? audit_or(system->isolated, "(none)")
				    : "(no such file)");
	printf("  /sys/devices/system/cpu/nohz_full: %s\n",
	       system->has_nohz_full
		       ? audit_or(system->nohz_full_now, "(none)")
		       : "(no such file: a kernel without NO_HZ_FULL)");
}

static void audit_text_settings(const char *title,
				const struct audit_settings *settings,
				const char *none)
{
	printf("%s\n", title);
	if (!settings->count)
		printf("  %s\n", none);
	for (size_t i = 0; i < settings->count; i++) {
		const struct audit_setting *s = &settings->item[i];

		if (s->line)
			printf("  %s:%d: %s=%s\n", s->file, s->line, s->name,
			       s->value);
		else
			printf("  %s: %s\n", s->file, s->value);
	}
}

static void audit_text_system(const struct audit_report *report)
{
	const struct audit_system *system = &report->system;
	const struct audit_setting *now;

	audit_text_isolation(report);
	printf("\n");
	audit_text_settings("slices' AllowedCPUs= (/etc/systemd/system):",
			    &system->slice_lines, "none");
	audit_text_settings("slices' cpusets (/sys/fs/cgroup/*.slice):",
			    &system->slice_sets, "none");
	printf("\n");
	audit_text_settings("systemd's CPUAffinity= (/etc/systemd):",
			    &system->affinity, "none: every CPU");
	for (int user = 0; user < 2; user++) {
		now = audit_affinity_now(system, user);
		printf("  %s manager: %s\n", user ? "user" : "system",
		       now ? now->value : "every CPU");
	}
	printf("\nirqbalance: %s, %s\n",
	       system->irqbalance_installed ? "installed" : "not installed",
	       system->irqbalance_running ? "running" : "not running");
	audit_text_settings("  banned CPUs (/etc/default/irqbalance, "
			    "irqbalance.service.d):",
			    &system->banned, "none");
}

static void audit_text_advice(const struct audit_advice *advice, size_t count)
{
	printf("\nadvice:%s\n", count ? "" : " none");
	for (size_t i = 0; i < count; i++) {
		printf("  %zu. %s\n", i + 1, advice[i].what);
		for (const char *line = advice[i].lines; *line;) {
			size_t len = strcspn(line, "\n");

			printf("       %.*s\n", (int)len, line);
			line += len + (line[len] == '\n');
		}
		printf("     cost: %s\n", advice[i].cost);
	}
}

static void audit_text_verdict(const struct audit_report *report)
{
	const char *cpus = audit_set_text(report->reserved, 0);

	if (report->processes)
		printf("\nverdict: CPUs %s are not free: %zu processes (%zu "
		       "threads) may run there\n",
		       cpus, report->processes, report->threads);
	else
		printf("\nverdict: CPUs %s are free of other movable work "
		       "(%zu per-CPU kernel threads stay; %zu unbound kernel "
		       "threads may run there until isolcpus=)\n",
		       cpus, report->kernel_per_cpu, report->kernel_unbound);
	if (report->problems.count)
		printf("         %zu problems reading files (said on "
		       "stderr)\n",
		       report->problems.count);
}

void audit_print_text(const struct audit_report *report,
		      const struct audit_advice *advice, size_t advice_count)
{
	struct audit_groups groups;

	audit_text_header(report);
	if (audit_group(report, &groups) == 0)
		audit_text_units(report, &groups);
	audit_groups_free(&groups);
	audit_text_busiest(report);
	audit_text_kernel(report);
	audit_text_irqs(report);
	audit_text_system(report);
	audit_text_advice(advice, advice_count);
	audit_text_verdict(report);
	fflush(stdout);
}

/* ---- JSON ------------------------------------------------------------- */

/* "key": "value" with a leading comma unless first. */
static void audit_json_key(const char *key, const char *value, bool first)
{
	printf("%s", first ? "" : ", ");
	json_string(stdout, key);
	printf(": ");
	json_string(stdout, value);
}

static void audit_json_header(const struct audit_report *report)
{
	printf("{\"pid\": ");
	if (report->pid)
		printf("%d", (int)report->pid);
	else
		printf("null");
	audit_json_key("command", report->command, false);
	audit_json_key("unit", report->unit, false);
	audit_json_key("online", audit_set_text(report->online, 0), false);
	audit_json_key("reserved", audit_set_text(report->reserved, 0), false);
	audit_json_key("reserved_from",
		       report->reserved_given	  ? "--cpus"
		       : report->reserved_by_plan ? "threads less [children]"
						  : "threads",
		       false);
	audit_json_key("others", audit_set_text(report->others, 0), false);
	printf(", \"interval_s\": %.3f", report->seconds);
	printf(", \"free\": %s", report->processes ? "false" : "true");
	printf(", \"processes_there\": %zu, \"threads_there\": %zu, "
	       "\"kernel_unbound_there\": %zu, \"kernel_per_cpu_there\": "
	       "%zu, \"audited_threads\": %zu, \"unreadable_threads\": %zu",
	       report->processes, report->threads, report->kernel_unbound,
	       report->kernel_per_cpu, report->audited_threads,
	       report->tasks.unreadable);
}

static void audit_json_units(const struct audit_report *report)
{
	struct audit_groups groups;

	printf(",\n \"units\": [");
	if (audit_group(report, &groups) == 0)
		for (size_t i = 0; i < groups.unit_count; i++) {
			const struct audit_unit *unit = &groups.unit[i];

			printf("%s\n  {", i ? "," : "");
			audit_json_key("unit", unit->name, true);
			printf(", \"cpu_percent\": %.2f, \"processes\": [",
			       audit_percent(report, unit->ran_ns));
			for (size_t j = 0; j < unit->count; j++) {
				const struct audit_process *p =
					&unit->process[j];

				printf("%s{\"pid\": %d", j ? ", " : "",
				       (int)p->first->pid);
				audit_json_key("name", p->first->process,
					       false);
				audit_json_key("cpus", p->first->thread.cpus,
					       false);
				printf(", \"threads\": %zu, \"cpu_percent\": "
				       "%.2f, \"pinned_there\": %s}",
				       p->threads,
				       audit_percent(report, p->ran_ns),
				       p->only_there && report->others_count
					       ? "true"
					       : "false");
			}
			printf("]}");
		}
	audit_groups_free(&groups);
	printf("]");
}

static void audit_json_task(const struct audit_report *report,
			    const struct audit_task *task)
{
	printf("{\"pid\": %d, \"tid\": %d", (int)task->pid,
	       (int)task->thread.tid);
	audit_json_key("name", task->thread.name, false);
	audit_json_key("process", task->process, false);
	audit_json_key("unit", task->unit, false);
	audit_json_key("cpus", task->thread.cpus, false);
	printf(", \"kernel\": %s, \"last_cpu\": %d, \"cpu_percent\": %.2f}",
	       task->thread.kernel ? "true" : "false", task->thread.last_cpu,
	       audit_percent(report, task->ran_ns));
}

static void audit_json_busiest(const struct audit_report *report)
{
	struct audit_ranked busiest[AUDIT_BUSIEST];
	size_t count = audit_busiest(report, busiest);

	printf(",\n \"busiest\": [");
	for (size_t i = 0; i < count; i++) {
		printf("%s\n  ", i ? "," : "");
		audit_json_task(report, busiest[i].task);
	}
	printf("]");
}

static void audit_json_kernel(const struct audit_report *report,
			      const char *key, bool per_cpu)
{
	bool first = true;

	printf(",\n \"%s\": [", key);
	for (size_t i = 0; i < report->tasks.count; i++) {
		const struct audit_task *task = &report->tasks.task[i];

		if (!task->there || task->audited || !task->thread.kernel ||
		    task->per_cpu != per_cpu)
			continue;
		printf("%s{\"tid\": %d", first ? "" : ", ",
		       (int)task->thread.tid);
		audit_json_key("name", task->thread.name, false);
		audit_json_key("cpus", task->thread.cpus, false);
		printf("}");
		first = false;
	}
	printf("]");
}

static void audit_json_irqs(const struct audit_system *system)
{
	printf(",\n \"irqs\": [");
	for (size_t i = 0; i < system->irq_count; i++) {
		const struct audit_irq *irq = &system->irq[i];

		printf("%s\n  {\"irq\": %u", i ? "," : "", irq->number);
		audit_json_key("name", irq->name, false);
		audit_json_key("affinity", irq->affinity, false);
		audit_json_key("effective", irq->effective, false);
		printf(", \"fired\": %llu, \"device\": %s, \"garbled\": %s}",
		       irq->fired, irq->device ? "true" : "false",
		       irq->garbled ? "true" : "false");
	}
	printf("]");
}

static void audit_json_settings(const char *key,
				const struct audit_settings *settings)
{
	printf(",\n \"%s\": [", key);
	for (size_t i = 0; i < settings->count; i++) {
		const struct audit_setting *s = &settings->item[i];

		printf("%s{", i ? ", " : "");
		audit_json_key("file", s->file, true);
		printf(", \"line\": %d", s->line);
		audit_json_key("name", s->name, false);
		audit_json_key("value", s->value, false);
		printf(", \"user\": %s}", s->user ? "true" : "false");
	}
	printf("]");
}

static void audit_json_system(const struct audit_system *system)
{
	printf(",\n \"isolation\": {");
	audit_json_key("isolcpus", system->isolcpus, true);
	audit_json_key("nohz_full", system->nohz_full, false);
	printf(", \"isolated\": ");
	if (system->has_isolated)
		json_string(stdout, system->isolated);
	else
		printf("null");
	printf(", \"nohz_full_now\": ");
	if (system->has_nohz_full)
		json_string(stdout, system->nohz_full_now);
	else
		printf("null");
	printf("}");
	audit_json_settings("slice_allowed_cpus", &system->slice_lines);
	audit_json_settings("slice_cpusets", &system->slice_sets);
	audit_json_settings("cpu_affinity", &system->affinity);
	printf(",\n \"irqbalance\": {\"installed\": %s, \"running\": %s",
	       system->irqbalance_installed ? "true" : "false",
	       system->irqbalance_running ? "true" : "false");
	audit_json_settings("banned", &system->banned);
	printf("}");
}

static void audit_json_advice(const struct audit_advice *advice, size_t count)
{
	printf(",\n \"advice\": [");
	for (size_t i = 0; i < count; i++) {
		printf("%s\n  {", i ? "," : "");
		audit_json_key("what", advice[i].what, true);
		audit_json_key("lines", advice[i].lines, false);
		audit_json_key("cost", advice[i].cost, false);
		printf("}");
	}
	printf("]");
}

void audit_print_json(const struct audit_report *report,
		      const struct audit_advice *advice, size_t advice_count)
{
	const struct audit_problems *problems = &report->problems;

	audit_json_header(report);
	audit_json_units(report);
	audit_json_busiest(report);
	audit_json_kernel(report, "kernel_per_cpu", true);
	audit_json_kernel(report, "kernel_unbound", false);
	audit_json_irqs(&report->system);
	audit_json_system(&report->system);
	audit_json_advice(advice, advice_count);
	printf(",\n \"problems\": [");
	for (size_t i = 0; i < problems->count && i < AUDIT_MAX_PROBLEMS; i++) {
		printf("%s", i ? ", " : "");
		json_string(stdout, problems->text[i]);
	}
	printf("]}\n");
	fflush(stdout);
}
