/*
 * The plan: what the config file asks for, resolved against the CPUs that
 * are online here, and the rules that decide which thread goes where. It is
 * built once (by the launcher to validate and show it, by the shim at load)
 * and read-only afterwards, but for each spread rule's atomic position.
 * This module knows the file format and the plan, nothing about threads.
 */
#ifndef KLIPPER_PIN_PLAN_H
#define KLIPPER_PIN_PLAN_H

#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "cpulist.h"

enum plan_log {
	PLAN_LOG_STDERR,
	PLAN_LOG_SYSLOG,
	PLAN_LOG_NONE,
	PLAN_LOG_FILE,
};

enum plan_log_format {
	PLAN_FORMAT_TEXT,
	PLAN_FORMAT_JSON,
};

enum plan_cpus {
	PLAN_CPUS_UNSET,   /* no cpus or spread key: keep the creator's CPUs */
	PLAN_CPUS_INHERIT, /* "inherit": the same, said out loud */
	PLAN_CPUS_ALL,	   /* "all": every CPU online */
	PLAN_CPUS_LIST,	   /* a list */
};

/* Scheduling policies by their config names; PLAN_POLICY_UNSET keeps it. */
enum plan_policy {
	PLAN_POLICY_UNSET = -1,
	PLAN_POLICY_OTHER,
	PLAN_POLICY_BATCH,
	PLAN_POLICY_IDLE,
	PLAN_POLICY_FIFO,
	PLAN_POLICY_RR,
};

/* What to do to a thread (or to the main thread, or to a child). */
struct plan_action {
	enum plan_cpus cpus_kind;
	bool spread;	     /* spread: one CPU each, round robin */
	struct cpulist cpus; /* as written, for LIST */
	int cpus_line;	     /* where cpus or spread was written */

	/*
	 * Resolved by plan_resolve. set holds the CPUs to place on, every
	 * one of them online: a list naming some CPUs that are not online
	 * is cut to the ones that are (with a warning). set is NULL when
	 * nothing is to be placed: UNSET, INHERIT, or skipped.
	 *
	 * skipped: none of the CPUs the list names is online here, so the
	 * action is not applied at all: no affinity, no policy or priority,
	 * no nice (a warning says so). The rule still matches (no later
	 * rule is tried) and the thread keeps what its creator gave it;
	 * rename, which is not about CPUs, still names it.
	 */
	cpu_set_t *set;
	unsigned *spread_cpus;
	size_t spread_count;
	atomic_ulong spread_next;
	bool skipped;

	enum plan_policy policy;
	int priority; /* 1-99 with fifo/rr, else 0 */
	bool has_nice;
	int nice;
	char rename[16]; /* "" when not renaming */
};

/* A glob with alternatives: "stepper_*|extruder*". */
struct plan_pattern {
	char **alternatives;
	size_t count;
};

struct plan_rule {
	char *name; /* from [thread NAME] */
	int line;
	struct plan_pattern match_library, match_symbol, match_caller,
		match_name;	    /* count 0: key not given */
	struct cpulist match_index; /* count 0: key not given */
	struct plan_action action;
};

struct plan {
	char *source; /* the config file, or NULL: built-in plan */
	enum plan_log log;
	char *log_path; /* for PLAN_LOG_FILE */
	enum plan_log_format log_format;
	bool strict;

	struct plan_action main;
	struct plan_action children;
	struct plan_rule *rules;
	size_t rule_count;

	/* Warnings found by plan_resolve, one line each, without newline. */
	char **warnings;
	size_t warning_count;

	/* The CPUs online when the plan was resolved. */
	cpu_set_t *online;
};

/* A failure, with where it is: file and line (0 when not about a line). */
/* One more error of the same file, after the first. */
struct plan_problem {
	int line;
	char message[512];
};

/* How many errors after the first a plan_error keeps (count says how many
 * there were in all). */
#define PLAN_ERRORS_KEPT 24

/*
 * What failed, with where it is: file and line (0 when not about a line)
 * of the first error, and every error found after it in file order, so
 * that a user sees them all at once. Zero it before use.
 */
struct plan_error {
	char file[256];
	int line;
	char message[512];
	size_t count; /* errors found, this first one too */
	struct plan_problem more[PLAN_ERRORS_KEPT]; /* the next count - 1 */
};

/*
 * Adds an error: the first fills file, line and message; later ones go
 * into more (past PLAN_ERRORS_KEPT they are only counted).
 */
void plan_error_add(struct plan_error *error, const char *file, int line,
		    const char *format, ...)
	__attribute__((format(printf, 4, 5)));

/* Each error of *error as "FILE:LINE: message" (or "FILE: message" with no
 * line), one per call of emit, in order; then "... and N more" when more
 * were found than kept. */
void plan_error_each(const struct plan_error *error,
		     void (*emit)(void *context, const char *text),
		     void *context);

/*
 * Reads a config file into *plan (which must be zeroed or freshly freed).
 * Returns 0, or -1 with *error filled; on error the plan is freed. Does not
 * resolve CPUs: call plan_resolve next.
 */
int plan_load_file(struct plan *plan, const char *path,
		   struct plan_error *error);

/* The same, from text in memory, named file in messages (for tests). */
int plan_load_text(struct plan *plan, const char *text, const char *file,
		   struct plan_error *error);

/*
 * The built-in plan for the CPUs in online: the main thread on the
 * second-to-last online CPU, every created thread on the last, children on
 * the rest (or on all of them when no CPU is left). Resolved already.
 * Returns 0, or -1 when out of memory.
 */
int plan_load_default(struct plan *plan, const cpu_set_t *online,
		      size_t setsize);

/*
 * Resolves every action against the CPUs in online: builds the CPU sets,
 * relative names ("last-1") counted among the online CPUs. A list naming
 * CPUs not online here (or relative names this machine has no CPU for) is
 * cut to the rest, with a warning naming them; one with none left is
 * skipped, with a warning. When the plan is strict each of those is an
 * error instead, all of them added to *error. Returns 0 or -1 with *error.
 */
int plan_resolve(struct plan *plan, const cpu_set_t *online, size_t setsize,
		 struct plan_error *error);

void plan_free(struct plan *plan);

/* What is known of a thread when rules are matched. NULL: not known. */
struct plan_thread {
	const char *library;	/* basename of the start routine's object */
	const char *symbol;	/* the start routine's symbol */
	const char *caller;	/* basename of pthread_create's caller */
	const char *name;	/* NULL at creation; the name once named */
	unsigned long long seq; /* creation number, 1 for the first thread */
};

/*
 * The first rule, in file order, whose every match key matches thread, or
 * NULL. When thread->name is NULL (at creation) rules with match_name are
 * skipped; once it is known they are tried with the rest.
 */
const struct plan_rule *plan_match(const struct plan *plan,
				   const struct plan_thread *thread);

/*
 * True when some rule could still place a thread with these creation facts
 * once it names itself: a rule with match_name whose other keys match.
 */
bool plan_may_match_named(const struct plan *plan,
			  const struct plan_thread *thread);

/* Does one pattern (with its alternatives) match text? */
bool plan_pattern_matches(const struct plan_pattern *pattern, const char *text);

/*
 * For one placement by a spread action: the CPU whose turn it is, advancing
 * the turn. -1 for any other action (it places on its whole set, if any).
 */
long plan_action_next_cpu(struct plan_action *action);

/* The same, saying which turn it took, so that a creation that then fails
 * can give the turn back. */
long plan_action_take_turn(struct plan_action *action, unsigned long *turn);

/* Gives turn back when it is still the last one taken: the next thread
 * gets its CPU. A turn taken since (a thread named meanwhile) keeps it. */
void plan_action_give_back_turn(struct plan_action *action, unsigned long turn);

/* True when the action changes anything at all (a skipped one: its
 * rename only). */
bool plan_action_does_something(const struct plan_action *action);

/*
 * Sets the log destination ("stderr", "syslog", "none" or an absolute
 * path) or format ("text", "json"), as the config keys and the launcher's
 * --log and --log-format do. Return 0, or -1 with a message in *error
 * (file and line are left to the caller).
 */
int plan_set_log(struct plan *plan, const char *dest, struct plan_error *error);
int plan_set_log_format(struct plan *plan, const char *format,
			struct plan_error *error);

/* Config names, for messages and logs. */
const char *plan_policy_name(enum plan_policy policy);
int plan_policy_to_sched(enum plan_policy policy);

#endif
