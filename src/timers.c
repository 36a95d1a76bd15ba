/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Timers: the id table, arming on the monotonic clock, and the dispatch of
 * due timers.  The heap itself is in timer-heap.c. */
#include <errno.h>
#include <limits.h>

#include "loop-private.h"

#define NS_PER_MS 1000000LL

_Static_assert(offsetof(struct vev_timer, link) ==
		       offsetof(struct vev_record, link),
	       "free-list link must overlay the same bytes in every record");

static void zero_append(struct vev_loop *loop, uint32_t idx)
{
	struct vev_timer *t = vev__timer_at(loop, idx);

	t->heap_idx = VEV_TIMER_ZERO;
	t->znext = VEV_NIL;
	t->zprev = loop->zero_tail; /* in place of its period, 0 */
	if (loop->zero_tail == VEV_NIL)
		loop->zero_head = idx;
	else
		vev__timer_at(loop, loop->zero_tail)->znext = idx;
	loop->zero_tail = idx;
}

static void zero_unlink(struct vev_loop *loop, uint32_t idx)
{
	struct vev_timer *t = vev__timer_at(loop, idx);

	if (t->zprev == VEV_NIL)
		loop->zero_head = t->znext;
	else
		vev__timer_at(loop, t->zprev)->znext = t->znext;
	if (t->znext == VEV_NIL)
		loop->zero_tail = t->zprev;
	else
		vev__timer_at(loop, t->znext)->zprev = t->zprev;
	t->period = 0;
	t->heap_idx = VEV_TIMER_IDLE;
}

/* Arm an idle timer by its period; the clock is read only if needed. */
static void arm(struct vev_loop *loop, uint32_t idx)
{
	struct vev_timer *t = vev__timer_at(loop, idx);

	if (t->period < 0) {
		t->heap_idx = VEV_TIMER_IDLE;
	} else if (t->period == 0) {
		zero_append(loop, idx);
	} else {
		vev__heap_push(loop, idx,
			       vev__now_ns() + t->period * NS_PER_MS);
	}
}

int vev_add_timer(vev_loop *loop, int timeout_ms, vev_timer_cb cb,
		  void *opaque, vev_free_cb ff)
{
	int ret;

	if (!loop)
		return vev__error(EINVAL, "vev_add_timer: loop is NULL");
	if (!cb)
		return vev__error(EINVAL, "vev_add_timer: callback is NULL");

	vev__lock(&loop->lock);
	if (loop->closing) {
		ret = vev__error(ESHUTDOWN, "vev_add_timer: the loop is being "
				 "%s", loop->freeing ? "freed" : "cleared");
		goto out;
	}
	if (loop->next_timer_id > INT_MAX) {
		ret = vev__error(EOVERFLOW, "vev_add_timer: all %d timer ids "
				 "have been used", INT_MAX);
		goto out;
	}
	/* The heap always has room for every timer, so that re-arming and
	 * updates never need memory. */
	if (vev__heap_reserve(loop, loop->timers.used + 1) < 0 ||
	    vev__idmap_reserve(&loop->timer_ids) < 0) {
		ret = vev__error(ENOMEM, "vev_add_timer: out of memory");
		goto out;
	}
	/* Every field is set below or by arm() before it is read. */
	uint32_t idx = vev__pool_alloc_raw(&loop->timers);
	if (idx == VEV_NIL) {
		ret = vev__error(ENOMEM, "vev_add_timer: out of memory");
		goto out;
	}
	struct vev_timer *t = vev__timer_at(loop, idx);
	t->cb = (void (*)(void))cb;
	t->opaque = opaque;
	t->ff = ff;
	t->id = (int)loop->next_timer_id++;
	t->period = timeout_ms;
	vev__idmap_insert(&loop->timer_ids, t->id, idx);
	arm(loop, idx);
	vev__wake_locked(loop);
	ret = t->id;
out:
	vev__unlock(&loop->lock);
	return ret;
}

/* Take a timer out of the heap, or out of this iteration's due list. */
static void disarm(struct vev_loop *loop, uint32_t idx)
{
	struct vev_timer *t = vev__timer_at(loop, idx);

	if (t->heap_idx == VEV_TIMER_READY)
		t->heap_idx = VEV_TIMER_IDLE;
	else if (t->heap_idx == VEV_TIMER_ZERO)
		zero_unlink(loop, idx);
	else
		vev__heap_remove(loop, idx);
}

int vev_update_timer(vev_loop *loop, int timer, int timeout_ms)
{
	int ret = 0;

	if (!loop)
		return vev__error(EINVAL, "vev_update_timer: loop is NULL");
	vev__lock(&loop->lock);
	uint32_t idx = timer > 0 ? vev__idmap_find(&loop->timer_ids, timer) :
				   VEV_NIL;
	if (idx == VEV_NIL) {
		ret = vev__error(ENOENT, "vev_update_timer: no timer %d", timer);
	} else {
		struct vev_timer *t = vev__timer_at(loop, idx);
		if (timeout_ms > 0 && t->heap_idx < loop->heap_len) {
			/* Still periodic: one sift instead of out and in. */
			t->period = timeout_ms;
			vev__heap_reposition(loop, idx, vev__now_ns() +
							timeout_ms * NS_PER_MS);
		} else {
			disarm(loop, idx);
			t->period = timeout_ms;
			arm(loop, idx);
		}
		vev__wake_locked(loop);
	}
	vev__unlock(&loop->lock);
	return ret;
}

int vev_remove_timer(vev_loop *loop, int timer)
{
	int ret = 0;

	if (!loop)
		return vev__error(EINVAL, "vev_remove_timer: loop is NULL");
	vev__lock(&loop->lock);
	uint32_t idx = timer > 0 ? vev__idmap_remove(&loop->timer_ids, timer) :
				   VEV_NIL;
	if (idx == VEV_NIL) {
		ret = vev__error(ENOENT, "vev_remove_timer: no timer %d", timer);
	} else {
		struct vev_timer *t = vev__timer_at(loop, idx);
		disarm(loop, idx);
		if (t->ff) {
			t->cb = NULL;
			vev__freelist_push(loop, &loop->timer_frees,
					   &loop->timers, idx);
		} else {
			/* Nothing to call later, so nothing to keep.  An
			 * entry for it on this iteration's due list is
			 * skipped: only collecting makes a timer READY. */
			vev__pool_release(&loop->timers, idx);
		}
		vev__wake_locked(loop);
	}
	vev__unlock(&loop->lock);
	return ret;
}

void vev__timers_init(struct vev_loop *loop)
{
	vev__pool_init(&loop->timers, sizeof(struct vev_timer));
	vev__idmap_init(&loop->timer_ids, &loop->timers);
	loop->next_timer_id = 1;
	loop->zero_head = loop->zero_tail = VEV_NIL;
	loop->timer_frees = (struct vev_freelist){ VEV_NIL, VEV_NIL, 0 };
}

void vev__timers_fini(struct vev_loop *loop)
{
	vev__idmap_fini(&loop->timer_ids);
	vev__pool_fini(&loop->timers);
	vev__free(loop->heap);
	vev__free(loop->due);
}

int vev__timers_timeout(const struct vev_loop *loop, int64_t now)
{
	if (loop->zero_head != VEV_NIL)
		return 0;
	if (loop->heap_len == 0)
		return -1;
	int64_t left = vev__heap_top_deadline(loop) - now;
	if (left <= 0)
		return 0;
	/* Round up: waking before the deadline would only spin until it. */
	int64_t ms = (left + NS_PER_MS - 1) / NS_PER_MS;
	return ms > INT_MAX ? INT_MAX : (int)ms;
}

static bool due_push(struct vev_loop *loop, uint32_t idx)
{
	if (loop->due_len == loop->due_cap) {
		uint32_t cap = loop->due_cap ? loop->due_cap * 2 : 32;
		uint32_t *d = vev__reallocarray(loop->due, cap, sizeof(*d));
		if (!d)
			return false; /* still armed: due next iteration */
		loop->due = d;
		loop->due_cap = cap;
	}
	loop->due[loop->due_len++] = idx;
	return true;
}

void vev__timers_collect(struct vev_loop *loop, int64_t now)
{
	while (loop->heap_len > 0 && vev__heap_top_deadline(loop) <= now) {
		if (!due_push(loop, loop->heap[0].idx))
			return;
		uint32_t idx = vev__heap_pop(loop);
		vev__timer_at(loop, idx)->heap_idx = VEV_TIMER_READY;
	}
	/* Period 0 after the timers that came due, in arming order; the list
	 * is rebuilt as they are re-armed at dispatch. */
	while (loop->zero_head != VEV_NIL) {
		uint32_t idx = loop->zero_head;
		if (!due_push(loop, idx))
			return;
		zero_unlink(loop, idx);
		vev__timer_at(loop, idx)->heap_idx = VEV_TIMER_READY;
	}
}

unsigned vev__timers_dispatch(struct vev_loop *loop)
{
	unsigned calls = 0;

	for (uint32_t i = 0; i < loop->due_len; i++) {
		uint32_t idx = loop->due[i];
		struct vev_timer *t = vev__timer_at(loop, idx);

		/* Removed, disabled or updated by an earlier callback. */
		if (!t->cb || t->heap_idx != VEV_TIMER_READY)
			continue;
		/* Re-armed from the time of this dispatch, before the call so
		 * that the callback may update or remove it. */
		t->heap_idx = VEV_TIMER_IDLE;
		arm(loop, idx);
		vev_timer_cb cb = (vev_timer_cb)t->cb;
		void *opaque = t->opaque;
		int id = t->id;
		calls++;
		loop->stats[VEV_STAT_TIMER_CALLS]++;
		VEV_CALL_UNLOCKED(loop, cb(id, opaque));
	}
	loop->due_len = 0;
	return calls;
}

void vev__timers_remove_all(struct vev_loop *loop)
{
	for (uint32_t idx = 0; idx < loop->timers.top; idx++) {
		struct vev_timer *t = vev__timer_at(loop, idx);
		if (vev__idmap_find(&loop->timer_ids, t->id) != idx)
			continue;
		vev__idmap_remove(&loop->timer_ids, t->id);
		disarm(loop, idx);
		t->cb = NULL;
		vev__freelist_push(loop, &loop->timer_frees, &loop->timers, idx);
	}
}

int vev__timers_verify(const struct vev_loop *loop)
{
	int rc = vev__heap_verify(loop);
	if (rc < 0)
		return rc;

	uint32_t armed = 0, live = 0, zeros = 0;
	for (uint32_t idx = 0; idx < loop->timers.top; idx++) {
		const struct vev_timer *t = vev__timer_at(loop, idx);
		if (vev__idmap_find(&loop->timer_ids, t->id) != idx)
			continue;
		live++;
		if (!t->cb)
			return vev__error(EPROTO, "timer %d is in the id table "
					  "but removed", t->id);
		bool in_heap = t->heap_idx < loop->heap_len;
		bool on_zero = t->heap_idx == VEV_TIMER_ZERO;
		int period = on_zero ? 0 : t->period;
		if (in_heap)
			armed++;
		if (on_zero)
			zeros++;
		if (!loop->running && (in_heap != (period > 0) ||
				       on_zero != (period == 0)))
			return vev__error(EPROTO, "timer %d (period %d) is "
					  "armed in the wrong place", t->id,
					  period);
	}
	if (live != loop->timer_ids.count)
		return vev__error(EPROTO, "%u live timers, %u in the id table",
				  live, loop->timer_ids.count);
	if (armed != loop->heap_len)
		return vev__error(EPROTO, "%u timers in the heap, %u armed",
				  loop->heap_len, armed);
	uint32_t listed = 0, prev = VEV_NIL;
	for (uint32_t i = loop->zero_head; i != VEV_NIL;
	     i = vev__timer_at(loop, i)->znext) {
		if (i >= loop->timers.top)
			return vev__error(EPROTO, "the list of period-0 timers "
					  "names record %u of %u", i,
					  loop->timers.top);
		const struct vev_timer *t = vev__timer_at(loop, i);
		if (t->heap_idx != VEV_TIMER_ZERO || t->zprev != prev ||
		    ++listed > zeros)
			return vev__error(EPROTO, "broken list of period-0 "
					  "timers at timer %d", t->id);
		prev = i;
	}
	if (listed != zeros || prev != loop->zero_tail)
		return vev__error(EPROTO, "%u period-0 timers, %u listed", zeros,
				  listed);
	return 0;
}

size_t vev__timers_memory(const struct vev_loop *loop)
{
	return vev__pool_memory(&loop->timers) +
	       vev__idmap_memory(&loop->timer_ids) +
	       (size_t)loop->heap_cap * sizeof(struct vev_heap_entry) +
	       (size_t)loop->due_cap * sizeof(uint32_t);
}
