/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "alloc.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

/* Counts down to the allocation that must fail; 0 means disarmed.  Atomic
 * because allocations happen on every thread that calls the API. */
static atomic_ulong fault_countdown;
static atomic_ulong fault_seen;

static bool inject_failure(void)
{
	atomic_fetch_add_explicit(&fault_seen, 1, memory_order_relaxed);
	unsigned long left = atomic_load_explicit(&fault_countdown,
						  memory_order_relaxed);
	while (left != 0) {
		if (atomic_compare_exchange_weak(&fault_countdown, &left,
						 left - 1))
			return left == 1;
	}
	return false;
}

void vev__fault_alloc_arm(unsigned long k)
{
	atomic_store(&fault_seen, 0);
	atomic_store(&fault_countdown, k);
}

unsigned long vev__fault_alloc_count(void)
{
	return atomic_load(&fault_seen);
}

void *vev__malloc(size_t size)
{
	return inject_failure() ? NULL : malloc(size);
}

void *vev__calloc(size_t n, size_t size)
{
	return inject_failure() ? NULL : calloc(n, size);
}

void *vev__reallocarray(void *ptr, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		return NULL;
	return inject_failure() ? NULL : realloc(ptr, n * size);
}

void vev__free(void *ptr)
{
	free(ptr);
}
