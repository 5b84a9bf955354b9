/*
 * The dladdr cache: a fixed table filled once per distinct address, read
 * without locks. A slot is claimed with an atomic counter, filled, then
 * published by storing its address last; readers see only published slots.
 */
#include "lookup.h"

#include <dlfcn.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define LOOKUP_SLOTS 256

struct lookup_slot {
	_Atomic uintptr_t address;
	const char *library;
	const char *symbol;
};

static struct lookup_slot lookup_slots[LOOKUP_SLOTS];
static atomic_size_t lookup_claimed;

static const char *lookup_basename(const char *path)
{
	const char *slash = path ? strrchr(path, '/') : NULL;

	return slash ? slash + 1 : path;
}

void shim_lookup(const void *address, const char **library, const char **symbol)
{
	uintptr_t key = (uintptr_t)address;
	size_t claimed =
		atomic_load_explicit(&lookup_claimed, memory_order_acquire);
	Dl_info info;

	if (claimed > LOOKUP_SLOTS)
		claimed = LOOKUP_SLOTS;
	for (size_t i = 0; i < claimed; i++)
		if (atomic_load_explicit(&lookup_slots[i].address,
					 memory_order_acquire) == key) {
			*library = lookup_slots[i].library;
			*symbol = lookup_slots[i].symbol;
			return;
		}

	*library = NULL;
	*symbol = NULL;
	if (key == 0 || dladdr(address, &info) == 0)
		return;
	*library = lookup_basename(info.dli_fname);
	*symbol = info.dli_sname;

	/* Keep copies: the loader's strings go when an object is closed. */
	size_t slot = atomic_fetch_add_explicit(&lookup_claimed, 1,
						memory_order_acq_rel);
	if (slot >= LOOKUP_SLOTS)
		return;
	const char *library_copy = *library ? strdup(*library) : NULL;
	const char *symbol_copy = *symbol ? strdup(*symbol) : NULL;

	if ((*library && !library_copy) || (*symbol && !symbol_copy)) {
		free((void *)library_copy);
		free((void *)symbol_copy);
		return; /* the slot stays unpublished */
	}
	lookup_slots[slot].library = library_copy;
	lookup_slots[slot].symbol = symbol_copy;
	atomic_store_explicit(&lookup_slots[slot].address, key,
			      memory_order_release);
	*library = library_copy;
	*symbol = symbol_copy;
}
