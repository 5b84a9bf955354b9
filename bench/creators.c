/*
 * The concurrent-creation benchmark's program: CREATORS threads each
 * create and join COUNT threads, 25 at a time, all at once; prints
 * "creators=C threads=N ns=T" with the wall time of the whole.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static long creators_each;

static void *creators_leaf(void *arg)
{
	return arg;
}

static void *creators_creator(void *arg)
{
	pthread_t batch[25];

	for (long done = 0; done < creators_each; done += 25) {
		long n = creators_each - done < 25 ? creators_each - done : 25;

		for (long i = 0; i < n; i++)
			while (pthread_create(&batch[i], NULL, creators_leaf,
					      NULL) == EAGAIN)
				usleep(100);
		for (long i = 0; i < n; i++)
			pthread_join(batch[i], NULL);
	}
	return arg;
}

int main(int argc, char **argv)
{
	struct timespec start, end;
	pthread_t *creators;
	long count;

	if (argc != 3 || (count = atol(argv[1])) <= 0 ||
	    (creators_each = atol(argv[2])) <= 0) {
		fprintf(stderr, "usage: creators CREATORS COUNT\n");
		return 2;
	}
	creators = calloc((size_t)count, sizeof(*creators));
	if (!creators)
		return 1;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (long i = 0; i < count; i++)
		if (pthread_create(&creators[i], NULL, creators_creator, NULL))
			return 1;
	for (long i = 0; i < count; i++)
		pthread_join(creators[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &end);
	printf("creators=%ld threads=%ld ns=%lld\n", count,
	       count * creators_each,
	       (long long)(end.tv_sec - start.tv_sec) * 1000000000LL +
		       (end.tv_nsec - start.tv_nsec));
	free(creators);
	return 0;
}
