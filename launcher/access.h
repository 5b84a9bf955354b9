/*
 * The files a run opens, checked as the user who will run it would meet
 * them: the config readable, the log's directory there and writable, no
 * symbolic link, no FIFO; syslog listening. Nothing is created or changed.
 */
#ifndef KLIPPER_PIN_ACCESS_H
#define KLIPPER_PIN_ACCESS_H

#include <stdbool.h>

#include "plan.h"

/* Called once per finding: an error (the run would fail or lose its log)
 * or a warning. */
typedef void (*access_report)(void *context, bool error, const char *text);

/*
 * Checks config (a path, or "" for the built-in plan) and plan's log as
 * user (a name or a number; NULL: whoever runs this). Checking as another
 * user needs root: the checks then run in a child with that user's ids
 * and groups. Returns the number of errors reported (warnings not
 * counted), or -1 after reporting why the check could not be made.
 */
int access_check(const char *user, const char *config, const struct plan *plan,
		 access_report report, void *context);

#endif
