/*
 * Parsing and formatting of CPU lists in taskset's syntax. Pure functions
 * but for cpulist_read_online, which asks sysfs what is online.
 */
#include "cpulist.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *cpulist_skip_space(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Reads a decimal number at *p, at most max; advances *p past it. */
static enum cpulist_error cpulist_number(const char **p, unsigned max,
					 unsigned *out)
{
	const char *s = *p;
	unsigned long long value = 0;

	if (!isdigit((unsigned char)*s))
		return *s == '\0' || *s == ',' ? CPULIST_EMPTY : CPULIST_SYNTAX;
	while (isdigit((unsigned char)*s)) {
		value = value * 10 + (unsigned long long)(*s - '0');
		if (value > max)
			return CPULIST_TOO_BIG;
		s++;
	}
	*out = (unsigned)value;
	*p = s;
	return CPULIST_OK;
}

static bool cpulist_word_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

/*
 * Reads one end of an item at *p: a number, or "last" or "last-N" when
 * relative names are taken (*last then says so, *out holding N). Advances
 * *p past it; on error *p is left at the offending text.
 */
static enum cpulist_error cpulist_end(const char **p, unsigned max,
				      bool relative, unsigned *out, bool *last)
{
	const char *s = *p;
	enum cpulist_error error;

	*last = false;
	if (!relative)
		return cpulist_number(p, max, out);
	if (*s == '-' && isdigit((unsigned char)s[1]))
		return CPULIST_NEGATIVE;
	if (!isalpha((unsigned char)*s))
		return cpulist_number(p, max, out);
	while (cpulist_word_char(*s))
		s++;
	if (s - *p != 4 || strncmp(*p, "last", 4) != 0)
		return CPULIST_NAME;
	*out = 0;
	if (*s == '-' && isdigit((unsigned char)s[1])) {
		const char *count = ++s;

		error = cpulist_number(&s, max, out);
		if (error) {
			*p = count;
			return error == CPULIST_TOO_BIG ? CPULIST_TOO_FAR
							: error;
		}
	}
	*last = true;
	*p = s;
	return CPULIST_OK;
}

static enum cpulist_error cpulist_item(const char **p, unsigned max,
				       bool relative,
				       struct cpulist_range *range)
{
	enum cpulist_error error;
	bool lo_last, hi_last;

	*p = cpulist_skip_space(*p);
	error = cpulist_end(p, max, relative, &range->lo, &lo_last);
	if (error)
		return error;
	range->hi = range->lo;
	range->stride = 1;
	range->flags = lo_last ? CPULIST_LO_LAST | CPULIST_HI_LAST : 0;
	if (**p == '-') {
		const char *hi_at = ++*p;

		error = cpulist_end(p, max, relative, &range->hi, &hi_last);
		if (error)
			return error == CPULIST_EMPTY ? CPULIST_SYNTAX : error;
		/* Numbers keep no flags: "3-3" is "3", as before. */
		range->flags = lo_last || hi_last ? CPULIST_SPAN : 0;
		range->flags |= (lo_last ? CPULIST_LO_LAST : 0) |
				(hi_last ? CPULIST_HI_LAST : 0);
		/* Numbers go up, counts back from the last go down; a
		 * number and a count are compared only once resolved. */
		if ((!lo_last && !hi_last && range->hi < range->lo) ||
		    (lo_last && hi_last && range->hi > range->lo)) {
			*p = hi_at;
			return CPULIST_REVERSED;
		}
		if (**p == ':') {
			++*p;
			error = cpulist_number(p, max, &range->stride);
			if (error)
				return error == CPULIST_EMPTY ? CPULIST_SYNTAX
							      : error;
			if (range->stride == 0)
				return CPULIST_BAD_STRIDE;
		}
	}
	*p = cpulist_skip_space(*p);
	return CPULIST_OK;
}

enum cpulist_error cpulist_parse(const char *text, unsigned max,
				 struct cpulist *list, const char **bad)
{
	const char *p = text;
	size_t capacity = 0;
	enum cpulist_error error = CPULIST_OK;
	bool relative = max <= CPULIST_MAX_CPU;

	list->ranges = NULL;
	list->count = 0;
	if (*cpulist_skip_space(p) == '\0') {
		error = CPULIST_EMPTY;
		goto fail;
	}
	for (;;) {
		struct cpulist_range range;

		error = cpulist_item(&p, max, relative, &range);
		if (error)
			goto fail;
		if (list->count == capacity) {
			size_t grown = capacity ? capacity * 2 : 4;
			struct cpulist_range *more =
				realloc(list->ranges, grown * sizeof(*more));

			if (!more) {
				error = CPULIST_NO_MEMORY;
				goto fail;
			}
			list->ranges = more;
			capacity = grown;
		}
		list->ranges[list->count++] = range;
		if (*p == '\0')
			return CPULIST_OK;
		if (*p != ',') {
			error = CPULIST_SYNTAX;
			goto fail;
		}
		p++;
	}
fail:
	cpulist_free(list);
	if (bad)
		*bad = p;
	return error;
}

const char *cpulist_strerror(enum cpulist_error error)
{
	switch (error) {
	case CPULIST_OK:
		return "no error";
	case CPULIST_EMPTY:
		return "an empty list or item";
	case CPULIST_SYNTAX:
		return "not a number or range";
	case CPULIST_REVERSED:
		return "a range whose end is below its start";
	case CPULIST_TOO_BIG:
		return "a number above the maximum";
	case CPULIST_BAD_STRIDE:
		return "a stride of 0";
	case CPULIST_NAME:
		return "a name other than last or last-N";
	case CPULIST_NEGATIVE:
		return "a negative number, where last-N counts from the end";
	case CPULIST_TOO_FAR:
		return "a count back from last beyond any CPU";

	case CPULIST_NO_MEMORY:
		return "out of memory";
	}
	return "unknown error";
}

void cpulist_free(struct cpulist *list)
{
	free(list->ranges);
	list->ranges = NULL;
	list->count = 0;
}

static bool cpulist_range_is_relative(const struct cpulist_range *r)
{
	return (r->flags & (CPULIST_LO_LAST | CPULIST_HI_LAST)) != 0;
}

static bool cpulist_range_contains(const struct cpulist_range *r, unsigned n)
{
	return !cpulist_range_is_relative(r) && n >= r->lo && n <= r->hi &&
	       (n - r->lo) % r->stride == 0;
}

bool cpulist_is_relative(const struct cpulist *list)
{
	for (size_t i = 0; i < list->count; i++)
		if (cpulist_range_is_relative(&list->ranges[i]))
			return true;
	return false;
}

bool cpulist_contains(const struct cpulist *list, unsigned n)
{
	for (size_t i = 0; i < list->count; i++)
		if (cpulist_range_contains(&list->ranges[i], n))
			return true;
	return false;
}

size_t cpulist_count(const struct cpulist *list)
{
	unsigned top = 0;
	size_t count = 0, numbered = 0;

	for (size_t i = 0; i < list->count; i++) {
		if (cpulist_range_is_relative(&list->ranges[i]))
			continue;
		numbered++;
		if (list->ranges[i].hi > top)
			top = list->ranges[i].hi;
	}
	if (numbered == 0)
		return 0;
	/* Lists are short and numbers small in practice; count by value so
	 * that overlapping ranges are not counted twice. */
	for (unsigned n = 0; n <= top; n++) {
		if (cpulist_contains(list, n))
			count++;
		if (n == top)
			break;
	}
	return count;
}

static void cpulist_range_to_set(const struct cpulist_range *r, cpu_set_t *set,
				 size_t setsize)
{
	/* Wide enough not to wrap past hi on 32-bit, and stopped at the
	 * set's end: an index list may run to 4000000000. */
	for (unsigned long long n = r->lo;
	     n <= r->hi && n < (unsigned long long)setsize * 8; n += r->stride)
		CPU_SET_S((size_t)n, setsize, set);
}

void cpulist_to_set(const struct cpulist *list, cpu_set_t *set, size_t setsize)
{
	for (size_t i = 0; i < list->count; i++)
		if (!cpulist_range_is_relative(&list->ranges[i]))
			cpulist_range_to_set(&list->ranges[i], set, setsize);
}

/* Where the online CPUs (cpus, n of them, ascending) reach value: the
 * first position holding a CPU above value, or at least value (above). */
static size_t cpulist_position(const unsigned *cpus, size_t n, unsigned value,
			       bool above)
{
	size_t low = 0, high = n;

	while (low < high) {
		size_t middle = low + (high - low) / 2;

		if (above ? cpus[middle] <= value : cpus[middle] < value)
			low = middle + 1;
		else
			high = middle;
	}
	return low;
}

/* The position of "last-count" among n online CPUs; counted back past the
 * first, the first. */
static size_t cpulist_back(unsigned count, size_t n)
{
	return count >= n ? 0 : n - 1 - count;
}

/* Sets the CPUs of a relative item among the online ones (cpus, n of
 * them, ascending). False when it names none here. */
static bool cpulist_resolve_range(const struct cpulist_range *r,
				  const unsigned *cpus, size_t n,
				  cpu_set_t *set, size_t setsize)
{
	size_t first, end;

	if (n == 0)
		return false;
	if (!(r->flags & CPULIST_SPAN)) {
		if (r->lo >= n)
			return false;
		CPU_SET_S(cpus[n - 1 - r->lo], setsize, set);
		return true;
	}
	first = r->flags & CPULIST_LO_LAST
			? cpulist_back(r->lo, n)
			: cpulist_position(cpus, n, r->lo, false);
	end = r->flags & CPULIST_HI_LAST
		      ? cpulist_back(r->hi, n) + 1
		      : cpulist_position(cpus, n, r->hi, true);
	if (first >= end)
		return false;
	for (size_t at = first; at < end; at += r->stride)
		CPU_SET_S(cpus[at], setsize, set);
	return true;
}

static size_t cpulist_range_text(const struct cpulist_range *r, char *item,
				 size_t len);

long cpulist_resolve(const struct cpulist *list, const cpu_set_t *online,
		     size_t setsize, cpu_set_t *set, char *absent, size_t len)
{
	unsigned *cpus = NULL;
	size_t n = 0, used = 0;
	long missing = 0;

	if (len)
		absent[0] = '\0';
	if (cpulist_is_relative(list)) {
		size_t count = (size_t)CPU_COUNT_S(setsize, online);

		cpus = malloc((count ? count : 1) * sizeof(*cpus));
		if (!cpus)
			return -1;
		for (size_t cpu = 0; cpu < setsize * 8 && n < count; cpu++)
			if (CPU_ISSET_S(cpu, setsize, online))
				cpus[n++] = (unsigned)cpu;
	}
	for (size_t i = 0; i < list->count; i++) {
		const struct cpulist_range *r = &list->ranges[i];
		char item[64];
		size_t width;

		if (!cpulist_range_is_relative(r)) {
			cpulist_range_to_set(r, set, setsize);
			continue;
		}
		if (cpulist_resolve_range(r, cpus, n, set, setsize))
			continue;
		item[0] = ',';
		width = cpulist_range_text(r, item + 1, sizeof(item) - 1);
		if (len && used + width + (missing != 0) < len)
			memcpy(absent + used, item + (missing == 0),
			       width + (missing != 0) + 1);
		else
			len = 0; /* too small: stop writing */
		used += width + (missing != 0);
		missing++;
	}
	free(cpus);
	return missing;
}

/* Writes value in decimal at item; returns its length. No stdio: the shim
 * formats CPU sets on the program's threads, and vfprintf's own buffers
 * would take more of their stack than the shim may. */
static size_t cpulist_decimal(char *item, size_t value)
{
	char digits[24];
	size_t at = sizeof(digits), length;

	do {
		digits[--at] = (char)('0' + value % 10);
		value /= 10;
	} while (value);
	length = sizeof(digits) - at;
	memcpy(item, digits + at, length);
	return length;
}

size_t cpulist_format(const cpu_set_t *set, size_t setsize, char *buf,
		      size_t len)
{
	size_t used = 0;
	size_t bits = setsize * 8;
	/* Words through a pointer, as glibc's CPU_*_S macros take them: the
	 * set is wider than cpu_set_t's 16 words, and indexing its array
	 * past them is undefined (UBSan's bounds check says so). */
	const __cpu_mask *words = set->__bits;

	if (len)
		buf[0] = '\0';
	for (size_t n = 0; n < bits; n++) {
		size_t end = n, width = 0;
		char item[48];

		/* Skip empty words whole: a set may be 8192 CPUs wide. */
		if (n % __NCPUBITS == 0 && words[n / __NCPUBITS] == 0) {
			n += __NCPUBITS - 1;
			continue;
		}
		if (!CPU_ISSET_S(n, setsize, set))
			continue;
		while (end + 1 < bits && CPU_ISSET_S(end + 1, setsize, set))
			end++;
		if (used)
			item[width++] = ',';
		width += cpulist_decimal(item + width, n);
		if (end != n) {
			item[width++] = '-';
			width += cpulist_decimal(item + width, end);
		}
		item[width] = '\0';
		if (len && used + width < len)
			memcpy(buf + used, item, width + 1);
		else if (len)
			len = 0; /* too small: stop writing, keep counting */
		used += width;
		n = end;
	}
	return used;
}

/* One end of a range as written: "7", "last", "last-2". */
static int cpulist_end_text(unsigned value, bool last, char *buf, size_t len)
{
	if (!last)
		return snprintf(buf, len, "%u", value);
	return value ? snprintf(buf, len, "last-%u", value)
		     : snprintf(buf, len, "last");
}

/* One item as written into item (len bytes, enough for any); its length. */
static size_t cpulist_range_text(const struct cpulist_range *r, char *item,
				 size_t len)
{
	int width =
		cpulist_end_text(r->lo, r->flags & CPULIST_LO_LAST, item, len);
	bool single = cpulist_range_is_relative(r) ? !(r->flags & CPULIST_SPAN)
						   : r->lo == r->hi;

	if (single)
		return (size_t)width;
	/* "last-12" is a count: a range from the last CPU to CPU 12 is
	 * written "last-0-12". */
	if ((r->flags & CPULIST_LO_LAST) && r->lo == 0 &&
	    !(r->flags & CPULIST_HI_LAST))
		width += snprintf(item + width, len - (size_t)width, "-0");
	item[width++] = '-';
	width += cpulist_end_text(r->hi, r->flags & CPULIST_HI_LAST,
				  item + width, len - (size_t)width);
	if (r->stride != 1)
		width += snprintf(item + width, len - (size_t)width, ":%u",
				  r->stride);
	return (size_t)width;
}

size_t cpulist_format_ranges(const struct cpulist *list, char *buf, size_t len)
{
	size_t used = 0;

	if (len)
		buf[0] = '\0';
	for (size_t i = 0; i < list->count; i++) {
		char item[64];
		size_t width;

		item[0] = ',';
		width = cpulist_range_text(&list->ranges[i], item + 1,
					   sizeof(item) - 1) +
			(i != 0);
		if (len && used + width < len)
			memcpy(buf + used, item + (i == 0), width + 1);
		else if (len)
			len = 0; /* too small: stop writing, keep counting */
		used += width;
	}
	return used;
}

int cpulist_read_online(cpu_set_t *set, size_t setsize)
{
	char text[4096];
	struct cpulist list;
	FILE *file;
	size_t got = 0;

	CPU_ZERO_S(setsize, set);
	file = fopen("/sys/devices/system/cpu/online", "re");
	if (file) {
		got = fread(text, 1, sizeof(text) - 1, file);
		fclose(file);
	}
	text[got] = '\0';
	text[strcspn(text, "\n")] = '\0';
	if (got && cpulist_parse(text, CPULIST_MAX_CPU, &list, NULL) == 0) {
		cpulist_to_set(&list, set, setsize);
		cpulist_free(&list);
		return 0;
	}
	long count = sysconf(_SC_NPROCESSORS_ONLN);

	if (count < 1) {
		errno = ENOENT;
		return -1;
	}
	for (long n = 0; n < count && (size_t)n < setsize * 8; n++)
		CPU_SET_S((size_t)n, setsize, set);
	return 0;
}
