/*
 * Where the preload library is: --shim, $KLIPPER_PIN_SHIM, beside the
 * executable, ../lib/klipper-pin/ from it, or the install LIBDIR.
 */
#ifndef KLIPPER_PIN_FIND_SHIM_H
#define KLIPPER_PIN_FIND_SHIM_H

#include <stddef.h>

/*
 * Finds the shim and writes its absolute path into path (of len bytes).
 * given is --shim's value or NULL. Returns 0, or -1 with a message for the
 * user in problem (of problem_len bytes): not found (with where it looked),
 * not a shared object for this machine, or a path LD_PRELOAD would split
 * (a ':' or a space in it).
 */
int find_shim(const char *given, char *path, size_t len, char *problem,
	      size_t problem_len);

/*
 * Is path an ELF shared object for this machine (the launcher's own class,
 * byte order and machine)? 0, or -1 with a message in problem.
 */
int shim_object_check(const char *path, char *problem, size_t problem_len);

#endif
