/*
 * A service unit as systemd loads it (systemd.unit(5)): the unit file
 * found first along the system search path, then its drop-ins
 * (NAME.d/, TEMPLATE@.service.d/, each dash prefix's PREFIX-.service.d/
 * and service.d/, in every search directory; a file name in an earlier
 * directory hides the same name in a later one), applied in the lexical
 * order of their file names. Only the [Service] settings klipper-pin
 * needs are kept (ExecStart=, User=, EnvironmentFile=,
 * CPUAffinity=, AllowedCPUs=), each with the file and line that set it. All
 * under a root directory ("" for this machine), as `systemctl --root`.
 */
#ifndef KLIPPER_PIN_SYSTEMD_UNIT_H
#define KLIPPER_PIN_SYSTEMD_UNIT_H

#include <stddef.h>

/* Where systemd looks for system units, most important first. */
extern const char *const unit_search_path[];

struct unit_setting {
	char *value; /* as written, leading and trailing blanks cut */
	char *file;  /* the file as the machine names it (without the root) */
	int line;
};

/* The values in effect: an empty assignment resets a list; User= keeps
 * only its last value. */
struct unit_list {
	struct unit_setting *items;
	size_t count;
};

struct unit_state {
	char *path;	/* the unit file, without the root */
	char **dropins; /* the drop-ins applied, in order, without the root */
	size_t dropin_count;
	struct unit_list exec_start, user, environment_file, cpu_affinity,
		allowed_cpus;
};

/*
 * Is name a service unit's name systemd takes ("klipper.service",
 * "klipper-2.service", "klipper@2.service")? No directory, no blank.
 */
int unit_name_valid(const char *name);

/*
 * Loads unit name under root into *state (zeroed by the caller), leaving
 * out the drop-in skip (a path without the root, or NULL): klipper-pin's
 * own, so that what it wraps is what the unit runs without it. Returns
 * 0; 1 when no unit of that name is there (problem says where it looked);
 * -1 when a file cannot be read or the unit is masked (problem says
 * which). Free *state with unit_free in every case.
 */
int unit_load(const char *root, const char *name, const char *skip,
	      struct unit_state *state, char *problem, size_t len);

void unit_free(struct unit_state *state);

#endif
