/*
 * ExecStart= values: split as systemd splits them (quotes anywhere in a
 * word, a backslash escaping the next character inside quotes too), only
 * to find the words; and words quoted so that systemd reads them back.
 */
#include "systemd_command.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* systemd 252 takes these before the path, in any order ("|" from 253). */
static const char command_prefixes[] = "-@:+!|";

/* Steps over one word starting at value[at]; the offset after it, or 0
 * with why in problem. */
static size_t command_skip_word(const char *value, size_t at, char *problem,
				size_t len)
{
	char quote = 0;

	for (; value[at]; at++) {
		char c = value[at];

		if (c == '\\') {
			if (!value[at + 1]) {
				snprintf(problem, len,
					 "a backslash ends the command");
				return 0;
			}
			at++;
		} else if (quote && c == quote) {
			quote = 0;
		} else if (!quote && (c == '"' || c == '\'')) {
			quote = c;
		} else if (!quote && (c == ' ' || c == '\t')) {
			return at;
		}
	}
	if (quote) {
		snprintf(problem, len,
			 "unbalanced quotes: %c opened, never closed", quote);
		return 0;
	}
	return at;
}

int command_parse(const char *value, struct command *command, char *problem,
		  size_t len)
{
	size_t at = strspn(value, command_prefixes);

	memset(command, 0, sizeof(*command));
	command->prefix_length = at;
	command->names_argv0 = memchr(value, '@', at) != NULL;
	for (;;) {
		size_t end;

		at += strspn(value + at, " \t");
		if (!value[at])
			break;
		end = command_skip_word(value, at, problem, len);
		if (end == 0)
			return -1;
		if (command->word_count < COMMAND_WORDS_KEPT)
			command->words[command->word_count] =
				(struct command_word){ at, end };
		command->word_count++;
		at = end;
	}
	if (command->word_count == 0) {
		snprintf(problem, len, "no command");
		return -1;
	}
	if (command->names_argv0 && command->word_count < 2) {
		snprintf(problem, len, "'@' with no argv[0] after the path");
		return -1;
	}
	return 0;
}

bool command_is_klipper_pin(const char *value, const struct command *command)
{
	static const char name[] = "klipper-pin";
	const struct command_word *program = &command->words[0];
	size_t length = program->end - program->start;
	const char *word = value + program->start;
	size_t name_length = sizeof(name) - 1;

	/* Quoted or not: a quote at either end is not part of the name. */
	while (length && (*word == '"' || *word == '\'')) {
		word++;
		length--;
	}
	while (length && (word[length - 1] == '"' || word[length - 1] == '\''))
		length--;
	return length >= name_length &&
	       memcmp(word + length - name_length, name, name_length) == 0 &&
	       (length == name_length || word[length - name_length - 1] == '/');
}

static bool command_is_plain(const char *word)
{
	if (!*word)
		return false;
	for (const char *p = word; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWX"
			    "YZ"
			    "0123456789/._-+,=@",
			    *p))
			return false;
	return true;
}

bool command_quote(const char *word, char *out, size_t len)
{
	size_t used = 0;
	bool plain = command_is_plain(word);

	if (!plain && used < len)
		out[used++] = '"';
	for (const char *p = word; *p; p++) {
		if (used + 3 >= len || (unsigned char)*p < 0x20 || *p == 0x7f)
			return false;
		if (*p == '%' || *p == '$')
			out[used++] = *p;
		else if (*p == '"' || *p == '\\')
			out[used++] = '\\';
		out[used++] = *p;
	}
	if (!plain)
		out[used++] = '"';
	if (used >= len)
		return false;
	out[used] = '\0';
	return true;
}

char *command_wrap(const char *value, const struct command *command,
		   const char *launcher, const char *config)
{
	const struct command_word *path = &command->words[0];
	size_t room =
		strlen(value) + 4 * (strlen(launcher) + strlen(config)) + 64;
	char *out = malloc(room), quoted_launcher[PATH_MAX * 2];
	char quoted_config[PATH_MAX * 2];
	const char *rest = value + path->start;
	int used;

	if (!out ||
	    !command_quote(launcher, quoted_launcher,
			   sizeof(quoted_launcher)) ||
	    !command_quote(config, quoted_config, sizeof(quoted_config))) {
		free(out);
		return NULL;
	}
	used = snprintf(out, room, "%.*s%s%s%s --config %s --on-error run -- ",
			(int)command->prefix_length, value, quoted_launcher,
			command->names_argv0 ? " " : "",
			command->names_argv0 ? quoted_launcher : "",
			quoted_config);
	if (!command->names_argv0) {
		snprintf(out + used, room - (size_t)used, "%s", rest);
		return out;
	}
	/* "@PATH ARGV0 ARGS": PATH, then ARGS from the third word on. */
	snprintf(out + used, room - (size_t)used, "%.*s%s%s",
		 (int)(path->end - path->start), rest,
		 command->word_count > 2 ? " " : "",
		 command->word_count > 2 ? value + command->words[2].start
					 : "");
	return out;
}
