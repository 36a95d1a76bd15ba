/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* id -> pool index, in O(1): open addressing with linear probing in Robin
 * Hood order.  Ids are handed out in sequence, so `id & mask` spreads a
 * window of live ids over distinct buckets; the id itself is read back from
 * the record. */
#ifndef VEVENT_IDMAP_H
#define VEVENT_IDMAP_H

#include <stddef.h>
#include <stdint.h>

#include "pool.h"

struct vev_idmap {
	uint32_t *buckets; /* pool index + 1; 0 = empty */
	uint32_t mask;     /* capacity - 1; capacity is a power of two */
	uint32_t count;
	const struct vev_pool *pool;
};

void vev__idmap_init(struct vev_idmap *map, const struct vev_pool *pool);
void vev__idmap_fini(struct vev_idmap *map);
int vev__idmap_grow(struct vev_idmap *map);

/* Make room for one more entry; 0 or -ENOMEM.  Call before insert.  The
 * load stays at most 7/8: linear probing stays short because sequential
 * ids rarely collide. */
static inline int vev__idmap_reserve(struct vev_idmap *map)
{
	uint64_t cap = map->buckets ? (uint64_t)map->mask + 1 : 0;

	if ((uint64_t)(map->count + 1) * 8 <= cap * 7)
		return 0;
	return vev__idmap_grow(map);
}
void vev__idmap_insert(struct vev_idmap *map, int id, uint32_t idx);
/* The pool index of id, or VEV_NIL. */
uint32_t vev__idmap_find(const struct vev_idmap *map, int id);
/* Remove id; returns its pool index or VEV_NIL. */
uint32_t vev__idmap_remove(struct vev_idmap *map, int id);
size_t vev__idmap_memory(const struct vev_idmap *map);

#endif
