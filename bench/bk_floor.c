/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The floor: the smallest loop that does the job correctly with epoll, and
 * nothing more (no locking, no deferred frees, no id validation).  Watches
 * and timers live in arrays that grow by doubling; timers sit in a binary
 * min-heap of (deadline, timer) pairs, and each timer knows its position in
 * it, so update and removal are O(log n).  Every other backend is reported
 * as a ratio to this one.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bk.h"

#define FLOOR_WAKE_TAG UINT32_MAX
#define FLOOR_MAX_EVENTS 256

struct floor_watch {
	int fd;
	void *opaque;
};

struct floor_timer {
	uint64_t period; /* ns */
	int pos;	 /* index in floor_heap, -1 if removed */
	void *opaque;
};

struct floor_entry {
	uint64_t due; /* ns, CLOCK_MONOTONIC */
	int t;
};

static int floor_ep = -1;
static int floor_evfd = -1;
static struct floor_watch *floor_watches;
static int floor_nwatches, floor_capwatches;
static struct floor_timer *floor_timers;
static int floor_ntimers, floor_captimers;
static struct floor_entry *floor_heap;
static int floor_heapn;
/* Zero-period timers ("every iteration") stay out of the heap, on a list
 * that each iteration walks; the workloads use at most one, so the list is
 * this flag. */
static int floor_tick;
static struct epoll_event floor_events[FLOOR_MAX_EVENTS];

static const char *floor_describe(void)
{
	return "hand-written epoll loop with a binary timer heap";
}

static int floor_grow(void **arr, int *cap, size_t elem)
{
	int ncap = *cap ? *cap * 2 : 64;
	void *p = realloc(*arr, elem * (size_t)ncap);

	if (!p)
		return -1;
	*arr = p;
	*cap = ncap;
	return 0;
}

static int floor_init(int max_watches, int max_timers, unsigned flags)
{
	(void)max_watches;
	(void)max_timers;
	(void)flags;
	floor_ep = epoll_create1(EPOLL_CLOEXEC);
	return floor_ep < 0 ? -1 : 0;
}

static int floor_add_watch(int fd, void *opaque)
{
	struct epoll_event ev = {.events = EPOLLIN};
	int h = floor_nwatches;

	if (h == floor_capwatches &&
	    floor_grow((void **)&floor_watches, &floor_capwatches,
		       sizeof(*floor_watches)) < 0)
		return -1;
	ev.data.u32 = (uint32_t)h;
	if (epoll_ctl(floor_ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -1;
	floor_watches[h].fd = fd;
	floor_watches[h].opaque = opaque;
	floor_nwatches++;
	return h;
}

static int floor_del_watch(int h)
{
	if (h < 0 || h >= floor_nwatches || floor_watches[h].fd < 0)
		return -1;
	if (epoll_ctl(floor_ep, EPOLL_CTL_DEL, floor_watches[h].fd, NULL) < 0)
		return -1;
	floor_watches[h].fd = -1;
	return 0;
}

static void floor_heap_set(int pos, struct floor_entry e)
{
	floor_heap[pos] = e;
	floor_timers[e.t].pos = pos;
}

static void floor_sift_up(int pos)
{
	struct floor_entry e = floor_heap[pos];

	while (pos > 0) {
		int parent = (pos - 1) / 2;

		if (floor_heap[parent].due <= e.due)
			break;
		floor_heap_set(pos, floor_heap[parent]);
		pos = parent;
	}
	floor_heap_set(pos, e);
}

static void floor_sift_down(int pos)
{
	struct floor_entry e = floor_heap[pos];

	for (;;) {
		int c = 2 * pos + 1;

		if (c >= floor_heapn)
			break;
		if (c + 1 < floor_heapn &&
		    floor_heap[c + 1].due < floor_heap[c].due)
			c++;
		if (e.due <= floor_heap[c].due)
			break;
		floor_heap_set(pos, floor_heap[c]);
		pos = c;
	}
	floor_heap_set(pos, e);
}

static void floor_reposition(int pos)
{
	if (pos > 0 && floor_heap[pos].due < floor_heap[(pos - 1) / 2].due)
		floor_sift_up(pos);
	else
		floor_sift_down(pos);
}

static int floor_add_timer(int ms, void *opaque)
{
	int t = floor_ntimers;

	if (t == floor_captimers) {
		int cap = floor_captimers;

		if (floor_grow((void **)&floor_timers, &floor_captimers,
			       sizeof(*floor_timers)) < 0)
			return -1;
		/* the heap never holds more entries than there are timers */
		if (floor_grow((void **)&floor_heap, &cap,
			       sizeof(*floor_heap)) < 0)
			return -1;
	}
	floor_timers[t].period = (uint64_t)ms * 1000000u;
	floor_timers[t].opaque = opaque;
	floor_ntimers++;
	floor_heap[floor_heapn].due = bk_now_ns() + floor_timers[t].period;
	floor_heap[floor_heapn].t = t;
	floor_sift_up(floor_heapn++);
	return t;
}

static int floor_update_timer(int h, int ms)
{
	struct floor_timer *t;

	if (h < 0 || h >= floor_ntimers || floor_timers[h].pos < 0)
		return -1;
	t = &floor_timers[h];
	t->period = (uint64_t)ms * 1000000u;
	floor_heap[t->pos].due = bk_now_ns() + t->period;
	floor_reposition(t->pos);
	return 0;
}

static int floor_del_timer(int h)
{
	int pos;

	if (h < 0 || h >= floor_ntimers || floor_timers[h].pos < 0)
		return -1;
	pos = floor_timers[h].pos;
	floor_timers[h].pos = -1;
	floor_heapn--;
	if (pos != floor_heapn) {
		floor_heap_set(pos, floor_heap[floor_heapn]);
		floor_reposition(pos);
	}
	return 0;
}

static int floor_add_tick(void)
{
	floor_tick = 1;
	return 0;
}

static int floor_del_tick(void)
{
	floor_tick = 0;
	return 0;
}

static int floor_iterate(int may_block)
{
	int timeout = -1, n;

	if (floor_tick || !may_block) {
		timeout = 0;
	} else if (floor_heapn) {
		uint64_t now = bk_now_ns(), due = floor_heap[0].due;

		timeout =
			due <= now ? 0 : (int)((due - now + 999999) / 1000000);
	}
	n = epoll_wait(floor_ep, floor_events, FLOOR_MAX_EVENTS, timeout);
	if (n < 0 && errno != EINTR)
		return -1;
	for (int i = 0; i < n; i++) {
		uint32_t h = floor_events[i].data.u32;

		if (h == FLOOR_WAKE_TAG) {
			uint64_t v;

			if (read(floor_evfd, &v, sizeof(v)) == sizeof(v))
				bk_wake_cb();
			continue;
		}
		bk_io_cb(floor_watches[h].fd, floor_watches[h].opaque);
	}
	if (floor_heapn) {
		uint64_t now = bk_now_ns();

		while (floor_heapn && floor_heap[0].due <= now) {
			struct floor_timer *t = &floor_timers[floor_heap[0].t];

			floor_heap[0].due = now + t->period;
			floor_sift_down(0);
			bk_timer_cb(t->opaque);
		}
	}
	if (floor_tick)
		bk_tick_cb();
	return 0;
}

static int floor_run_once(void)
{
	return floor_iterate(1);
}

static int floor_run_nowait(void)
{
	return floor_iterate(0);
}

static int floor_wake_init(void)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = FLOOR_WAKE_TAG};

	floor_evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (floor_evfd < 0)
		return -1;
	return epoll_ctl(floor_ep, EPOLL_CTL_ADD, floor_evfd, &ev);
}

static int floor_wake(void)
{
	uint64_t one = 1;

	return write(floor_evfd, &one, sizeof(one)) == sizeof(one) ? 0 : -1;
}

const struct bk_ops bk_floor_ops = {
	.name = "floor",
	.describe = floor_describe,
	.init = floor_init,
	.add_watch = floor_add_watch,
	.del_watch = floor_del_watch,
	.add_timer = floor_add_timer,
	.update_timer = floor_update_timer,
	.del_timer = floor_del_timer,
	.add_tick = floor_add_tick,
	.del_tick = floor_del_tick,
	.run_once = floor_run_once,
	.run_nowait = floor_run_nowait,
	.wake_init = floor_wake_init,
	.wake = floor_wake,
};
