/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "pool.h"

#include <string.h>

#include "alloc.h"

void vev__pool_init(struct vev_pool *pool, size_t elem_size)
{
	memset(pool, 0, sizeof(*pool));
	pool->elem_size = (uint32_t)elem_size;
	pool->free_head = VEV_NIL;
}

void vev__pool_fini(struct vev_pool *pool)
{
	for (uint32_t i = 0; i < pool->nchunks; i++)
		vev__free(pool->chunks[i]);
	vev__free(pool->chunks);
	vev__pool_init(pool, pool->elem_size);
}

/* The free list is empty and the chunks are full: add a chunk. */
uint32_t vev__pool_grow(struct vev_pool *pool)
{
	if (pool->top == VEV_NIL - 1)
		return VEV_NIL;
	if (pool->nchunks == pool->chunks_cap) {
		uint32_t cap = pool->chunks_cap ? pool->chunks_cap * 2 : 4;
		char **c = vev__reallocarray(pool->chunks, cap, sizeof(*c));
		if (!c)
			return VEV_NIL;
		pool->chunks = c;
		pool->chunks_cap = cap;
	}
	char *mem = vev__malloc((size_t)VEV_POOL_CHUNK * pool->elem_size);
	if (!mem)
		return VEV_NIL;
	pool->chunks[pool->nchunks++] = mem;
	pool->used++;
	return pool->top++;
}

uint32_t vev__pool_alloc(struct vev_pool *pool)
{
	uint32_t idx = vev__pool_alloc_raw(pool);

	if (idx != VEV_NIL)
		memset(vev__pool_at(pool, idx), 0, pool->elem_size);
	return idx;
}

void vev__pool_release(struct vev_pool *pool, uint32_t idx)
{
	memcpy(vev__pool_at(pool, idx), &pool->free_head, sizeof(uint32_t));
	pool->free_head = idx;
	pool->used--;
}

size_t vev__pool_memory(const struct vev_pool *pool)
{
	return (size_t)pool->nchunks * VEV_POOL_CHUNK * pool->elem_size +
	       (size_t)pool->chunks_cap * sizeof(char *);
}
