/*
 * klippy-demo: a stand-in for klippy's thread layout, to try a plan on any
 * machine. The main thread plays the reactor; it starts a serial thread
 * per MCU ("serialq mcu"), a step thread per stepper ("stepper_x", ...),
 * a response reader ("serialhdl mcu") and an unnamed log writer, each of
 * which names itself with prctl(PR_SET_NAME) as it starts, as current
 * Klipper does. Once all run, it prints where each thread ended up, as
 * the kernel reports it in /proc.
 */
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

struct demo_thread {
	const char *name; /* NULL: keeps the name it inherits */
	pthread_t handle;
};

static struct demo_thread demo_threads[] = {
	{ "serialq mcu", 0 },   { "stepper_x", 0 }, { "stepper_y", 0 },
	{ "extruder", 0 },      { "serialhdl mcu", 0 },
	{ NULL, 0 }, /* the log writer */
};
#define DEMO_COUNT (sizeof(demo_threads) / sizeof(demo_threads[0]))

static pthread_barrier_t demo_started, demo_reported;

static void demo_busy(long microseconds)
{
	struct timespec start, now;

	clock_gettime(CLOCK_MONOTONIC, &start);
	do
		clock_gettime(CLOCK_MONOTONIC, &now);
	while ((now.tv_sec - start.tv_sec) * 1000000L +
		       (now.tv_nsec - start.tv_nsec) / 1000 <
	       microseconds);
}

static void *demo_run(void *opaque)
{
	const struct demo_thread *self = opaque;

	if (self->name)
		prctl(PR_SET_NAME, (unsigned long)self->name, 0, 0, 0);
	demo_busy(2000); /* a little work, as a step burst would be */
	pthread_barrier_wait(&demo_started);
	pthread_barrier_wait(&demo_reported);
	return NULL;
}

/* One line of /proc/self/task/TID/status, by its key. */
static void demo_status(const char *tid, const char *key, char *value,
			size_t len)
{
	char path[64], line[512];
	FILE *file;

	snprintf(value, len, "?");
	snprintf(path, sizeof(path), "/proc/self/task/%s/status", tid);
	file = fopen(path, "re");
	if (!file)
		return;
	while (fgets(line, sizeof(line), file))
		if (strncmp(line, key, strlen(key)) == 0 &&
		    line[strlen(key)] == ':') {
			char *text = line + strlen(key) + 1;

			text += strspn(text, " \t");
			text[strcspn(text, "\n")] = '\0';
			snprintf(value, len, "%s", text);
			break;
		}
	fclose(file);
}

static void demo_report(void)
{
	DIR *tasks = opendir("/proc/self/task");
	struct dirent *entry;

	if (!tasks)
		return;
	printf("\nwhere each thread runs (from /proc/self/task):\n");
	printf("  %-8s %-16s %s\n", "tid", "name", "cpus");
	while ((entry = readdir(tasks))) {
		char name[64], cpus[256];

		if (entry->d_name[0] == '.')
			continue;
		demo_status(entry->d_name, "Name", name, sizeof(name));
		demo_status(entry->d_name, "Cpus_allowed_list", cpus,
			    sizeof(cpus));
		printf("  %-8s %-16s %s\n", entry->d_name, name, cpus);
	}
	closedir(tasks);
	fflush(stdout);
}

int main(void)
{
	pthread_barrier_init(&demo_started, NULL, DEMO_COUNT + 1);
	pthread_barrier_init(&demo_reported, NULL, DEMO_COUNT + 1);
	for (size_t i = 0; i < DEMO_COUNT; i++)
		if (pthread_create(&demo_threads[i].handle, NULL, demo_run,
				   &demo_threads[i]) != 0) {
			fprintf(stderr, "klippy-demo: cannot create a thread\n");
			return 1;
		}
	pthread_barrier_wait(&demo_started);
	demo_report();
	pthread_barrier_wait(&demo_reported);
	for (size_t i = 0; i < DEMO_COUNT; i++)
		pthread_join(demo_threads[i].handle, NULL);
	return 0;
}
