/*
 * The plan in words, for `klipper-pin check` and `--dry-run`: every rule
 * resolved against the CPUs online here.
 */
#ifndef KLIPPER_PIN_DESCRIBE_H
#define KLIPPER_PIN_DESCRIBE_H

#include <stdio.h>

#include "plan.h"

void describe_plan(FILE *out, const struct plan *plan);

#endif
