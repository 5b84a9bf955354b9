/*
 * klipper-pin report: Klipper's own timing from klippy.log. The log is read
 * line by line (report_read.c, through `gzip -dc` for a .gz); each line is
 * classified and each Stats line split into named figures
 * (report_parse.c); a session's figures are summed up as median, p99 and
 * max (report_stats.c); report.c is the command line and the output.
 */
#ifndef KLIPPER_PIN_REPORT_H
#define KLIPPER_PIN_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* What one line of klippy.log is to the report. */
enum report_line {
	REPORT_OTHER,		/* anything else */
	REPORT_STARTING,	/* "Starting Klippy...": a new klippy process */
	REPORT_START,		/* "Start printer at ...": a session begins */
	REPORT_ROLLOVER,	/* "=============== Log rollover at ..." */
	REPORT_STATS,		/* "Stats 1234.5: ...", once a second */
	REPORT_SHUTDOWN,	/* "Transition to shutdown state: ..." */
	REPORT_MCU_SHUTDOWN,	/* "MCU 'mcu' shutdown: REASON" */
	REPORT_TIMER_TOO_CLOSE, /* an MCU shutdown for "Timer too close" */
};

/*
 * Classifies one line (without its newline). Lines of klippy's own are
 * recognised whatever precedes them on the line (the console log of
 * klippy's stderr adds nothing, but a journal copy adds a prefix).
 */
enum report_line report_classify(const char *line);

/* One figure of a Stats line: "mcu.srtt", 0.001. */
struct report_field {
	char name[96];
	double value;
};

/*
 * Splits a Stats line into its figures. Fields after "NAME:" (an MCU, a
 * heater, klipper_pin) are named "NAME.key"; the toolhead's, the system's
 * and G-code's fields (print_time, buffer_time, print_stall, sysload,
 * cputime, memavail, gcodein, sd_pos) are never prefixed, wherever they
 * come. Every other key is kept as it comes, and a field whose value is
 * not a number is skipped: Klipper's fields differ between versions. A
 * word with no '=' after "NAME:" is counted in *words as "NAME.word" is
 * not a figure ("klipper_pin: inactive" gives inactive true).
 * Writes at most max fields; returns how many there were (which may be
 * more than max), or -1 when the line is not a Stats line.
 */
int report_parse_stats(const char *line, struct report_field *fields,
		       size_t max, bool *inactive);

/* A figure's values over a session, in the order they came. */
struct report_series {
	char name[96];
	double *values;
	size_t count, capacity;
};

/* Appends a value; returns 0, or -1 when memory ran out. */
int report_series_add(struct report_series *series, double value);

struct report_summary {
	size_t count;
	double median, p99, max;
};

/*
 * Sorts values (count of them) in place and sums them up: the median (the
 * mean of the two middle values when count is even), p99 by nearest rank
 * (the value at rank ceil(0.99 * count)) and max. count 0 gives all 0.
 */
struct report_summary report_summarize(double *values, size_t count);

/*
 * The percentile p (0 < p <= 100) of sorted values by nearest rank: the
 * value at rank ceil(p / 100 * count), counted from 1.
 */
double report_percentile(const double *sorted, size_t count, double p);

/* A log being read: a plain file, or gzip's output for a .gz. */
struct report_input {
	FILE *file;
	pid_t child; /* gzip, or 0 */
	const char *path;
	char *line;
	size_t size;
	bool cut; /* the last line had no newline: it was not used */
};

/*
 * Opens path for reading; a name ending in ".gz" is read through
 * `gzip -dc` run as a child. Returns 0, or -1 with why (for "path: why")
 * in problem.
 */
int report_open(struct report_input *input, const char *path, char *problem,
		size_t size);

/*
 * The next complete line, its newline removed, or NULL at the end (or on
 * a read error, with errno set and problem written). A last line without
 * a newline is not returned: cut is set.
 */
const char *report_next(struct report_input *input, char *problem, size_t size);

/*
 * Closes the input; for a .gz waits for gzip. Returns 0, or -1 when gzip
 * failed (a corrupt or truncated file), with why in problem.
 */
int report_close(struct report_input *input, char *problem, size_t size);

#endif
