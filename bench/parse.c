/*
 * The config-parsing benchmark: for each count of rules given, writes a
 * config of that many [thread NAME] sections (each with a match_name
 * and a cpus key) into a file in DIR, then times plan_load_file on it
 * ROUNDS times (after one untimed round), and plan_resolve of the loaded
 * plan against CPUs 0-1 (what `klipper-pin check` does before printing),
 * with CLOCK_MONOTONIC. A round of a small config loads it as many times
 * as makes 20,000 rules, and takes the mean.
 * Prints the median of each in milliseconds, one line per count:
 *
 *   rules=N bytes=B load_ms=X resolve_ms=Y
 *
 * usage: parse DIR ROUNDS RULES...   (bench/run builds it with config/)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "plan.h"

static double parse_now_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)now.tv_sec * 1e3 + (double)now.tv_nsec / 1e6;
}

static int parse_compare(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double parse_median(double *samples, int count)
{
	qsort(samples, (size_t)count, sizeof(*samples), parse_compare);
	if (count % 2)
		return samples[count / 2];
	return (samples[count / 2 - 1] + samples[count / 2]) / 2;
}

/* The config of rules rules at path; its size in bytes, or -1. */
static long parse_write_config(const char *path, long rules)
{
	FILE *file = fopen(path, "w");
	long bytes;

	if (!file)
		return -1;
	fprintf(file, "[klipper-pin]\nlog: none\n\n[main]\ncpus: 0\n\n"
		      "[children]\ncpus: 1\n");
	for (long i = 0; i < rules; i++)
		fprintf(file,
			"\n[thread rule-%ld]\nmatch_name: worker-%ld-*|"
			"helper-%ld\ncpus: %ld\n",
			i, i, i, i % 2);
	bytes = ftell(file);
	if (fclose(file) != 0)
		return -1;
	return bytes;
}

/* Each round loads at least this many rules in all. */
#define PARSE_ROUND_RULES 20000

/* Loads and resolves the config at path once, adding the milliseconds each
 * took to *load and *resolve; 0, or -1 when either fails. */
static int parse_time(const char *path, const cpu_set_t *online, double *load,
		      double *resolve)
{
	struct plan plan;
	struct plan_error error;
	double start;

	memset(&error, 0, sizeof(error));
	start = parse_now_ms();
	if (plan_load_file(&plan, path, &error))
		goto fail;
	*load += parse_now_ms() - start;
	start = parse_now_ms();
	if (plan_resolve(&plan, online, CPULIST_SETSIZE, &error)) {
		plan_free(&plan);
		goto fail;
	}
	*resolve += parse_now_ms() - start;
	plan_free(&plan);
	return 0;
fail:
	fprintf(stderr, "parse: %s:%d: %s\n", error.file, error.line,
		error.message);
	return -1;
}

int main(int argc, char **argv)
{
	cpu_set_t *online = CPU_ALLOC(CPULIST_MAX_CPU + 1);
	char path[4096];
	int rounds;

	if (argc < 4 || (rounds = atoi(argv[2])) < 1) {
		fprintf(stderr, "usage: parse DIR ROUNDS RULES...\n");
		return 2;
	}
	if (!online)
		return 1;
	CPU_ZERO_S(CPULIST_SETSIZE, online);
	CPU_SET_S(0, CPULIST_SETSIZE, online);
	CPU_SET_S(1, CPULIST_SETSIZE, online);
	double *load = calloc((size_t)rounds, sizeof(double));
	double *resolve = calloc((size_t)rounds, sizeof(double));

	if (!load || !resolve)
		return 1;
	for (int arg = 3; arg < argc; arg++) {
		long rules = atol(argv[arg]), bytes;

		snprintf(path, sizeof(path), "%s/rules-%ld.conf", argv[1],
			 rules);
		bytes = parse_write_config(path, rules);
		if (bytes < 0) {
			perror(path);
			return 1;
		}
		/* Round -1 warms the page cache and malloc; it is not timed.
		 * A small config is loaded over and over in a round, as many
		 * rules as a big one, so that no round is too short to time. */
		long repeat = rules < PARSE_ROUND_RULES
				      ? PARSE_ROUND_RULES / (rules ? rules : 1)
				      : 1;

		for (int round = -1; round < rounds; round++) {
			double loading = 0, resolving = 0;

			for (long i = 0; i < repeat; i++)
				if (parse_time(path, online, &loading,
					       &resolving))
					return 1;
			if (round >= 0) {
				load[round] = loading / (double)repeat;
				resolve[round] = resolving / (double)repeat;
			}
		}
		printf("rules=%ld bytes=%ld load_ms=%.3f resolve_ms=%.3f\n",
		       rules, bytes, parse_median(load, rounds),
		       parse_median(resolve, rounds));
		fflush(stdout);
	}
	free(load);
	free(resolve);
	CPU_FREE(online);
	return 0;
}
