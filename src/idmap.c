/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "idmap.h"

#include <errno.h>
#include <string.h>

#include "alloc.h"
#include "loop-private.h"

static int id_of(const struct vev_idmap *map, uint32_t bucket_value)
{
	const struct vev_record *r = vev__pool_at(map->pool, bucket_value - 1);
	return r->id;
}

void vev__idmap_init(struct vev_idmap *map, const struct vev_pool *pool)
{
	memset(map, 0, sizeof(*map));
	map->pool = pool;
}

void vev__idmap_fini(struct vev_idmap *map)
{
	vev__free(map->buckets);
	vev__idmap_init(map, map->pool);
}

static void place(uint32_t *buckets, uint32_t mask, int id, uint32_t value)
{
	uint32_t i = (uint32_t)id & mask;
	while (buckets[i] != 0)
		i = (i + 1) & mask;
	buckets[i] = value;
}

int vev__idmap_reserve(struct vev_idmap *map)
{
	uint32_t cap = map->buckets ? map->mask + 1 : 0;

	/* Keep the load at most 7/8: linear probing stays short because
	 * sequential ids rarely collide. */
	if ((uint64_t)(map->count + 1) * 8 <= (uint64_t)cap * 7)
		return 0;
	uint32_t ncap = cap ? cap * 2 : 16;
	if (ncap == 0)
		return -ENOMEM;
	uint32_t *nb = vev__calloc(ncap, sizeof(*nb));
	if (!nb)
		return -ENOMEM;
	for (uint32_t i = 0; i < cap; i++)
		if (map->buckets[i])
			place(nb, ncap - 1, id_of(map, map->buckets[i]),
			      map->buckets[i]);
	vev__free(map->buckets);
	map->buckets = nb;
	map->mask = ncap - 1;
	return 0;
}

void vev__idmap_insert(struct vev_idmap *map, int id, uint32_t idx)
{
	place(map->buckets, map->mask, id, idx + 1);
	map->count++;
}

static uint32_t slot_of(const struct vev_idmap *map, int id)
{
	if (!map->buckets)
		return VEV_NIL;
	for (uint32_t i = (uint32_t)id & map->mask;; i = (i + 1) & map->mask) {
		uint32_t v = map->buckets[i];
		if (v == 0)
			return VEV_NIL;
		if (id_of(map, v) == id)
			return i;
	}
}

uint32_t vev__idmap_find(const struct vev_idmap *map, int id)
{
	uint32_t i = slot_of(map, id);
	return i == VEV_NIL ? VEV_NIL : map->buckets[i] - 1;
}

uint32_t vev__idmap_remove(struct vev_idmap *map, int id)
{
	uint32_t i = slot_of(map, id);
	if (i == VEV_NIL)
		return VEV_NIL;
	uint32_t found = map->buckets[i] - 1;

	/* Backward-shift deletion: pull later members of the probe run into
	 * the hole so that lookups never need tombstones. */
	uint32_t hole = i;
	for (uint32_t j = (i + 1) & map->mask; map->buckets[j] != 0;
	     j = (j + 1) & map->mask) {
		uint32_t home = (uint32_t)id_of(map, map->buckets[j]) &
				map->mask;
		/* j may move to the hole unless its home lies cyclically in
		 * (hole, j]. */
		bool home_between = hole <= j ? (home > hole && home <= j) :
						(home > hole || home <= j);
		if (!home_between) {
			map->buckets[hole] = map->buckets[j];
			hole = j;
		}
	}
	map->buckets[hole] = 0;
	map->count--;
	return found;
}

size_t vev__idmap_memory(const struct vev_idmap *map)
{
	return map->buckets ? (size_t)(map->mask + 1) * sizeof(uint32_t) : 0;
}
