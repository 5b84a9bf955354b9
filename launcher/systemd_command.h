/*
 * An ExecStart= value as systemd reads it (systemd.service(5), "Command
 * lines"): prefix characters, then words split at whitespace outside
 * quotes. Only split to find the words and check the quoting: the value
 * is written back verbatim, so that systemd expands $VAR, ${VAR} and
 * specifiers as it did before.
 */
#ifndef KLIPPER_PIN_SYSTEMD_COMMAND_H
#define KLIPPER_PIN_SYSTEMD_COMMAND_H

#include <stdbool.h>
#include <stddef.h>

/* The words we look at; a command may have more. */
#define COMMAND_WORDS_KEPT 8

struct command_word {
	size_t start, end; /* offsets into the value, quotes included */
};

struct command {
	size_t prefix_length; /* of "-", "@", ":", "+", "!", "!!", "|" */
	bool names_argv0;     /* "@": the second word is argv[0] */
	size_t word_count;
	struct command_word words[COMMAND_WORDS_KEPT];
};

/*
 * Splits value into *command. Returns 0, or -1 with why in problem (an
 * unbalanced quote, a backslash at the end, no command at all).
 */
int command_parse(const char *value, struct command *command, char *problem,
		  size_t len);

/* Is the command klipper-pin itself (a program of that name)? */
bool command_is_klipper_pin(const char *value, const struct command *command);

/*
 * The command that runs value's under launcher with config: prefix kept
 * in front, then "LAUNCHER --config CONFIG --on-error run -- " and the
 * rest of value verbatim (with "@", the launcher's own argv[0] is its
 * path and value's chosen argv[0] is dropped: the launcher passes its
 * COMMAND on as it is). malloc'd; NULL when out of memory or a path
 * cannot be written in a unit (a control character).
 */
char *command_wrap(const char *value, const struct command *command,
		   const char *launcher, const char *config);

/*
 * Writes word into out (len bytes) as systemd reads it back as that one
 * word: as it is when plain, else in double quotes; '%' doubled (not a
 * specifier) and '$' doubled (not a variable). Returns false when it
 * does not fit or holds a control character (a unit has no way to
 * write one).
 */
bool command_quote(const char *word, char *out, size_t len);

#endif
