/*
 * klipper-pin report: what a line of klippy.log is, and the figures of a
 * Stats line. The formats are klippy's own: klippy.py logs "Starting
 * Klippy..." once a process and "Start printer at" at each printer start
 * (RESTART included); queuelogger.py heads a rotated file with "Log
 * rollover"; extras/statistics.py joins each object's stats() into
 * "Stats EVENTTIME: ..."; mcu.py logs "MCU 'NAME' shutdown: REASON".
 */
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

/* Fields that belong to no MCU, whatever prefix came before them. */
static const char *const report_global_keys[] = {
	"print_time", "buffer_time", "print_stall", "sysload",
	"cputime",    "memavail",    "gcodein",	    "sd_pos",
};

enum report_line report_classify(const char *line)
{
	const char *mcu = strstr(line, "MCU '");

	if (strncmp(line, "Stats ", 6) == 0)
		return REPORT_STATS;
	if (strstr(line, "Start printer at "))
		return REPORT_START;
	if (strstr(line, "Starting Klippy..."))
		return REPORT_STARTING;
	if (strstr(line, "=============== Log rollover at "))
		return REPORT_ROLLOVER;
	if (strstr(line, "Transition to shutdown state: "))
		return REPORT_SHUTDOWN;
	if (mcu) {
		const char *end = strstr(mcu + 5, "' shutdown: ");

		if (end && !memchr(mcu + 5, '\'', (size_t)(end - mcu - 5)))
			return strncmp(end + 12, "Timer too close", 15) == 0
				       ? REPORT_TIMER_TOO_CLOSE
				       : REPORT_MCU_SHUTDOWN;
	}
	return REPORT_OTHER;
}

static bool report_global(const char *key, size_t length)
{
	for (size_t i = 0;
	     i < sizeof(report_global_keys) / sizeof(report_global_keys[0]);
	     i++)
		if (strlen(report_global_keys[i]) == length &&
		    strncmp(report_global_keys[i], key, length) == 0)
			return true;
	return false;
}

/* A number as Klipper prints them ("%.3f", "%d"): finite, nothing after. */
static bool report_number(const char *text, size_t length, double *value)
{
	char buffer[64], *end;

	if (length == 0 || length >= sizeof(buffer))
		return false;
	memcpy(buffer, text, length);
	buffer[length] = '\0';
	*value = strtod(buffer, &end);
	return *end == '\0' && isfinite(*value);
}

int report_parse_stats(const char *line, struct report_field *fields,
		       size_t max, bool *inactive)
{
	char group[64] = "";
	const char *p;
	int count = 0;

	*inactive = false;
	if (strncmp(line, "Stats ", 6) != 0)
		return -1;
	p = strchr(line + 6, ':');
	if (!p)
		return -1;
	for (p++;;) {
		size_t length;
		const char *equals;
		double value;

		p += strspn(p, " \t");
		if (*p == '\0')
			break;
		length = strcspn(p, " \t");
		equals = memchr(p, '=', length);
		if (!equals && p[length - 1] == ':') {
			size_t name = length - 1 < sizeof(group) - 1
					      ? length - 1
					      : sizeof(group) - 1;

			memcpy(group, p, name);
			group[name] = '\0';
		} else if (!equals) {
			if (strcmp(group, "klipper_pin") == 0 && length == 8 &&
			    strncmp(p, "inactive", 8) == 0)
				*inactive = true;
		} else if (report_number(equals + 1,
					 length - (size_t)(equals + 1 - p),
					 &value)) {
			size_t key = (size_t)(equals - p);
			bool global = report_global(p, key) || !group[0];

			if ((size_t)count < max) {
				struct report_field *field = &fields[count];
				int written = snprintf(
					field->name, sizeof(field->name),
					"%s%s%.*s", global ? "" : group,
					global ? "" : ".", (int)key, p);

				/* A name too long to hold is not a figure. */
				if (written >= (int)sizeof(field->name) ||
				    key == 0)
					count--;
				else
					field->value = value;
			}
			count++;
		}
		p += length;
	}
	return count;
}
