/*
 * klipper-pin probe's load: children that spin pinned to a CPU each, and
 * sibling threads busy in bursts, as probe_load.h says.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "probe_load.h"

/* A child's whole life: die with the parent, spin on its CPU. */
static void probe_load_child(pid_t parent, unsigned cpu)
{
	cpu_set_t *set = CPU_ALLOC(cpu + 1);
	size_t size = CPU_ALLOC_SIZE(cpu + 1);
	sigset_t none;
	volatile unsigned long spins = 0;

	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		_exit(1);
	/* The parent blocks SIGINT and SIGTERM to wait for them: a child
	 * must still die of them (a Ctrl-C reaches the whole group). */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGINT, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	if (!set)
		_exit(1);
	CPU_ZERO_S(size, set);
	CPU_SET_S(cpu, size, set);
	if (sched_setaffinity(0, size, set) != 0)
		_exit(1);
	for (;;)
		spins++;
}

int probe_load_start_children(struct probe_load *load, const cpu_set_t *cpus,
			      size_t setsize)
{
	pid_t parent = getpid();
	int count = cpus ? CPU_COUNT_S(setsize, cpus) : 0;

	if (count == 0)
		return 0;
	load->children = calloc((size_t)count, sizeof(load->children[0]));
	if (!load->children)
		return -1;
	for (unsigned cpu = 0; cpu < setsize * 8; cpu++) {
		pid_t child;

		if (!CPU_ISSET_S(cpu, setsize, cpus))
			continue;
		child = fork();
		if (child < 0) {
			int failure = errno;

			probe_load_stop(load);
			errno = failure;
			return -1;
		}
		if (child == 0)
			probe_load_child(parent, cpu);
		load->children[load->child_count++] = child;
	}
	return 0;
}

static void probe_load_add_ns(struct timespec *t, long ns)
{
	t->tv_nsec += ns;
	while (t->tv_nsec >= 1000000000L) {
		t->tv_nsec -= 1000000000L;
		t->tv_sec++;
	}
}

static bool probe_load_before(const struct timespec *a,
			      const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	       (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static void *probe_load_sibling(void *argument)
{
	struct probe_load *load = argument;
	const struct timespec idle = { 0, PROBE_SIBLING_IDLE_NS };

	while (!atomic_load(&load->stop)) {
		struct timespec now, end;

		clock_gettime(CLOCK_MONOTONIC, &end);
		probe_load_add_ns(&end, PROBE_SIBLING_BUSY_NS);
		do
			clock_gettime(CLOCK_MONOTONIC, &now);
		while (probe_load_before(&now, &end) &&
		       !atomic_load(&load->stop));
		nanosleep(&idle, NULL);
	}
	return NULL;
}

int probe_load_start_siblings(struct probe_load *load, size_t count)
{
	if (count == 0)
		return 0;
	atomic_store(&load->stop, false);
	load->siblings = calloc(count, sizeof(load->siblings[0]));
	if (!load->siblings)
		return ENOMEM;
	for (size_t i = 0; i < count; i++) {
		int failure = pthread_create(&load->siblings[i], NULL,
					     probe_load_sibling, load);

		if (failure) {
			probe_load_stop_siblings(load);
			return failure;
		}
		load->sibling_count++;
	}
	return 0;
}

void probe_load_stop_siblings(struct probe_load *load)
{
	atomic_store(&load->stop, true);
	for (size_t i = 0; i < load->sibling_count; i++)
		pthread_join(load->siblings[i], NULL);
	free(load->siblings);
	load->siblings = NULL;
	load->sibling_count = 0;
}

void probe_load_stop(struct probe_load *load)
{
	probe_load_stop_siblings(load);
	for (size_t i = 0; i < load->child_count; i++)
		if (load->children[i] > 0)
			kill(load->children[i], SIGKILL);
	for (size_t i = 0; i < load->child_count; i++) {
		while (load->children[i] > 0 &&
		       waitpid(load->children[i], NULL, 0) < 0 &&
		       errno == EINTR)
			;
		load->children[i] = 0;
	}
	free(load->children);
	load->children = NULL;
	load->child_count = 0;
}
