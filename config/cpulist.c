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

static enum cpulist_error cpulist_item(const char **p, unsigned max,
				       struct cpulist_range *range)
{
	enum cpulist_error error;

	*p = cpulist_skip_space(*p);
	error = cpulist_number(p, max, &range->lo);
	if (error)
		return error;
	range->hi = range->lo;
	range->stride = 1;
	if (**p == '-') {
		const char *hi_at = ++*p;

		error = cpulist_number(p, max, &range->hi);
		if (error)
			return error == CPULIST_EMPTY ? CPULIST_SYNTAX : error;
		if (range->hi < range->lo) {
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

	list->ranges = NULL;
	list->count = 0;
	if (*cpulist_skip_space(p) == '\0') {
		error = CPULIST_EMPTY;
		goto fail;
	}
	for (;;) {
		struct cpulist_range range;

		error = cpulist_item(&p, max, &range);
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

static bool cpulist_range_contains(const struct cpulist_range *r, unsigned n)
{
	return n >= r->lo && n <= r->hi && (n - r->lo) % r->stride == 0;
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
	size_t count = 0;

	for (size_t i = 0; i < list->count; i++)
		if (list->ranges[i].hi > top)
			top = list->ranges[i].hi;
	if (list->count == 0)
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

void cpulist_to_set(const struct cpulist *list, cpu_set_t *set, size_t setsize)
{
	for (size_t i = 0; i < list->count; i++) {
		const struct cpulist_range *r = &list->ranges[i];

		/* Wide enough not to wrap past hi on 32-bit, and stopped at
		 * the set's end: an index list may run to 4000000000. */
		for (unsigned long long n = r->lo;
		     n <= r->hi && n < (unsigned long long)setsize * 8;
		     n += r->stride)
			CPU_SET_S((size_t)n, setsize, set);
	}
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

size_t cpulist_format_ranges(const struct cpulist *list, char *buf, size_t len)
{
	size_t used = 0;

	if (len)
		buf[0] = '\0';
	for (size_t i = 0; i < list->count; i++) {
		const struct cpulist_range *r = &list->ranges[i];
		char item[48];
		int width;

		if (r->lo == r->hi)
			width = snprintf(item, sizeof(item), "%s%u",
					 i ? "," : "", r->lo);
		else if (r->stride == 1)
			width = snprintf(item, sizeof(item), "%s%u-%u",
					 i ? "," : "", r->lo, r->hi);
		else
			width = snprintf(item, sizeof(item), "%s%u-%u:%u",
					 i ? "," : "", r->lo, r->hi, r->stride);
		if (len && used + (size_t)width < len)
			memcpy(buf + used, item, (size_t)width + 1);
		else if (len)
			len = 0; /* too small: stop writing, keep counting */
		used += (size_t)width;
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
