/*
 * From inputs to a resolved plan: the config file (or the built-in plan),
 * the log overrides, the CPUs online.
 */
#include "build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int plan_choose_config(const char *given, char *path, size_t len)
{
	const char *chosen = given;
	size_t used = 0;

	if (!chosen || !*chosen) {
		chosen = getenv("KLIPPER_PIN_CONFIG");
		if (!chosen && access(PLAN_SYSTEM_CONFIG, F_OK) == 0)
			chosen = PLAN_SYSTEM_CONFIG;
	}
	if (!chosen || !*chosen) {
		path[0] = '\0';
		return 0;
	}
	if (chosen[0] != '/') {
		if (!getcwd(path, len))
			return -1;
		used = strlen(path);
		if (used + 1 >= len)
			return -1;
		path[used++] = '/';
	}
	if (used + strlen(chosen) >= len)
		return -1;
	memcpy(path + used, chosen, strlen(chosen) + 1);
	return 0;
}

int plan_build(struct plan *plan, const struct plan_inputs *inputs,
	       struct plan_error *error)
{
	cpu_set_t *online = CPU_ALLOC(CPULIST_MAX_CPU + 1);
	const char *config = inputs->config;
	int failed = 0;

	memset(plan, 0, sizeof(*plan));
	if (!online || cpulist_read_online(online, CPULIST_SETSIZE) != 0) {
		plan_error_add(error, "", 0,
			       "cannot tell which CPUs are online");
		if (online)
			CPU_FREE(online);
		return -1;
	}
	if (config && *config) {
		failed = plan_load_file(plan, config, error) ||
			 plan_resolve(plan, online, CPULIST_SETSIZE, error);
	} else if (plan_load_default(plan, online, CPULIST_SETSIZE) != 0) {
		plan_error_add(error, "", 0, "cannot build the built-in plan");
		failed = 1;
	}
	CPU_FREE(online);
	if (!failed && inputs->log &&
	    plan_set_log(plan, inputs->log, error) != 0)
		failed = 1;
	if (!failed && inputs->log_format &&
	    plan_set_log_format(plan, inputs->log_format, error) != 0)
		failed = 1;
	if (failed) {
		plan_free(plan);
		return -1;
	}
	return 0;
}
