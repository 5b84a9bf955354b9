/*
 * Reading the placement table (see placements.h, shim/record.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cpulist.h"
#include "placements.h"
#include "proc.h"

/* The table's descriptor in /proc/PID/fd, opened; -1 with errno. */
static int placements_open(const char *root, pid_t pid)
{
	char dir[4096], link[4096], target[256];
	pid_t *fds;
	size_t count;
	int found = -1;

	if (!proc_path(dir, sizeof(dir), root, "/proc/%d/fd", (int)pid) ||
	    proc_list_ids(dir, &fds, &count) != 0)
		return -1; /* EACCES: another user's */
	for (size_t i = 0; i < count && found < 0; i++) {
		ssize_t used;

		if (!proc_path(link, sizeof(link), root, "/proc/%d/fd/%d",
			       (int)pid, (int)fds[i]))
			continue;
		used = readlink(link, target, sizeof(target) - 1);
		if (used <= 0)
			continue;
		target[used] = '\0';
		if (strncmp(target, "/memfd:" RECORD_NAME,
			    strlen("/memfd:" RECORD_NAME)) == 0)
			found = open(link, O_RDONLY | O_CLOEXEC);
	}
	free(fds);
	if (found < 0)
		errno = ENOENT;
	return found;
}

/* One slot as it was between two writes; false when it is free. */
static bool placements_read_slot(int fd, size_t index, struct record_slot *slot)
{
	off_t at = (off_t)(offsetof(struct record_table, slots) +
			   index * sizeof(*slot));
	unsigned char first[sizeof(*slot)], again[sizeof(*slot)];

	for (int tries = 0; tries < 8; tries++) {
		if (pread(fd, first, sizeof(first), at) != sizeof(first) ||
		    pread(fd, again, sizeof(again), at) != sizeof(again))
			return false;
		if (memcmp(first, again, sizeof(again)) != 0)
			continue;
		memcpy(slot, first, sizeof(first));
		if (atomic_load(&slot->sequence) % 2 == 0)
			return atomic_load(&slot->tid) != 0 &&
			       slot->event[0] != '\0';
	}
	return false; /* written all along: taken on the next look */
}

/* The header's fields, without its slots. */
static int placements_read_header(int fd, pid_t pid, struct placements *table)
{
	struct {
		uint64_t magic;
		int32_t pid;
		uint32_t slot_count;
	} head;
	uint32_t bytes;

	if (pread(fd, &head, sizeof(head), 0) != sizeof(head) ||
	    head.magic != RECORD_MAGIC || head.pid != pid ||
	    head.slot_count != RECORD_SLOTS ||
	    pread(fd, table->config, sizeof(table->config),
		  offsetof(struct record_table, config)) !=
		    (ssize_t)sizeof(table->config) ||
	    pread(fd, &bytes, sizeof(bytes),
		  offsetof(struct record_table, children_bytes)) !=
		    sizeof(bytes) ||
	    bytes > RECORD_MASK_BYTES)
		return -1;
	table->config[sizeof(table->config) - 1] = '\0';
	if (bytes == 0)
		return 0;
	table->children = CPU_ALLOC(CPULIST_MAX_CPU + 1);
	if (table->children)
		CPU_ZERO_S(CPULIST_SETSIZE, table->children);
	if (!table->children ||
	    pread(fd, table->children, bytes,
		  offsetof(struct record_table, children)) != (ssize_t)bytes)
		return -1;
	return 0;
}

int placements_read(const char *root, pid_t pid, struct placements *table)
{
	int fd = placements_open(root, pid);
	struct record_slot slot;

	memset(table, 0, sizeof(*table));
	if (fd < 0)
		return -1;
	table->slots = calloc(RECORD_SLOTS, sizeof(*table->slots));
	if (!table->slots || placements_read_header(fd, pid, table) != 0) {
		close(fd);
		placements_free(table);
		errno = ENOENT;
		return -1;
	}
	for (size_t i = 0; i < RECORD_SLOTS; i++)
		if (placements_read_slot(fd, i, &slot))
			table->slots[table->count++] = slot;
	close(fd);
	return 0;
}

const struct record_slot *placements_find(const struct placements *table,
					  pid_t tid)
{
	for (size_t i = 0; i < table->count; i++)
		if (atomic_load(&table->slots[i].tid) == tid)
			return &table->slots[i];
	return NULL;
}

void placements_free(struct placements *table)
{
	free(table->slots);
	if (table->children)
		CPU_FREE(table->children);
	memset(table, 0, sizeof(*table));
}
