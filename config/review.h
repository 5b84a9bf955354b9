/*
 * What a valid plan may still get wrong: rules that can never match, a
 * config that places nothing. For `klipper-pin check`; the shim does not
 * need it.
 */
#ifndef KLIPPER_PIN_REVIEW_H
#define KLIPPER_PIN_REVIEW_H

#include "plan.h"

/* Calls warn once per finding, in file order, with a sentence naming the
 * file and line. */
void plan_review(const struct plan *plan,
		 void (*warn)(void *context, const char *text), void *context);

#endif
