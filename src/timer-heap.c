/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The armed timers, as a binary min-heap ordered by (deadline, arming
 * sequence).  Each entry carries its timer's deadline, so sifting compares
 * neighbouring array entries instead of following every index out to a
 * timer record; only equal deadlines, rare on a nanosecond clock, read the
 * sequence numbers from the records.  Each timer records its own heap
 * position, so update and removal are O(log n) without a search. */
#include <errno.h>
#include <string.h>

#include "loop-private.h"

static int64_t key(const struct vev_heap_entry *e)
{
	int64_t d;
	memcpy(&d, e->deadline, sizeof(d));
	return d;
}

static void set_key(struct vev_heap_entry *e, int64_t d)
{
	memcpy(e->deadline, &d, sizeof(d));
}

int64_t vev__heap_top_deadline(const struct vev_loop *loop)
{
	return key(&loop->heap[0]);
}

/* Equal deadlines: the timer armed first goes first.  Sequence numbers
 * wrap; live timers are armed far less than 2^31 arms apart, so the signed
 * difference orders them. */
VEV_COLD static bool armed_before(const struct vev_loop *loop,
				  const struct vev_heap_entry *a,
				  const struct vev_heap_entry *b)
{
	return (int32_t)(vev__timer_at(loop, a->idx)->seq -
			 vev__timer_at(loop, b->idx)->seq) < 0;
}

static bool before(const struct vev_loop *loop, const struct vev_heap_entry *a,
		   const struct vev_heap_entry *b)
{
	int64_t ka = key(a), kb = key(b);
	if (ka != kb)
		return ka < kb;
	return armed_before(loop, a, b);
}

static void put(struct vev_loop *loop, uint32_t pos,
		const struct vev_heap_entry *e)
{
	loop->heap[pos] = *e;
	vev__timer_at(loop, e->idx)->heap_idx = pos;
}

/* Place e, whose slot is pos, at or above pos. */
static void sift_up(struct vev_loop *loop, uint32_t pos,
		    const struct vev_heap_entry *e)
{
	while (pos > 0) {
		uint32_t parent = (pos - 1) / 2;
		if (!before(loop, e, &loop->heap[parent]))
			break;
		put(loop, pos, &loop->heap[parent]);
		pos = parent;
	}
	put(loop, pos, e);
}

/* Place e, whose slot is pos, at or below pos. */
static void sift_down(struct vev_loop *loop, uint32_t pos,
		      const struct vev_heap_entry *e)
{
	uint32_t n = loop->heap_len;

	for (;;) {
		uint32_t child = 2 * pos + 1;
		if (child >= n)
			break;
		if (child + 1 < n &&
		    before(loop, &loop->heap[child + 1], &loop->heap[child]))
			child++;
		if (!before(loop, &loop->heap[child], e))
			break;
		put(loop, pos, &loop->heap[child]);
		pos = child;
	}
	put(loop, pos, e);
}


int vev__heap_grow(struct vev_loop *loop, uint32_t n)
{
	/* Grow by an eighth: the heap holds an entry for every timer, armed
	 * or not, and its slack counts against the 64 bytes per timer.  Past
	 * the allocator's mmap threshold, growing is a page remap anyway. */
	uint32_t cap = loop->heap_cap + loop->heap_cap / 8;
	if (cap < n)
		cap = n < 16 ? 16 : n;
	struct vev_heap_entry *h =
		vev__reallocarray(loop->heap, cap, sizeof(*h));
	if (!h)
		return -ENOMEM;
	loop->heap = h;
	loop->heap_cap = cap;
	return 0;
}

/* Room is reserved: the heap has an entry for every timer. */
void vev__heap_push(struct vev_loop *loop, uint32_t idx, int64_t deadline)
{
	struct vev_heap_entry e = {.idx = idx};

	vev__timer_at(loop, idx)->seq = loop->seq++;
	set_key(&e, deadline);
	sift_up(loop, loop->heap_len++, &e);
}

void vev__heap_remove(struct vev_loop *loop, uint32_t idx)
{
	struct vev_timer *t = vev__timer_at(loop, idx);
	uint32_t pos = t->heap_idx;

	if (pos >= loop->heap_len)
		return; /* idle or collected: not in the heap */
	t->heap_idx = VEV_TIMER_IDLE;
	if (pos == --loop->heap_len)
		return;
	/* The last entry fills the hole.  Whether it belongs above or below
	 * follows from the entry it replaces (its parent is before that one,
	 * its children after), so the parent is read only when it rises. */
	struct vev_heap_entry last = loop->heap[loop->heap_len];
	if (before(loop, &last, &loop->heap[pos]))
		sift_up(loop, pos, &last);
	else
		sift_down(loop, pos, &last);
}

void vev__heap_reposition(struct vev_loop *loop, uint32_t idx,
			  int64_t deadline)
{
	struct vev_timer *t = vev__timer_at(loop, idx);
	struct vev_heap_entry e = {.idx = idx};
	bool earlier = deadline < key(&loop->heap[t->heap_idx]);

	/* Re-armed now: after the timers of equal deadline, so an equal
	 * deadline moves it down, like a later one. */
	t->seq = loop->seq++;
	set_key(&e, deadline);
	if (earlier)
		sift_up(loop, t->heap_idx, &e);
	else
		sift_down(loop, t->heap_idx, &e);
}

uint32_t vev__heap_pop(struct vev_loop *loop)
{
	uint32_t top = loop->heap[0].idx;
	vev__heap_remove(loop, top);
	return top;
}

int vev__heap_verify(const struct vev_loop *loop)
{
	for (uint32_t pos = 0; pos < loop->heap_len; pos++) {
		const struct vev_heap_entry *e = &loop->heap[pos];
		if (e->idx >= loop->timers.top)
			return vev__error(EPROTO,
					  "heap entry %u names record "
					  "%u of %u",
					  pos, e->idx, loop->timers.top);
		const struct vev_timer *t = vev__timer_at(loop, e->idx);
		if (t->heap_idx != pos)
			return vev__error(EPROTO,
					  "timer %d: heap index %u, "
					  "found at %u",
					  t->id, t->heap_idx, pos);
		if (!t->cb || t->period <= 0)
			return vev__error(EPROTO,
					  "timer %d in the heap is "
					  "removed, disabled or of period 0",
					  t->id);
		if (pos > 0 && before(loop, e, &loop->heap[(pos - 1) / 2]))
			return vev__error(EPROTO,
					  "timer %d at %u is before "
					  "its parent",
					  t->id, pos);
	}
	return 0;
}
