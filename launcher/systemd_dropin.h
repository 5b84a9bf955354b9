/*
 * klipper-pin's own drop-in: its text, written atomically (a temporary
 * file renamed over it, so that a power cut leaves the old file or the
 * new one, never half), recognised by its first line, and removed with
 * the directory it created.
 */
#ifndef KLIPPER_PIN_SYSTEMD_DROPIN_H
#define KLIPPER_PIN_SYSTEMD_DROPIN_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Named to sort after every drop-in a person or a tool writes
 * ("override.conf" from `systemctl edit`, "10-cpu.conf"): systemd applies
 * drop-ins in lexical order, so a later one that set ExecStart= would
 * undo the wrap.
 */
#define DROPIN_NAME "zz-klipper-pin.conf"

/* The directory drop-ins go to, as `systemctl edit` writes them. */
#define DROPIN_DIR "/etc/systemd/system"

#define DROPIN_MARKER                                                          \
	"# Written by klipper-pin systemd install; `klipper-pin systemd "      \
	"remove` removes it."

/* What the drop-in says; strings as they go into the unit. */
struct dropin_content {
	const char *wrapped_file; /* where the wrapped ExecStart= was set */
	int wrapped_line;
	const char *config;	    /* the config the launcher is given */
	const char *exec_start;	    /* the new ExecStart= value */
	const char *exec_start_pre; /* an ExecStartPre= value, or NULL */
	int rtprio;		    /* LimitRTPRIO=, 0 for none */
	int nice;		    /* LimitNICE= when negative, 0 for none */
	bool created_dir;	    /* install made the UNIT.d directory */
};

/* The drop-in's text, malloc'd (NULL when out of memory). */
char *dropin_text(const struct dropin_content *content);

/* Does text start with DROPIN_MARKER? */
bool dropin_is_ours(const char *text);

/* Does text (ours) record that install made its directory? */
bool dropin_made_dir(const char *text);

/*
 * Reads the file at path: 0 with *text malloc'd, 1 when there is none,
 * -1 with errno.
 */
int dropin_read(const char *path, char **text);

/*
 * Writes text as dir/DROPIN_NAME (dir as it is on disk, the root in it),
 * mode 0644, making dir (0755) when make_dir. Returns 0, or -1 with why in
 * problem and nothing left behind.
 */
int dropin_write(const char *dir, bool make_dir, const char *text,
		 char *problem, size_t len);

/*
 * Removes dir/DROPIN_NAME, and dir when remove_dir and it is empty.
 * Returns 0, or -1 with why in problem.
 */
int dropin_remove(const char *dir, bool remove_dir, char *problem, size_t len);

#endif
