/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Fixed-size records in chunks that never move, named by 32-bit indices.
 * Records stay where they are while the pool grows, so a pointer taken under
 * the lock stays valid until the record is released. */
#ifndef VEVENT_POOL_H
#define VEVENT_POOL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define VEV_NIL UINT32_MAX
#define VEV_POOL_CHUNK_SHIFT 8
#define VEV_POOL_CHUNK (1u << VEV_POOL_CHUNK_SHIFT)

struct vev_pool {
	char **chunks;
	uint32_t nchunks, chunks_cap;
	uint32_t elem_size;
	uint32_t top;       /* indices below this have been handed out once */
	uint32_t free_head; /* released records, linked through their first word */
	uint32_t used;
};

void vev__pool_init(struct vev_pool *pool, size_t elem_size);
void vev__pool_fini(struct vev_pool *pool);
/* A zeroed record's index, or VEV_NIL when out of memory. */
uint32_t vev__pool_alloc(struct vev_pool *pool);
/* The same without the zeroing, for callers that set every field. */
static inline uint32_t vev__pool_alloc_raw(struct vev_pool *pool);
void vev__pool_release(struct vev_pool *pool, uint32_t idx);
size_t vev__pool_memory(const struct vev_pool *pool);

static inline void *vev__pool_at(const struct vev_pool *pool, uint32_t idx)
{
	return pool->chunks[idx >> VEV_POOL_CHUNK_SHIFT] +
	       (size_t)(idx & (VEV_POOL_CHUNK - 1)) * pool->elem_size;
}

uint32_t vev__pool_grow(struct vev_pool *pool);

static inline uint32_t vev__pool_alloc_raw(struct vev_pool *pool)
{
	uint32_t idx = pool->free_head;

	if (idx != VEV_NIL) {
		memcpy(&pool->free_head, vev__pool_at(pool, idx),
		       sizeof(uint32_t));
	} else if (pool->top < (size_t)pool->nchunks << VEV_POOL_CHUNK_SHIFT &&
		   pool->top < VEV_NIL - 1) {
		idx = pool->top++;
	} else {
		return vev__pool_grow(pool);
	}
	pool->used++;
	return idx;
}

/* The same, for a caller that knows the record size: a constant size turns
 * the multiplication into an address computation. */
static inline void *vev__pool_at_sized(const struct vev_pool *pool,
				       uint32_t idx, size_t elem_size)
{
	return pool->chunks[idx >> VEV_POOL_CHUNK_SHIFT] +
	       (size_t)(idx & (VEV_POOL_CHUNK - 1)) * elem_size;
}

#endif
