/*
 * Glob matching without recursion: on a mismatch after a '*', the star is
 * made to swallow one more character of the text and matching resumes
 * after it (only the last star ever needs to be retried).
 */
#include "glob.h"

#include <ctype.h>
#include <string.h>

struct glob_class {
	const char *name;
	int (*is)(int);
};

static const struct glob_class glob_classes[] = {
	{ "alnum", isalnum }, { "alpha", isalpha }, { "blank", isblank },
	{ "cntrl", iscntrl }, { "digit", isdigit }, { "graph", isgraph },
	{ "lower", islower }, { "print", isprint }, { "punct", ispunct },
	{ "space", isspace }, { "upper", isupper }, { "xdigit", isxdigit },
};

/* "[:name:]" at p: its test and, in *end, where it stops; else NULL. */
static int (*glob_class_at(const char *p, const char **end))(int)
{
	const char *close;

	/* p[1] first: at a '[' that ends the pattern, p + 2 is past it. */
	if (p[1] != ':')
		return NULL;
	close = strstr(p + 2, ":]");
	if (!close)
		return NULL;
	for (size_t i = 0; i < sizeof(glob_classes) / sizeof(glob_classes[0]);
	     i++) {
		size_t length = strlen(glob_classes[i].name);

		if ((size_t)(close - (p + 2)) == length &&
		    memcmp(p + 2, glob_classes[i].name, length) == 0) {
			*end = close + 2;
			return glob_classes[i].is;
		}
	}
	return NULL;
}

/*
 * The bracket expression at p ('[' ...): returns where it ends (after its
 * ']') and whether c is in it, in *matched; NULL when there is no closing
 * ']' (the '[' is then an ordinary character).
 */
static const char *glob_bracket(const char *p, unsigned char c, bool *matched)
{
	bool negate = p[1] == '!' || p[1] == '^', found = false;
	const char *at = p + 1 + negate;

	/* A ']' first in the list is one of its characters. */
	for (bool first = true; first || *at != ']'; first = false) {
		int (*is)(int);
		const char *end;
		unsigned char low, high;

		if (!*at)
			return NULL;
		if (*at == '[' && (is = glob_class_at(at, &end))) {
			found |= is(c) != 0;
			at = end;
			continue;
		}
		if (*at == '\\' && at[1])
			at++;
		low = high = (unsigned char)*at++;
		if (at[0] == '-' && at[1] && at[1] != ']') {
			at++;
			if (*at == '\\' && at[1])
				at++;
			high = (unsigned char)*at++;
		}
		found |= c >= low && c <= high;
	}
	*matched = found != negate;
	return at + 1;
}

bool glob_match(const char *pattern, const char *text)
{
	const char *p = pattern, *t = text;
	const char *star = NULL, *star_text = NULL;

	while (*t) {
		const char *next = NULL;
		bool matched = false;

		if (*p == '*') {
			star = ++p;
			star_text = t;
			continue;
		}
		if (*p == '?') {
			matched = true;
			next = p + 1;
		} else if (*p == '[' &&
			   (next = glob_bracket(p, (unsigned char)*t,
						&matched))) {
			/* matched says whether *t is in it */
		} else if (*p == '\\' && !p[1]) {
			return false; /* a lone trailing backslash: invalid */
		} else if (*p) {
			const char *literal = *p == '\\' && p[1] ? p + 1 : p;

			matched = *literal == *t;
			next = literal + 1;
		}
		if (matched) {
			p = next;
			t++;
		} else if (star) {
			p = star;
			t = ++star_text;
		} else {
			return false;
		}
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}
