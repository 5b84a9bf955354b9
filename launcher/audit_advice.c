/*
 * What to write to keep other work off the reserved CPUs, with what each
 * step costs: only the steps the report shows are missing, most useful
 * first. The lines are the ones `klipper-pin reserve` writes, so that a
 * user can apply them by hand or by reserve, and undo them likewise.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"

/* The drop-in name `klipper-pin reserve` writes, so that the lines shown
 * here are the ones its --undo removes. */
#define AUDIT_DROPIN "klipper-pin-reserve.conf"

#define AUDIT_MOVE_NOW 3  /* busy processes given a taskset line */
#define AUDIT_IRQ_LINES 8 /* IRQs given an echo line */

struct audit_advising {
	const struct audit_report *report;
	struct audit_advice *advice;
	size_t count;
	const char *reserved, *others, *all;
};

static struct audit_advice *audit_add(struct audit_advising *a,
				      const char *what, const char *cost)
{
	struct audit_advice *advice = &a->advice[a->count++];

	snprintf(advice->what, sizeof(advice->what), "%s", what);
	snprintf(advice->cost, sizeof(advice->cost), "%s", cost);
	advice->lines[0] = '\0';
	return advice;
}

static void audit_line(struct audit_advice *advice, const char *format, ...)
	__attribute__((format(printf, 2, 3)));

static void audit_line(struct audit_advice *advice, const char *format, ...)
{
	size_t used = strlen(advice->lines);
	va_list args;

	va_start(args, format);
	/* NOLINTNEXTLINE(clang-analyzer-valist.Uninitialized) */
	vsnprintf(advice->lines + used, sizeof(advice->lines) - used, format,
		  args);
	va_end(args);
	used = strlen(advice->lines);
	if (used + 1 < sizeof(advice->lines)) {
		advice->lines[used] = '\n';
		advice->lines[used + 1] = '\0';
	}
}

/* The audited unit, for the drop-in that gives it every CPU. */
static const char *audit_klipper_unit(const struct audit_report *report)
{
	size_t len = strlen(report->unit);

	return len > 8 && strcmp(report->unit + len - 8, ".service") == 0
		       ? report->unit
		       : "klipper.service";
}

/* Does a CPUAffinity= (or any list setting) keep off the reserved CPUs? */
static bool audit_keeps_off(const char *list, const cpu_set_t *reserved)
{
	char copy[AUDIT_TEXT_LEN];
	cpu_set_t *set = audit_set_new();
	bool off;

	/* systemd takes "0 1" as well as "0,1". */
	snprintf(copy, sizeof(copy), "%s", list);
	for (char *p = copy; *p; p++)
		if (*p == ' ')
			*p = ',';
	off = set && audit_set_parse(copy, set) && audit_set_count(set) &&
	      !audit_set_meets(set, reserved);
	free(set);
	return off;
}

static void audit_advise_nothing_apart(struct audit_advising *a)
{
	struct audit_advice *advice = audit_add(
		a,
		"its threads may run on every online CPU: nothing is set "
		"apart for it; audit the CPUs the config keeps for klippy",
		"none: it only reads");

	audit_line(advice, "klipper-pin audit %d --cpus last-1-last",
		   (int)a->report->pid);
}

static void audit_advise_affinity(struct audit_advising *a)
{
	const struct audit_system *system = &a->report->system;
	const struct audit_setting *now = audit_affinity_now(system, false);
	struct audit_advice *advice;

	if (now && audit_keeps_off(now->value, a->report->reserved)) {
		advice = audit_add(
			a,
			"CPUAffinity= keeps services off them, yet processes "
			"are still allowed there: systemd applies it at boot, "
			"and a process given its own affinity keeps it",
			"a reboot");
		audit_line(advice, "systemctl reboot");
		return;
	}
	advice = audit_add(
		a,
		"keep every other service, and logins, off them: systemd's "
		"CPUAffinity= of the other CPUs (reserve writes these "
		"drop-ins)",
		"every other service and shell shares the other CPUs; it "
		"takes hold at the next boot, as systemd reads it when it "
		"starts; a program started by hand with taskset keeps its "
		"own");
	audit_line(advice, "klipper-pin reserve --cpus %s --apply",
		   a->reserved);
	audit_line(advice, "# /etc/systemd/system.conf.d/" AUDIT_DROPIN
			   " and user.conf.d/" AUDIT_DROPIN ":");
	audit_line(advice, "[Manager]");
	audit_line(advice, "CPUAffinity=%s", a->others);
	audit_line(advice,
		   "# /etc/systemd/system/%s.d/" AUDIT_DROPIN
		   ", so that klippy may use the CPUs klipper-pin "
		   "places it on:",
		   audit_klipper_unit(a->report));
	audit_line(advice, "[Service]");
	audit_line(advice, "CPUAffinity=%s", a->all);
}

/* A taskset line for each of the busiest processes allowed there. */
static void audit_advise_move_now(struct audit_advising *a)
{
	const struct audit_tasks *tasks = &a->report->tasks;
	const struct audit_task *busiest[AUDIT_MOVE_NOW] = { NULL };
	struct audit_advice *advice;

	for (size_t i = 0; i < tasks->count; i++) {
		const struct audit_task *task = &tasks->task[i];
		bool seen = false;

		if (task->audited || !task->there || task->thread.kernel ||
		    !task->ran_ns)
			continue;
		for (size_t j = 0; j < AUDIT_MOVE_NOW; j++) {
			if (busiest[j] && busiest[j]->pid == task->pid) {
				seen = true;
				if (task->ran_ns > busiest[j]->ran_ns)
					busiest[j] = task;
			}
		}
		for (size_t j = 0; !seen && j < AUDIT_MOVE_NOW; j++)
			if (!busiest[j] || task->ran_ns > busiest[j]->ran_ns) {
				for (size_t k = AUDIT_MOVE_NOW - 1; k > j; k--)
					busiest[k] = busiest[k - 1];
				busiest[j] = task;
				break;
			}
	}
	if (!busiest[0] || !a->others[0])
		return;
	advice = audit_add(a,
			   "move the busiest off them now, every thread "
			   "(no reboot)",
			   "lasts until the process restarts; a service "
			   "restarted gets its unit's CPUs again");
	for (size_t j = 0; j < AUDIT_MOVE_NOW && busiest[j]; j++)
		audit_line(advice,
			   "taskset -a -p -c %s %d   # %s, %.1f%% of a CPU",
			   a->others, (int)busiest[j]->pid, busiest[j]->process,
			   audit_percent(a->report, busiest[j]->ran_ns));
}

static bool audit_isolated(const struct audit_report *report)
{
	cpu_set_t *set = audit_set_new();
	bool isolated = set && report->system.has_isolated &&
			audit_set_parse(report->system.isolated, set) &&
			audit_set_within(report->reserved, set);

	free(set);
	return isolated;
}

static void audit_advise_kernel(struct audit_advising *a)
{
	struct audit_advice *advice = audit_add(
		a,
		"isolate them in the kernel: no balancing, no unbound kernel "
		"work, no timer tick while one thread runs there (kernel "
		"command line; reserve --show prints it, edits nothing)",
		a->report->system.has_nohz_full
			? "nothing is balanced onto them any more: only "
			  "threads "
			  "pinned there run there, so a klippy thread not "
			  "placed there never uses them even when they idle; "
			  "system calls on them get a little slower "
			  "(nohz_full); a reboot"
			: "nothing is balanced onto them any more: only "
			  "threads "
			  "pinned there run there, so a klippy thread not "
			  "placed there never uses them even when they idle; "
			  "this kernel has no "
			  "/sys/devices/system/cpu/nohz_full "
			  "(built without NO_HZ_FULL): nohz_full= does "
			  "nothing on it; a reboot");

	audit_line(advice,
		   "isolcpus=domain,managed_irq,%s nohz_full=%s "
		   "rcu_nocbs=%s",
		   a->reserved, a->reserved, a->reserved);
	audit_line(advice, "# at the end of the one line of "
			   "/boot/firmware/cmdline.txt (Raspberry Pi OS; "
			   "/boot/cmdline.txt before Bookworm),");
	audit_line(advice, "# or in GRUB_CMDLINE_LINUX of /etc/default/grub, "
			   "then update-grub");
}

static size_t audit_irqs_there(const struct audit_report *report)
{
	size_t count = 0;

	for (size_t i = 0; i < report->system.irq_count; i++)
		count += !report->system.irq[i].garbled;
	return count;
}

static void audit_advise_irqbalance(struct audit_advising *a)
{
	struct audit_advice *advice = audit_add(
		a, "tell irqbalance to leave them alone",
		"the other CPUs take every interrupt irqbalance moves; the "
		"MCU's serial or USB interrupt then wakes the serial thread "
		"from another CPU (a wake-up across CPUs): measure with "
		"probe");

	audit_line(advice, "klipper-pin reserve --cpus %s --apply",
		   a->reserved);
	audit_line(advice,
		   "# /etc/systemd/system/irqbalance.service.d/" AUDIT_DROPIN
		   " (irqbalance 1.8 and later):");
	audit_line(advice, "[Service]");
	audit_line(advice, "Environment=IRQBALANCE_BANNED_CPULIST=%s",
		   a->reserved);
	audit_line(advice, "systemctl daemon-reload; systemctl restart "
			   "irqbalance");
}

static void audit_advise_irqs(struct audit_advising *a)
{
	const struct audit_system *system = &a->report->system;
	struct audit_advice *advice;
	size_t shown = 0;

	if (!a->others[0])
		return;
	advice = audit_add(
		a,
		"send the IRQs elsewhere now (lost at reboot: reserve "
		"--apply adds klipper-pin-irq.service, a oneshot that does "
		"it at each boot)",
		"the other CPUs take these interrupts; the MCU's serial or "
		"USB interrupt then wakes the serial thread from another CPU: "
		"measure with probe; an IRQ the kernel manages refuses "
		"(EIO): isolcpus=managed_irq keeps those off");
	for (size_t i = 0; i < system->irq_count; i++) {
		const struct audit_irq *irq = &system->irq[i];

		if (irq->garbled)
			continue;
		if (shown++ == AUDIT_IRQ_LINES) {
			audit_line(advice, "# and the others listed above");
			break;
		}
		audit_line(advice, "echo %s > /proc/irq/%u/smp_affinity_list%s",
			   a->others, irq->number,
			   irq->device ? "   # serial or USB: the MCU's?" : "");
	}
}

size_t audit_advise(const struct audit_report *report,
		    struct audit_advice *advice)
{
	cpu_set_t *banned = audit_set_new();
	struct audit_advising a = {
		.report = report,
		.advice = advice,
		.reserved = audit_set_text(report->reserved, 1),
		.others = audit_set_text(report->others, 2),
		.all = audit_set_text(report->online, 3),
	};
	bool banned_there;

	if (!banned)
		return 0;
	if (!report->reserved_given && !a.others[0])
		audit_advise_nothing_apart(&a);
	/* With no other CPU there is nowhere to send anything. */
	if (report->processes && a.others[0])
		audit_advise_affinity(&a);
	if (report->processes && a.others[0])
		audit_advise_move_now(&a);
	if (!audit_isolated(report) && a.others[0])
		audit_advise_kernel(&a);
	banned_there = audit_banned_set(&report->system, banned) &&
		       audit_set_within(report->reserved, banned);
	if (audit_irqs_there(report) && report->system.irqbalance_running &&
	    !banned_there)
		audit_advise_irqbalance(&a);
	else if (audit_irqs_there(report) && !report->system.irqbalance_running)
		audit_advise_irqs(&a);
	free(banned);
	return a.count;
}
