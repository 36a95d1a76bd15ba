/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The armed timers, as a binary min-heap of pool indices ordered by
 * (deadline, arming sequence).  Each timer records its own heap position, so
 * update and removal are O(log n) without a search. */
#include <errno.h>

#include "loop-private.h"

static bool before(const struct vev_timer *a, const struct vev_timer *b)
{
	if (a->deadline != b->deadline)
		return a->deadline < b->deadline;
	/* Sequence numbers wrap; live timers are armed far less than 2^31
	 * arms apart, so the signed difference orders them. */
	return (int32_t)(a->seq - b->seq) < 0;
}

static void put(struct vev_loop *loop, uint32_t pos, uint32_t idx)
{
	loop->heap[pos] = idx;
	vev__timer_at(loop, idx)->heap_idx = pos;
}

static void sift_up(struct vev_loop *loop, uint32_t pos)
{
	uint32_t idx = loop->heap[pos];
	struct vev_timer *t = vev__timer_at(loop, idx);

	while (pos > 0) {
		uint32_t parent = (pos - 1) / 2;
		if (!before(t, vev__timer_at(loop, loop->heap[parent])))
			break;
		put(loop, pos, loop->heap[parent]);
		pos = parent;
	}
	put(loop, pos, idx);
}

static void sift_down(struct vev_loop *loop, uint32_t pos)
{
	uint32_t idx = loop->heap[pos];
	struct vev_timer *t = vev__timer_at(loop, idx);
	uint32_t n = loop->heap_len;

	for (;;) {
		uint32_t child = 2 * pos + 1;
		if (child >= n)
			break;
		struct vev_timer *c = vev__timer_at(loop, loop->heap[child]);
		if (child + 1 < n) {
			struct vev_timer *r =
				vev__timer_at(loop, loop->heap[child + 1]);
			if (before(r, c)) {
				child++;
				c = r;
			}
		}
		if (!before(c, t))
			break;
		put(loop, pos, loop->heap[child]);
		pos = child;
	}
	put(loop, pos, idx);
}

int vev__heap_reserve(struct vev_loop *loop, uint32_t n)
{
	if (n <= loop->heap_cap)
		return 0;
	uint32_t cap = loop->heap_cap + loop->heap_cap / 2;
	if (cap < n)
		cap = n < 16 ? 16 : n;
	uint32_t *h = vev__reallocarray(loop->heap, cap, sizeof(*h));
	if (!h)
		return -ENOMEM;
	loop->heap = h;
	loop->heap_cap = cap;
	return 0;
}

/* Room is reserved (the heap holds every live timer) and deadline set. */
void vev__heap_push(struct vev_loop *loop, uint32_t idx)
{
	vev__timer_at(loop, idx)->seq = loop->seq++;
	loop->heap[loop->heap_len] = idx;
	sift_up(loop, loop->heap_len++);
}

void vev__heap_remove(struct vev_loop *loop, uint32_t idx)
{
	struct vev_timer *t = vev__timer_at(loop, idx);
	uint32_t pos = t->heap_idx;

	if (pos >= loop->heap_len)
		return; /* idle or collected: not in the heap */
	t->heap_idx = VEV_TIMER_IDLE;
	uint32_t last = loop->heap[--loop->heap_len];
	if (pos == loop->heap_len)
		return;
	put(loop, pos, last);
	if (pos > 0 && before(vev__timer_at(loop, last),
			      vev__timer_at(loop, loop->heap[(pos - 1) / 2])))
		sift_up(loop, pos);
	else
		sift_down(loop, pos);
}

void vev__heap_reposition(struct vev_loop *loop, uint32_t idx)
{
	struct vev_timer *t = vev__timer_at(loop, idx);
	uint32_t pos = t->heap_idx;

	t->seq = loop->seq++; /* re-armed now: after equal deadlines */
	if (pos > 0 && before(t, vev__timer_at(loop, loop->heap[(pos - 1) / 2])))
		sift_up(loop, pos);
	else
		sift_down(loop, pos);
}

uint32_t vev__heap_pop(struct vev_loop *loop)
{
	uint32_t top = loop->heap[0];
	vev__heap_remove(loop, top);
	return top;
}

int vev__heap_verify(const struct vev_loop *loop)
{
	for (uint32_t pos = 0; pos < loop->heap_len; pos++) {
		const struct vev_timer *t = vev__timer_at(loop, loop->heap[pos]);
		if (t->heap_idx != pos)
			return vev__error(EPROTO, "timer %d: heap index %u, "
					  "found at %u", t->id, t->heap_idx, pos);
		if (!t->cb || t->period <= 0)
			return vev__error(EPROTO, "timer %d in the heap is "
					  "removed, disabled or of period 0",
					  t->id);
		if (pos > 0 && before(t, vev__timer_at(loop,
						      loop->heap[(pos - 1) / 2])))
			return vev__error(EPROTO, "timer %d at %u is before "
					  "its parent", t->id, pos);
	}
	return 0;
}
