/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libevent 2.1 (its default backend, epoll on Linux).  Thread support
 * (evthread_use_pthreads) is turned on only for the wake-up workload, the
 * one that needs it; elsewhere libevent runs without locks.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "bk.h"

static struct event_base *lv_base;
static struct event **lv_watches;
static struct event **lv_timers;
static int lv_nwatches, lv_capwatches, lv_ntimers, lv_captimers;
static struct event *lv_tick;
static struct event *lv_wake_ev;
static char lv_desc[96];

static const char *lv_describe(void)
{
	struct event_base *b = lv_base ? lv_base : event_base_new();

	snprintf(lv_desc, sizeof(lv_desc), "libevent %s (%s)",
		 event_get_version(), event_base_get_method(b));
	if (b != lv_base)
		event_base_free(b);
	return lv_desc;
}

static int lv_init(int max_watches, int max_timers, unsigned flags)
{
	if ((flags & BK_THREADS) && evthread_use_pthreads() < 0)
		return -1;
	lv_base = event_base_new();
	lv_capwatches = max_watches;
	lv_captimers = max_timers;
	lv_watches = calloc((size_t)max_watches + 1, sizeof(*lv_watches));
	lv_timers = calloc((size_t)max_timers + 1, sizeof(*lv_timers));
	return lv_base && lv_watches && lv_timers ? 0 : -1;
}

static void lv_io_fn(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	bk_io_cb(fd, arg);
}

static void lv_timer_fn(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	bk_timer_cb(arg);
}

static void lv_tick_fn(evutil_socket_t fd, short what, void *arg)
{
	struct timeval zero = {0, 0};

	(void)fd;
	(void)what;
	(void)arg;
	/* re-armed here: libevent does not reschedule a persistent event
	 * whose timeout is zero */
	event_add(lv_tick, &zero);
	bk_tick_cb();
}

static void lv_wake_fn(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	bk_wake_cb();
}

static int lv_add_watch(int fd, void *opaque)
{
	struct event *ev;

	if (lv_nwatches >= lv_capwatches)
		return -1;
	ev = event_new(lv_base, fd, EV_READ | EV_PERSIST, lv_io_fn, opaque);
	if (!ev || event_add(ev, NULL) < 0)
		return -1;
	lv_watches[lv_nwatches] = ev;
	return lv_nwatches++;
}

static int lv_del_watch(int h)
{
	if (h < 0 || h >= lv_nwatches || !lv_watches[h])
		return -1;
	event_free(lv_watches[h]);
	lv_watches[h] = NULL;
	return 0;
}

static struct timeval lv_tv(int ms)
{
	struct timeval tv = {.tv_sec = ms / 1000,
			     .tv_usec = (ms % 1000) * 1000};

	return tv;
}

static int lv_add_timer(int ms, void *opaque)
{
	struct timeval tv = lv_tv(ms);
	struct event *ev;

	if (lv_ntimers >= lv_captimers)
		return -1;
	ev = event_new(lv_base, -1, EV_PERSIST, lv_timer_fn, opaque);
	if (!ev || event_add(ev, &tv) < 0)
		return -1;
	lv_timers[lv_ntimers] = ev;
	return lv_ntimers++;
}

static int lv_update_timer(int h, int ms)
{
	struct timeval tv = lv_tv(ms);

	if (h < 0 || h >= lv_ntimers || !lv_timers[h])
		return -1;
	/* adding a pending event again reschedules it */
	return event_add(lv_timers[h], &tv);
}

static int lv_del_timer(int h)
{
	if (h < 0 || h >= lv_ntimers || !lv_timers[h])
		return -1;
	event_free(lv_timers[h]);
	lv_timers[h] = NULL;
	return 0;
}

/* A zero timeout, re-armed by its callback, fires once per iteration. */
static int lv_add_tick(void)
{
	struct timeval zero = {0, 0};

	lv_tick = event_new(lv_base, -1, 0, lv_tick_fn, NULL);
	return lv_tick ? event_add(lv_tick, &zero) : -1;
}

static int lv_del_tick(void)
{
	event_free(lv_tick);
	lv_tick = NULL;
	return 0;
}

static int lv_run_once(void)
{
	/* without NO_EXIT_ON_EMPTY the loop returns at once, rather than
	 * block, when only event_active()-driven events exist */
	return event_base_loop(lv_base, EVLOOP_ONCE | EVLOOP_NO_EXIT_ON_EMPTY) <
			       0
		       ? -1
		       : 0;
}

static int lv_run_nowait(void)
{
	return event_base_loop(lv_base,
			       EVLOOP_NONBLOCK | EVLOOP_NO_EXIT_ON_EMPTY) < 0
		       ? -1
		       : 0;
}

/* event_active() from another thread notifies the base (thread support on). */
static int lv_wake_init(void)
{
	lv_wake_ev = event_new(lv_base, -1, 0, lv_wake_fn, NULL);
	return lv_wake_ev ? 0 : -1;
}

static int lv_wake(void)
{
	event_active(lv_wake_ev, EV_TIMEOUT, 0);
	return 0;
}

const struct bk_ops bk_libevent_ops = {
	.name = "libevent",
	.describe = lv_describe,
	.init = lv_init,
	.add_watch = lv_add_watch,
	.del_watch = lv_del_watch,
	.add_timer = lv_add_timer,
	.update_timer = lv_update_timer,
	.del_timer = lv_del_timer,
	.add_tick = lv_add_tick,
	.del_tick = lv_del_tick,
	.run_once = lv_run_once,
	.run_nowait = lv_run_nowait,
	.wake_init = lv_wake_init,
	.wake = lv_wake,
};
