/*
 * klipper-pin reserve: keeps every other unit, the user managers and the
 * IRQs off the CPUs reserved for Klipper, as systemd drop-ins and config
 * files only, each marked as ours, so that --undo removes exactly them.
 *
 * reserve.c reads the command line; reserve_plan.c reads the tree and
 * decides which files to write; reserve_files.c writes and removes them
 * under the root, with the manifest; reserve_irq.c is the boot-time mode
 * that moves the IRQs where no irqbalance does it.
 *
 * Every path here is as seen from inside the root ("/etc/..."); the
 * functions join it to the root ("" for the machine's own) themselves.
 */
#ifndef KLIPPER_PIN_RESERVE_H
#define KLIPPER_PIN_RESERVE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

/* The first line of every file reserve writes: what it refuses to
 * overwrite or remove without. */
#define RESERVE_MARKER                                                         \
	"# Written by klipper-pin reserve; `klipper-pin reserve --undo` "      \
	"removes "                                                             \
	"it."

/*
 * The manifest: what reserve wrote under this root and which directories
 * it made for it, so that --undo leaves the tree as it found it. Itself
 * marked, written last and removed last.
 */
#define RESERVE_MANIFEST "/etc/klipper-pin/reserve.manifest"

#define RESERVE_MAX_FILES 8
#define RESERVE_MAX_DIRS 16
#define RESERVE_TEXT 4096

struct reserve_file {
	char path[PATH_MAX]; /* inside the root */
	char content[RESERVE_TEXT];
};

/* What to write, and what to tell the user about it. */
struct reserve_plan {
	struct reserve_file files[RESERVE_MAX_FILES];
	size_t count;
	char reserved[256], others[256], all[256]; /* resolved CPU lists */
	char notes[RESERVE_TEXT];		   /* printed after the files */
	bool irqbalance; /* its drop-in, not our unit */
	bool irq_unit;	 /* klipper-pin-irq.service */
};

struct reserve_request {
	const char *root;      /* "" for the machine's own */
	const char *cpus;      /* as given: "2-3", "last-1-last" */
	const char *unit;      /* klipper.service */
	const char *keep_irqs; /* a list of IRQ numbers, or NULL */
	const char *self;      /* this program, absolute, for ExecStart= */
};

/*
 * Builds the plan for request from what the tree holds (online CPUs,
 * slices, irqbalance). Returns 0, or -1 with problem said (a bad or
 * offline CPU list, none left for other work, a setting that defeats
 * the reservation).
 */
int reserve_plan_build(const struct reserve_request *request,
		       struct reserve_plan *plan, char *problem, size_t len);

/*
 * Resolves cpus against the CPUs online under root into plan's reserved,
 * others and all lists (nothing else of plan is set), with the checks
 * reserve_plan_build makes. Returns 0, or -1 with problem said.
 */
int reserve_cpus(const char *root, const char *cpus, struct reserve_plan *plan,
		 char *problem, size_t len);

/* The manifest's record of what an apply did. */
struct reserve_manifest {
	char dirs[RESERVE_MAX_DIRS][PATH_MAX]; /* made by us, in order */
	size_t dir_count;
	char files[RESERVE_MAX_FILES][PATH_MAX];
	size_t file_count;
	bool found;
};

/* Reads root's manifest; not found is not an error. -1 with problem. */
int reserve_manifest_read(const char *root, struct reserve_manifest *manifest,
			  char *problem, size_t len);

/* Does the file at path (a full path) start with RESERVE_MARKER? */
bool reserve_is_ours(const char *path);

/*
 * Writes the plan's files under root, each atomically, after checking
 * that nothing is in the way (a file not ours at one of the paths, a
 * directory that cannot be made); then drops our files of an earlier
 * apply that the plan no longer has, and writes the manifest. Prints
 * "wrote PATH" or "unchanged PATH" for each. On any problem before
 * writing, writes nothing; on a failure while writing, removes what this
 * run wrote. Returns the number of files written or removed, or -1 with
 * problem said.
 */
long reserve_apply(const char *root, const struct reserve_plan *plan,
		   char *problem, size_t len);

/*
 * Removes every file the manifest names (refusing, before removing any,
 * one that is not ours), then the directories it made, deepest first,
 * then the manifest. Returns the number of files removed (0: nothing was
 * reserved), or -1 with problem said.
 */
long reserve_undo(const char *root, char *problem, size_t len);

/*
 * The boot-time mode: writes every ROOT/proc/irq/N/smp_affinity_list to
 * others, but the IRQs in keep (a list, or NULL), which get kept.
 * IRQs the kernel refuses to move are skipped and counted. Prints what
 * it did. Returns 0, or -1 with problem said (no /proc/irq).
 */
int reserve_set_irqs(const char *root, const char *others, const char *keep,
		     const char *kept, char *problem, size_t len);

/* A message into out (len bytes), as snprintf: reserve's one way to
 * word a problem or a note for its caller. */
void reserve_say(char *out, size_t len, const char *format, ...)
	__attribute__((format(printf, 3, 4)));

#endif
