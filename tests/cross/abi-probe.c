/*
 * abi-probe: what differs between the architectures klipper-pin is built
 * for, printed one "what key=value ..." line each, for tests/cross to check
 * and show: type sizes, the CPU-set size the kernel takes, the realtime
 * clock, and the kernel thread id decoded from a thread's CPU-time clock
 * id, as shim_tid_of in shim/shim.c does.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../fixtures/fixture.h"

#define PROBE_THREADS 3

struct probe_thread {
	pthread_t handle;
	pid_t tid;
};

static pthread_barrier_t probe_started, probe_done;

static void *probe_thread_run(void *opaque)
{
	struct probe_thread *self = opaque;

	self->tid = fixture_tid();
	pthread_barrier_wait(&probe_started);
	pthread_barrier_wait(&probe_done); /* alive while main decodes */
	return NULL;
}

/* The smallest set size the kernel takes, as shim_kernel_setsize finds. */
static size_t probe_setsize(void)
{
	cpu_set_t probe[8];

	for (size_t size = sizeof(unsigned long); size <= sizeof(probe);
	     size *= 2)
		if (sched_getaffinity(0, size, probe) == 0)
			return size;
	return 0;
}

static void probe_affinity(void)
{
	char cpus[256];

	fixture_cpus(cpus, sizeof(cpus));
	printf("affinity cpus=%s\n", cpus);
}

int main(void)
{
	struct probe_thread threads[PROBE_THREADS];
	struct timespec now = { 0, 0 };
	struct tm y2040 = { .tm_year = 140, .tm_mday = 1 };
	int clock_result;

	printf("size long=%zu pointer=%zu time_t=%zu timespec=%zu off_t=%zu "
	       "ino_t=%zu cpu_set_t=%zu cpu_mask=%zu pthread_t=%zu "
	       "clockid_t=%zu pthread_attr_t=%zu\n",
	       sizeof(long), sizeof(void *), sizeof(time_t),
	       sizeof(struct timespec), sizeof(off_t), sizeof(ino_t),
	       sizeof(cpu_set_t), sizeof(__cpu_mask), sizeof(pthread_t),
	       sizeof(clockid_t), sizeof(pthread_attr_t));
	printf("atomic ulong_lock_free=%d llong_lock_free=%d\n",
	       ATOMIC_LONG_LOCK_FREE, ATOMIC_LLONG_LOCK_FREE);
	printf("kernel setsize=%zu\n", probe_setsize());
	probe_affinity();
	clock_result = clock_gettime(CLOCK_REALTIME, &now);
	printf("clock result=%d realtime=%lld.%06ld\n", clock_result,
	       (long long)now.tv_sec, now.tv_nsec / 1000);
	/* 2040-01-01: past what a 32-bit time_t holds (2038-01-19). */
	printf("y2040 timegm=%lld\n", (long long)timegm(&y2040));

	pthread_barrier_init(&probe_started, NULL, PROBE_THREADS + 1);
	pthread_barrier_init(&probe_done, NULL, PROBE_THREADS + 1);
	for (int i = 0; i < PROBE_THREADS; i++)
		if (pthread_create(&threads[i].handle, NULL, probe_thread_run,
				   &threads[i]) != 0) {
			printf("tid n=%d create=failed\n", i);
			return 1;
		}
	pthread_barrier_wait(&probe_started);
	for (int i = 0; i < PROBE_THREADS; i++) {
		clockid_t clock = 0;
		struct timespec used = { 0, 0 };
		int error = pthread_getcpuclockid(threads[i].handle, &clock);
		int readable = clock_gettime(clock, &used) == 0;

		/* shim_tid_of: ~tid << 3 | CPUCLOCK_PERTHREAD | CPUCLOCK_SCHED */
		printf("tid n=%d error=%d gettid=%d clock=%d low=%d "
		       "decoded=%d readable=%d\n",
		       i, error, (int)threads[i].tid, (int)clock,
		       (int)(clock & 7), (int)~(clock >> 3), readable);
	}
	pthread_barrier_wait(&probe_done);
	for (int i = 0; i < PROBE_THREADS; i++)
		pthread_join(threads[i].handle, NULL);
	return 0;
}
