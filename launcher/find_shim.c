/*
 * Finding libklipper-pin.so by an absolute path, never by a search of the
 * current directory (proxychains' CVE-2015-3887 is what that invites).
 */
#include "find_shim.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef LIBDIR
#define LIBDIR "/usr/local/lib/klipper-pin"
#endif

#define SHIM_NAME "libklipper-pin.so"

/* The ELF identity of a file: class, byte order, type and machine. */
struct find_shim_elf {
	unsigned char ident[EI_NIDENT];
	uint16_t type, machine;
};

static int find_shim_read_elf(const char *path, struct find_shim_elf *elf)
{
	/* e_type and e_machine follow e_ident in both classes. */
	unsigned char header[EI_NIDENT + 4];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t got;

	if (fd < 0)
		return -1;
	got = read(fd, header, sizeof(header));
	close(fd);
	if (got != (ssize_t)sizeof(header) ||
	    memcmp(header, ELFMAG, SELFMAG) != 0)
		return -1;
	memcpy(elf->ident, header, EI_NIDENT);
	if (header[EI_DATA] == ELFDATA2MSB) {
		elf->type = (uint16_t)(header[16] << 8 | header[17]);
		elf->machine = (uint16_t)(header[18] << 8 | header[19]);
	} else {
		elf->type = (uint16_t)(header[17] << 8 | header[16]);
		elf->machine = (uint16_t)(header[19] << 8 | header[18]);
	}
	return 0;
}

int shim_object_check(const char *path, char *problem, size_t problem_len)
{
	struct find_shim_elf shim, self;

	if (find_shim_read_elf(path, &shim) != 0) {
		snprintf(problem, problem_len,
			 "the shim '%s' is not an ELF shared object", path);
		return -1;
	}
	if (shim.type != ET_DYN) {
		snprintf(problem, problem_len,
			 "the shim '%s' is an ELF file but not a shared "
			 "object",
			 path);
		return -1;
	}
	/* The launcher was built for this machine: the shim must match it. */
	if (find_shim_read_elf("/proc/self/exe", &self) == 0 &&
	    (shim.ident[EI_CLASS] != self.ident[EI_CLASS] ||
	     shim.ident[EI_DATA] != self.ident[EI_DATA] ||
	     shim.machine != self.machine)) {
		snprintf(problem, problem_len,
			 "the shim '%s' is built for another architecture "
			 "(ELF machine %u, %d-bit) than this machine's (%u, "
			 "%d-bit)",
			 path, shim.machine,
			 shim.ident[EI_CLASS] == ELFCLASS64 ? 64 : 32,
			 self.machine,
			 self.ident[EI_CLASS] == ELFCLASS64 ? 64 : 32);
		return -1;
	}
	return 0;
}

static int find_shim_accept(const char *candidate, char *path, size_t len,
			    char *problem, size_t problem_len)
{
	char resolved[PATH_MAX];

	if (!realpath(candidate, resolved) || access(resolved, R_OK) != 0)
		return 1;
	if (shim_object_check(resolved, problem, problem_len) != 0)
		return -1;
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
