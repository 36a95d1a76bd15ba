/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Every allocation of the library goes through here, so that tests can make
 * the k-th one fail (see fault.c). */
#ifndef VEVENT_ALLOC_H
#define VEVENT_ALLOC_H

#include <stddef.h>

void *vev__malloc(size_t size);
void *vev__calloc(size_t n, size_t size);
/* Like realloc(), but n * size with overflow checking. */
void *vev__reallocarray(void *ptr, size_t n, size_t size);
void vev__free(void *ptr);

/* Fault injection, for tests: the `k`-th allocation from now (1-based)
 * fails, and every later one succeeds; 0 disarms.  Returns how many
 * allocations happened since the last arming. */
void vev__fault_alloc_arm(unsigned long k);
unsigned long vev__fault_alloc_count(void);

#endif
