/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Every allocation of the library goes through here, so that tests can make
 * the k-th fallible operation fail (see fault.c and sys.h). */
#ifndef VEVENT_ALLOC_H
#define VEVENT_ALLOC_H

#include <stddef.h>

void *vev__malloc(size_t size);
void *vev__calloc(size_t n, size_t size);
/* Like realloc(), but n * size with overflow checking. */
void *vev__reallocarray(void *ptr, size_t n, size_t size);
void vev__free(void *ptr);

/* Fault injection, for tests: the `k`-th fallible operation from now
 * (1-based; allocations and the system calls of sys.h count alike) fails,
 * and every later one succeeds; 0 disarms.  vev__fault_count() says how
 * many operations happened since the last arming; a disarmed library
 * does not count. */
void vev__fault_arm(unsigned long k);
unsigned long vev__fault_count(void);

#endif
