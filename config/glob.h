/*
 * Shell-style patterns as fnmatch(3) with no flags reads them: '*', '?',
 * bracket expressions ('[a-z]', '[!x]', '[^x]', '[[:digit:]]') and '\'
 * quoting; '/' and a leading '.' are not special. The shim matches names
 * on the program's threads, where glibc's fnmatch would take some 2 KiB
 * of a stack that may be small: this one takes a few dozen bytes and no
 * allocation, in time linear in pattern times text at worst.
 */
#ifndef KLIPPER_PIN_GLOB_H
#define KLIPPER_PIN_GLOB_H

#include <stdbool.h>

/* Does pattern match the whole of text? */
bool glob_match(const char *pattern, const char *text);

#endif
