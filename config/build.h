/*
 * The one way a plan is made from its inputs, shared by the launcher (to
 * check it and show it) and the shim (to apply it), so that what the
 * launcher validated is exactly what the shim applies.
 */
#ifndef KLIPPER_PIN_BUILD_H
#define KLIPPER_PIN_BUILD_H

#include <stdbool.h>
#include <stddef.h>

#include "plan.h"

/* The system-wide config, used when nothing else names one. */
#define PLAN_SYSTEM_CONFIG "/etc/klipper-pin.conf"

struct plan_inputs {
	const char *config; /* a config file; NULL or "": the built-in plan */
	const char *log;    /* overrides the config's log; NULL: none */
	const char *log_format; /* overrides the config's format; NULL: none */
};

/*
 * The config file to use: given (--config) if set, else
 * $KLIPPER_PIN_CONFIG if set (an empty value chooses the built-in plan),
 * else PLAN_SYSTEM_CONFIG if it exists, else "" for the built-in plan. A
 * relative path is made absolute (the program may chdir before a child
 * execs). Writes it into path (len bytes); -1 when it does not fit.
 */
int plan_choose_config(const char *given, char *path, size_t len);

/*
 * Builds *plan (zeroed or freed) from inputs, resolved against the CPUs
 * online now. Returns 0, or -1 with every error in *error (zeroed by the
 * caller) and the plan freed.
 */
int plan_build(struct plan *plan, const struct plan_inputs *inputs,
	       struct plan_error *error);

#endif
