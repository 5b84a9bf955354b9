/*
 * The boot-time mode of klipper-pin-irq.service, where no irqbalance
 * keeps IRQs off the reserved CPUs: every IRQ goes to the other CPUs, the
 * kept ones (the MCU's serial device's) beside klippy. An IRQ the kernel
 * refuses to move (the timer's, a per-CPU or managed one) is skipped: it
 * is not ours to move, and the rest still are.
 */
#include "reserve.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpulist.h"

/* Writes cpus to one IRQ's smp_affinity_list; 0, or the errno. */
static int irq_write(const char *dir, const char *irq, const char *cpus)
{
	char path[PATH_MAX + 300], text[300];
	int fd, length, failure = 0;

	snprintf(path, sizeof(path), "%s/%s/smp_affinity_list", dir, irq);
	length = snprintf(text, sizeof(text), "%s\n", cpus);
	fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno;
	if (write(fd, text, (size_t)length) != length)
		failure = errno ? errno : EIO;
	if (close(fd) != 0 && !failure)
		failure = errno;
	return failure;
}

static bool irq_number(const char *name, unsigned *number)
{
	char *end;
	unsigned long value = strtoul(name, &end, 10);

	*number = (unsigned)value;
	return *name >= '0' && *name <= '9' && !*end && value <= 1000000;
}

int reserve_set_irqs(const char *root, const char *others, const char *keep,
		     const char *kept, char *problem, size_t len)
{
	struct cpulist keep_list = { 0 };
	char dir[PATH_MAX], refused[1024] = "";
	size_t moved = 0, held = 0, skipped = 0, used = 0;
	struct dirent *entry;
	DIR *listing;
	unsigned irq;

	if (keep &&
	    (cpulist_parse(keep, 1000000, &keep_list, NULL) != CPULIST_OK ||
	     cpulist_is_relative(&keep_list))) {
		snprintf(problem, len,
			 "bad --keep-irq '%s': expected IRQ "
			 "numbers",
			 keep);
		return -1;
	}
	snprintf(dir, sizeof(dir), "%s/proc/irq", root);
	listing = opendir(dir);
	if (!listing) {
		snprintf(problem, len, "cannot read %s: %s", dir,
			 strerror(errno));
		cpulist_free(&keep_list);
		return -1;
	}
	while ((entry = readdir(listing))) {
		bool keeping;
		int failure;

		if (!irq_number(entry->d_name, &irq))
			continue;
		keeping = cpulist_contains(&keep_list, irq);
		failure =
			irq_write(dir, entry->d_name, keeping ? kept : others);
		if (!failure) {
			keeping ? held++ : moved++;
			continue;
		}
		skipped++;
		if (used < sizeof(refused))
			used += (size_t)snprintf(refused + used,
						 sizeof(refused) - used,
						 "%s%u (%s)", used ? ", " : "",
						 irq, strerror(failure));
	}
	closedir(listing);
	cpulist_free(&keep_list);
	printf("moved %zu IRQs to CPUs %s", moved, others);
	if (keep)
		printf(", kept %zu on %s", held, kept);
	printf("\n");
	if (skipped)
		printf("skipped %zu the kernel refuses to move: %s\n", skipped,
		       refused);
	return 0;
}
