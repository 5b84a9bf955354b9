/*
 * The start-up benchmark's timer: runs two commands RUNS times each, in
 * alternating batches of BATCH (A's batch, then B's), each by posix_spawnp
 * with stdin, stdout and stderr on /dev/null, timing spawn to reaped exit
 * with CLOCK_MONOTONIC. Prints the median, 10th and 90th percentiles of
 * each in microseconds. A few untimed runs of each go first, so that both
 * start from a warm page cache.
 *
 * usage: spawn RUNS BATCH COMMAND_A [ARG...] :: COMMAND_B [ARG...]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SPAWN_WARMUP 5

extern char **environ;

static posix_spawn_file_actions_t spawn_quiet;

static int spawn_compare(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* The value at fraction q of the sorted samples, interpolated between
 * neighbours: at 0.5, the middle one, or the mean of the two middle ones. */
static double spawn_quantile(const double *sorted, long count, double q)
{
	double at = q * (double)(count - 1);
	long below = (long)at;

	if (below + 1 >= count)
		return sorted[count - 1];
	return sorted[below] +
	       (at - (double)below) * (sorted[below + 1] - sorted[below]);
}

/* Runs command once; its time in microseconds, or -1 after saying why. */
static double spawn_once(char **command)
{
	struct timespec start, end;
	pid_t pid;
	int status, error;

	clock_gettime(CLOCK_MONOTONIC, &start);
	error = posix_spawnp(&pid, command[0], &spawn_quiet, NULL, command,
			     environ);
	if (error != 0) {
		fprintf(stderr, "spawn: cannot run '%s': %s\n", command[0],
			strerror(error));
		return -1;
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			fprintf(stderr, "spawn: waitpid: %s\n",
				strerror(errno));
			return -1;
		}
	clock_gettime(CLOCK_MONOTONIC, &end);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "spawn: '%s' failed (status %#x)\n", command[0],
			(unsigned)status);
		return -1;
	}
	return (double)(end.tv_sec - start.tv_sec) * 1e6 +
	       (double)(end.tv_nsec - start.tv_nsec) / 1e3;
}

static void spawn_report(const char *label, double *samples, long count)
{
	qsort(samples, (size_t)count, sizeof(*samples), spawn_compare);
	printf("%s_median_us=%.1f %s_p10_us=%.1f %s_p90_us=%.1f\n", label,
	       spawn_quantile(samples, count, 0.5), label,
	       spawn_quantile(samples, count, 0.1), label,
	       spawn_quantile(samples, count, 0.9));
}

int main(int argc, char **argv)
{
	char **commands[2];
	double *samples[2];
	long runs, batch, done = 0;
	int split = 0;

	for (int i = 4; i < argc - 1; i++)
		if (strcmp(argv[i], "::") == 0) {
			split = i;
			break;
		}
	if (argc < 6 || !split) {
		fputs("usage: spawn RUNS BATCH COMMAND_A [ARG...] :: "
		      "COMMAND_B [ARG...]\n",
		      stderr);
		return 2;
	}
	runs = strtol(argv[1], NULL, 10);
	batch = strtol(argv[2], NULL, 10);
	if (runs < 1 || batch < 1) {
		fputs("spawn: RUNS and BATCH must be positive\n", stderr);
		return 2;
	}
	argv[split] = NULL;
	commands[0] = argv + 3;
	commands[1] = argv + split + 1;
	samples[0] = calloc((size_t)runs, sizeof(double));
	samples[1] = calloc((size_t)runs, sizeof(double));
	if (!samples[0] || !samples[1] ||
	    posix_spawn_file_actions_init(&spawn_quiet) != 0 ||
	    posix_spawn_file_actions_addopen(&spawn_quiet, 0, "/dev/null",
					     O_RDONLY, 0) != 0 ||
	    posix_spawn_file_actions_addopen(&spawn_quiet, 1, "/dev/null",
					     O_WRONLY, 0) != 0 ||
	    posix_spawn_file_actions_addopen(&spawn_quiet, 2, "/dev/null",
					     O_WRONLY, 0) != 0) {
		fputs("spawn: out of memory\n", stderr);
		return 1;
	}

	for (int i = 0; i < SPAWN_WARMUP; i++)
		for (int which = 0; which < 2; which++)
			if (spawn_once(commands[which]) < 0)
				return 1;
	while (done < runs) {
		long n = runs - done < batch ? runs - done : batch;

		for (int which = 0; which < 2; which++)
			for (long i = 0; i < n; i++) {
				double us = spawn_once(commands[which]);

				if (us < 0)
					return 1;
				samples[which][done + i] = us;
			}
		done += n;
	}
	spawn_report("a", samples[0], runs);
	spawn_report("b", samples[1], runs);
	return 0;
}
