/*
 * JSON strings for the subcommands' --json output, one way for all.
 */
#ifndef KLIPPER_PIN_JSON_H
#define KLIPPER_PIN_JSON_H

#include <stdio.h>

/* text as a JSON string, quoted: bytes outside printable ASCII as
 * \u00XX, since names from /proc and logs need not be UTF-8. */
void json_string(FILE *out, const char *text);

#endif
