/*
 * What a config asks of the unit that runs it: the config chosen for the
 * unit's user, and from its plan the limits klippy's user needs
 * (LimitRTPRIO=, LimitNICE=) and the CPUs it places threads on, to weigh
 * a CPUAffinity= or AllowedCPUs= against.
 */
#ifndef KLIPPER_PIN_SYSTEMD_PLAN_H
#define KLIPPER_PIN_SYSTEMD_PLAN_H

#include <limits.h>
#include <sched.h>
#include <stddef.h>

#include "systemd_command.h"
#include "systemd_unit.h"

struct unit_plan {
	char config[PATH_MAX]; /* as the unit names it (without the root) */
	const char *why;       /* how it was chosen, in words */
	int rtprio;	       /* the highest fifo/rr priority; 0: none */
	int nice;	       /* the lowest negative nice; 0: none */
	cpu_set_t *cpus;       /* every CPU the plan places on, here */
};

/*
 * The config for a unit running command (exec_start's value, split) as
 * user (NULL: root): given if set (made absolute), else klipper-pin.conf
 * beside the printer.cfg the command names, else in the printer_data
 * directory a KIAUH EnvironmentFile= names (DATA/systemd/NAME.env
 * gives DATA/config/), else ~USER/printer_data/config/, else
 * PLAN_SYSTEM_CONFIG. Homes are read from ROOT/etc/passwd under a root.
 * Returns 0, or -1 with why in problem.
 */
int unit_plan_choose_config(struct unit_plan *plan, const char *root,
			    const char *given, const char *user,
			    const struct unit_state *unit, const char *value,
			    const struct command *command, char *problem,
			    size_t len);

/*
 * Builds the plan of plan->config (read under root) and fills rtprio,
 * nice and cpus. Returns 0, or -1 after emit got each error
 * ("FILE:LINE: message").
 */
int unit_plan_build(struct unit_plan *plan, const char *root,
		    void (*emit)(void *context, const char *text),
		    void *context);

/*
 * Warnings about the unit's CPUAffinity= (only the CPUs every thread
 * starts on: the plan moves the threads it places) and AllowedCPUs= (a
 * cpuset: the kernel refuses the plan's CPUs outside it), one call of
 * emit each.
 */
void unit_plan_weigh_cpus(const struct unit_plan *plan, const char *root,
			  const struct unit_state *unit,
			  void (*emit)(void *context, const char *text),
			  void *context);

void unit_plan_free(struct unit_plan *plan);

#endif
