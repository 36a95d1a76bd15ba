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

/* Robin Hood order: along a probe run, entries never sit farther from their
 * home bucket than the entry before them plus one.  Live ids form a dense
 * window, so almost every entry sits at home, and both a failed lookup and
 * the shift after a removal stop at the first entry that does; plain linear
 * probing would scan the whole window, making removal O(n). */
static uint32_t id_distance(const struct vev_idmap *map, uint32_t i, int id)
{
	return (i - ((uint32_t)id & map->mask)) & map->mask;
}

static uint32_t distance(const struct vev_idmap *map, uint32_t i,
			 uint32_t value)
{
	return id_distance(map, i, id_of(map, value));
}

static void place(struct vev_idmap *map, uint32_t *buckets, int id,
		  uint32_t value)
{
	uint32_t mask = map->mask;
	uint32_t i = (uint32_t)id & mask, d = 0;

	while (buckets[i] != 0) {
		uint32_t other = distance(map, i, buckets[i]);
		if (other < d) {
			uint32_t carried = buckets[i];
			buckets[i] = value;
			value = carried;
			d = other;
		}
		i = (i + 1) & mask;
		d++;
	}
	buckets[i] = value;
}

int vev__idmap_grow(struct vev_idmap *map)
{
	uint32_t cap = map->buckets ? map->mask + 1 : 0;
	uint32_t ncap = cap ? cap * 2 : 16;
	if (ncap == 0)
		return -ENOMEM;
	uint32_t *nb = vev__calloc(ncap, sizeof(*nb));
	if (!nb)
		return -ENOMEM;
	uint32_t *old = map->buckets;
	map->buckets = nb;
	map->mask = ncap - 1;
	for (uint32_t i = 0; i < cap; i++)
		if (old[i])
			place(map, nb, id_of(map, old[i]), old[i]);
	vev__free(old);
	return 0;
}

void vev__idmap_insert(struct vev_idmap *map, int id, uint32_t idx)
{
	place(map, map->buckets, id, idx + 1);
	map->count++;
}

static uint32_t slot_of(const struct vev_idmap *map, int id)
{
	if (!map->buckets)
		return VEV_NIL;
	for (uint32_t i = (uint32_t)id & map->mask, d = 0;;
	     i = (i + 1) & map->mask, d++) {
		uint32_t v = map->buckets[i];
		if (v == 0)
			return VEV_NIL;
		int found = id_of(map, v);
		if (found == id)
			return i;
		if (id_distance(map, i, found) < d)
			return VEV_NIL; /* id would sit here or earlier */
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

	/* Shift the rest of the run back by one, up to an entry at home. */
	uint32_t hole = i;
	for (uint32_t j = (i + 1) & map->mask;
	     map->buckets[j] != 0 && distance(map, j, map->buckets[j]) > 0;
	     j = (j + 1) & map->mask) {
		map->buckets[hole] = map->buckets[j];
		hole = j;
	}
	map->buckets[hole] = 0;
	map->count--;
	return found;
}

size_t vev__idmap_memory(const struct vev_idmap *map)
{
	return map->buckets ? (size_t)(map->mask + 1) * sizeof(uint32_t) : 0;
}
