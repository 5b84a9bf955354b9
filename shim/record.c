/*
 * The placement table's writer, in the shim (see record.h).
 */
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "record.h"

static struct record_table *record_table;
static int record_fd = -1;

void record_open(pid_t pid, const char *config, const cpu_set_t *children,
		 size_t setsize)
{
	int fd = memfd_create(RECORD_NAME, MFD_CLOEXEC);
	void *table;

	if (fd < 0)
		return;
	/* Out of the low numbers a program might close and reuse. */
	int high = fcntl(fd, F_DUPFD_CLOEXEC, 100);

	if (high >= 0) {
		close(fd);
		fd = high;
	}
	if (ftruncate(fd, sizeof(struct record_table)) != 0) {
		close(fd);
		return;
	}
	table = mmap(NULL, sizeof(struct record_table), PROT_READ | PROT_WRITE,
		     MAP_SHARED, fd, 0);
	if (table == MAP_FAILED) {
		close(fd);
		return;
	}
	record_table = table;
	record_fd = fd;
	record_table->pid = pid;
	record_table->slot_count = RECORD_SLOTS;
	if (config)
		strncpy(record_table->config, config,
			sizeof(record_table->config) - 1);
	if (children) {
		size_t bytes = setsize < RECORD_MASK_BYTES ? setsize
							   : RECORD_MASK_BYTES;

		memcpy(record_table->children, children, bytes);
		record_table->children_bytes = (uint32_t)bytes;
	}
	/* Last: a reader that sees the magic sees the rest. */
	atomic_thread_fence(memory_order_release);
	record_table->magic = RECORD_MAGIC;
}

/* A free slot, searched from where tid hashes to; -1 when all are used. */
static int record_claim(pid_t tid)
{
	unsigned start = (unsigned)tid % RECORD_SLOTS;

	for (unsigned i = 0; i < RECORD_SLOTS; i++) {
		struct record_slot *slot =
			&record_table->slots[(start + i) % RECORD_SLOTS];
		int32_t free_slot = 0;

		if (atomic_compare_exchange_strong(&slot->tid, &free_slot, tid))
			return (int)((start + i) % RECORD_SLOTS);
	}
	return -1;
}

/* Copies text into a field of len bytes, cut, NUL-terminated. */
static void record_text(char *field, size_t len, const char *text)
{
	size_t used = text ? strnlen(text, len - 1) : 0;

	memcpy(field, text ? text : "", used);
	memset(field + used, 0, len - used);
}

void record_placement(int *slot_index, pid_t tid, const char *event,
		      unsigned long long seq, const char *rule,
		      const cpu_set_t *want, size_t setsize, const char *result)
{
	struct record_slot *slot;

	if (!record_table)
		return;
	if (*slot_index < 0)
		*slot_index = record_claim(tid);
	if (*slot_index < 0)
		return;
	slot = &record_table->slots[*slot_index];
	atomic_fetch_add_explicit(&slot->sequence, 1, memory_order_acq_rel);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&slot->tid, tid, memory_order_relaxed);
	slot->seq = seq;
	record_text(slot->event, sizeof(slot->event), event);
	record_text(slot->rule, sizeof(slot->rule), rule);
	record_text(slot->result, sizeof(slot->result), result);
	slot->want_bytes = 0;
	if (want && setsize <= RECORD_MASK_BYTES) {
		memcpy(slot->want, want, setsize);
		slot->want_bytes = (uint32_t)setsize;
	}
	atomic_fetch_add_explicit(&slot->sequence, 1, memory_order_release);
}

void record_release(int slot_index)
{
	if (!record_table || slot_index < 0)
		return;
	struct record_slot *slot = &record_table->slots[slot_index];

	atomic_fetch_add_explicit(&slot->sequence, 1, memory_order_acq_rel);
	atomic_store_explicit(&slot->tid, 0, memory_order_release);
	atomic_fetch_add_explicit(&slot->sequence, 1, memory_order_release);
}

void record_forget(void)
{
	if (!record_table)
		return;
	munmap(record_table, sizeof(struct record_table));
	close(record_fd);
	record_table = NULL;
	record_fd = -1;
}
