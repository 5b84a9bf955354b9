/*
 * Finding libklipper-pin.so by an absolute path, never by a search of the
 * current directory (proxychains' CVE-2015-3887 is what that invites).
 */
#include "find_shim.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef LIBDIR
#define LIBDIR "/usr/local/lib/klipper-pin"
#endif

#define SHIM_NAME "libklipper-pin.so"

static int find_shim_accept(const char *candidate, char *path, size_t len,
			    char *problem, size_t problem_len)
{
	char resolved[PATH_MAX];

	if (!realpath(candidate, resolved) || access(resolved, R_OK) != 0)
		return 1;
	if (strpbrk(resolved, ": \t\n")) {
		snprintf(problem, problem_len,
			 "shim path '%s' has a ':' or a space, which "
			 "LD_PRELOAD would split: move it",
			 resolved);
		return -1;
	}
	if (strlen(resolved) >= len) {
		snprintf(problem, problem_len, "shim path '%s' is too long",
			 resolved);
		return -1;
	}
	memcpy(path, resolved, strlen(resolved) + 1);
	return 0;
}

int find_shim(const char *given, char *path, size_t len, char *problem,
	      size_t problem_len)
{
	char exe[PATH_MAX], candidate[PATH_MAX + 64], looked[1024] = "";
	const char *from_env = getenv("KLIPPER_PIN_SHIM");
	const char *named = given && *given	    ? given
			    : from_env && *from_env ? from_env
						    : NULL;
	ssize_t got;
	int found;

	if (named) {
		found = find_shim_accept(named, path, len, problem,
					 problem_len);
		if (found == 1)
			snprintf(problem, problem_len,
				 "cannot read the shim '%s' (given by %s): %s",
				 named,
				 given && *given ? "--shim"
						 : "KLIPPER_PIN_SHIM",
				 strerror(errno ? errno : ENOENT));
		return found ? -1 : 0;
	}

	got = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (got > 0) {
		exe[got] = '\0';
		char *slash = strrchr(exe, '/');

		if (slash)
			*slash = '\0';
		const char *beside[] = { "/" SHIM_NAME,
					 "/../lib/klipper-pin/" SHIM_NAME };

		for (size_t i = 0; i < 2; i++) {
			snprintf(candidate, sizeof(candidate), "%s%s", exe,
				 beside[i]);
			found = find_shim_accept(candidate, path, len, problem,
						 problem_len);
			if (found <= 0)
				return found;
			size_t used = strlen(looked);

			snprintf(looked + used, sizeof(looked) - used,
				 "%s%.400s", used ? ", " : "", candidate);
		}
	}
	snprintf(candidate, sizeof(candidate), "%s/%s", LIBDIR, SHIM_NAME);
	found = find_shim_accept(candidate, path, len, problem, problem_len);
	if (found <= 0)
		return found;
	size_t used = strlen(looked);

	snprintf(looked + used, sizeof(looked) - used, "%s%.400s",
		 used ? ", " : "", candidate);
	snprintf(problem, problem_len,
		 "cannot find %s (looked in %s); give it with --shim",
		 SHIM_NAME, looked);
	return -1;
}
