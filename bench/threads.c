/*
 * The measured program of the placement benchmark: pins its main thread to
 * CPU 0, then creates and joins COUNT threads one after the other, and
 * prints how long that loop took (CLOCK_MONOTONIC, so process start-up and
 * the shim's load are not in the figure). Plain, it places nothing and the
 * threads inherit CPU 0; with --place it places each thread on CPU 1 itself
 * with pthread_attr_setaffinity_np, the kernel's own price of placing. Run
 * plain under klipper-pin, the shim does the placing. With --log FILE too,
 * each thread also does what logging a placement takes, by hand, with the
 * shim's system calls: it reads its CPUs and its policy, priority and nice
 * value back from the kernel, checks the file is still the one it opened
 * and appends one line: the floor of a placement that is logged.
 *
 * usage: threads [--place [--log FILE]] COUNT
 *        threads --probe        exit 0 when CPUs 0 and 1 are both usable
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

/* Untimed threads first, so that glibc's stack cache, the page tables and
 * the shim's address cache are warm before the clock starts. */
#define THREADS_WARMUP 200

/* The log file of --log, and its identity when opened; -1 without. */
static int threads_log_fd = -1;
static struct stat threads_log_opened;

/* The kernel's struct sched_attr, first version. */
struct threads_sched_attr {
	uint32_t size, policy;
	uint64_t flags;
	int32_t nice;
	uint32_t priority;
	uint64_t runtime, deadline, period;
};

/* What a logged placement costs beyond the placing itself, without the
 * shim: the same system calls as the shim's (the CPUs read back, policy,
 * priority and nice in one sched_getattr, the file checked to be the one
 * opened, one appended line of about the length of the shim's); the tid
 * and the name known without asking, as the shim knows them. */
static void threads_log_placement(void)
{
	struct threads_sched_attr attr = { .size = sizeof(attr) };
	struct timespec now;
	struct stat current;
	char line[256];
	cpu_set_t cpus;
	clockid_t clock;
	int length;
	pid_t tid = 0;

	if (pthread_getcpuclockid(pthread_self(), &clock) == 0)
		tid = (pid_t)~(clock >> 3);
	CPU_ZERO(&cpus);
	sched_getaffinity(0, sizeof(cpus), &cpus);
	syscall(SYS_sched_getattr, 0, &attr, sizeof(attr), 0);
	clock_gettime(CLOCK_REALTIME, &now);
	if (fstat(threads_log_fd, &current) != 0 ||
	    current.st_ino != threads_log_opened.st_ino ||
	    current.st_dev != threads_log_opened.st_dev)
		return;
	length = snprintf(line, sizeof(line),
			  "threads: time=%lld.%06ld pid=%d tid=%d "
			  "event=thread name=threads want=1 cpus=%s policy=%u "
			  "priority=%u nice=%d result=ok\n",
			  (long long)now.tv_sec, now.tv_nsec / 1000,
			  (int)getpid(), (int)tid,
			  CPU_ISSET(1, &cpus) ? "1" : "?", attr.policy,
			  attr.priority, attr.nice);
	if (length > 0 && write(threads_log_fd, line, (size_t)length) < 0)
		perror("threads: log");
}

/* The CPU the thread ran on, plus one (NULL would be CPU "-1"). With rseq,
 * as glibc 2.35+ registers it, sched_getcpu is a load, not a syscall. */
static void *threads_start(void *arg)
{
	(void)arg;
	if (threads_log_fd >= 0)
		threads_log_placement();
	return (void *)(intptr_t)(sched_getcpu() + 1);
}

static int threads_pin_self(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

/* Creates and joins count threads; returns how many ran on CPU 1, or -1
 * after saying what failed. */
static long threads_loop(long count, const pthread_attr_t *attr)
{
	long on_cpu1 = 0;

	for (long i = 0; i < count; i++) {
		pthread_t thread;
		void *cpu;
		int error = pthread_create(&thread, attr, threads_start, NULL);

		if (error == 0)
			error = pthread_join(thread, &cpu);
		if (error != 0) {
			fprintf(stderr, "threads: thread %ld: %s\n", i + 1,
				strerror(error));
			return -1;
		}
		if ((intptr_t)cpu == 2)
			on_cpu1++;
	}
	return on_cpu1;
}

static int threads_probe(void)
{
	if (threads_pin_self(1) != 0 || sched_getcpu() != 1)
		return 1;
	if (threads_pin_self(0) != 0 || sched_getcpu() != 0)
		return 1;
	return 0;
}

int main(int argc, char **argv)
{
	pthread_attr_t placed, *attr = NULL;
	struct timespec start, end;
	bool place = false;
	long count, on_cpu1;
	char *end_of_count;

	if (argc == 2 && strcmp(argv[1], "--probe") == 0)
		return threads_probe();
	if (argc >= 3 && strcmp(argv[1], "--place") == 0) {
		place = true;
		argv++;
		argc--;
	}
	if (place && argc == 4 && strcmp(argv[1], "--log") == 0) {
		threads_log_fd = open(argv[2],
				      O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
				      0640);
		if (threads_log_fd < 0 ||
		    fstat(threads_log_fd, &threads_log_opened) != 0) {
			fprintf(stderr, "threads: %s: %s\n", argv[2],
				strerror(errno));
			return 1;
		}
		argv += 2;
		argc -= 2;
	}
	if (argc != 2) {
		fputs("usage: threads [--place [--log FILE]] COUNT\n"
		      "       threads --probe\n",
		      stderr);
		return 2;
	}
	count = strtol(argv[1], &end_of_count, 10);
	if (*end_of_count || count < 1) {
		fprintf(stderr, "threads: bad COUNT '%s'\n", argv[1]);
		return 2;
	}
	if (threads_pin_self(0) != 0) {
		fprintf(stderr, "threads: cannot pin to CPU 0: %s\n",
			strerror(errno));
		return 1;
	}
	if (place) {
		/* One attr made once: the floor is the kernel's price, not
		 * the cost of building an attr. */
		cpu_set_t set;
		int error = pthread_attr_init(&placed);

		CPU_ZERO(&set);
		CPU_SET(1, &set);
		if (error == 0)
			error = pthread_attr_setaffinity_np(&placed,
							    sizeof(set), &set);
		if (error != 0) {
			fprintf(stderr, "threads: cannot make the attr: %s\n",
				strerror(error));
			return 1;
		}
		attr = &placed;
	}

	if (threads_loop(THREADS_WARMUP, attr) < 0)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &start);
	on_cpu1 = threads_loop(count, attr);
	clock_gettime(CLOCK_MONOTONIC, &end);
	if (on_cpu1 < 0)
		return 1;

	printf("threads=%ld ns=%lld on_cpu1=%ld\n", count,
	       (long long)(end.tv_sec - start.tv_sec) * 1000000000LL +
		   (end.tv_nsec - start.tv_nsec),
	       on_cpu1);
	if (place)
		pthread_attr_destroy(&placed);
	return 0;
}
