/*
 * The placement log: one line per event, in text or JSON, written with a
 * single write(2) so that lines from many threads and processes never mix.
 * Formatting uses no stdio and no locks: it is safe in a forked child.
 */
#ifndef KLIPPER_PIN_LOG_H
#define KLIPPER_PIN_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <time.h>

#include "plan.h"

/* One event. Strings may be NULL (written as - in text, null in JSON). */
struct shim_log_event {
	const char *event;  /* main, thread, rename, child, config */
	struct timespec ts; /* CLOCK_REALTIME */
	pid_t pid, tid;
	unsigned long long seq; /* creation number; 0 for none */
	const char *library, *symbol, *caller, *name, *rule;
	const char *want; /* CPUs asked for, as a list, or "inherit" */
	const char *cpus; /* CPUs the kernel reports afterwards */
	const char *policy;
	int priority;
	bool has_nice;
	int nice;
	const char *result;  /* "ok" or what failed */
	const char *message; /* for config events */
};

/* The longest line written; longer events are cut to a marked line. */
#define SHIM_LOG_LINE_MAX 4096
/* Room a caller gives shim_log_write: a line and syslog's header. */
#define SHIM_LOG_HEADROOM 64
#define SHIM_LOG_BUFFER (SHIM_LOG_HEADROOM + SHIM_LOG_LINE_MAX)

/*
 * Formats event as one line ending in '\n' into buf (of len bytes, at
 * least 256). Returns the line's length. Pure: for tests and for the sink.
 */
size_t shim_log_format(const struct shim_log_event *event,
		       enum plan_log_format format, char *buf, size_t len);

/*
 * Opens the destination the plan names. A file is opened to append, never
 * through a symlink, close-on-exec, without blocking; it must be a regular
 * file or a character device (a FIFO or a socket is refused: ENXIO).
 * Returns 0, or -1 with errno when the destination cannot be opened (the
 * log is then off).
 */
int shim_log_open(const struct plan *plan);

/* Writes one event to the open destination, keeping errno; never blocks
 * on a full pipe or disk for long, never raises SIGPIPE. The line is
 * formatted in buf, SHIM_LOG_BUFFER bytes that the caller provides (off
 * the program's stack). */
void shim_log_write(const struct shim_log_event *event, char *buf);

/* Forgets the destination (in a child the log stays open as inherited). */
void shim_log_close(void);

#endif
