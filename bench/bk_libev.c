/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libev (epoll backend).  One malloc'd watcher per registration. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>

#include <ev.h>

#include "bk.h"

static struct ev_loop *le_loop;
static ev_io **le_watches;
static ev_timer **le_timers;
static int le_nwatches, le_capwatches, le_ntimers, le_captimers;
static ev_idle le_idle;
static ev_async le_async;
static char le_desc[64];

static const char *le_describe(void)
{
	snprintf(le_desc, sizeof(le_desc), "libev %d.%d (epoll)",
		 ev_version_major(), ev_version_minor());
	return le_desc;
}

static int le_init(int max_watches, int max_timers, unsigned flags)
{
	(void)flags;
	le_loop = ev_loop_new(EVBACKEND_EPOLL);
	le_capwatches = max_watches;
	le_captimers = max_timers;
	le_watches = calloc((size_t)max_watches + 1, sizeof(*le_watches));
	le_timers = calloc((size_t)max_timers + 1, sizeof(*le_timers));
	return le_loop && le_watches && le_timers ? 0 : -1;
}

static void le_io_fn(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	bk_io_cb(w->fd, w->data);
}

static void le_timer_fn(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	bk_timer_cb(w->data);
}

static void le_idle_fn(struct ev_loop *loop, ev_idle *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	bk_tick_cb();
}

static void le_async_fn(struct ev_loop *loop, ev_async *w, int revents)
{
	(void)loop;
	(void)w;
	(void)revents;
	bk_wake_cb();
}

static int le_add_watch(int fd, void *opaque)
{
	ev_io *w;

	if (le_nwatches >= le_capwatches || !(w = malloc(sizeof(*w))))
		return -1;
	ev_io_init(w, le_io_fn, fd, EV_READ);
	w->data = opaque;
	ev_io_start(le_loop, w);
	le_watches[le_nwatches] = w;
	return le_nwatches++;
}

static int le_del_watch(int h)
{
	if (h < 0 || h >= le_nwatches || !le_watches[h])
		return -1;
	ev_io_stop(le_loop, le_watches[h]);
	free(le_watches[h]);
	le_watches[h] = NULL;
	return 0;
}

static int le_add_timer(int ms, void *opaque)
{
	ev_timer *w;

	if (le_ntimers >= le_captimers || !(w = malloc(sizeof(*w))))
		return -1;
	ev_timer_init(w, le_timer_fn, ms / 1000.0, ms / 1000.0);
	w->data = opaque;
	ev_timer_start(le_loop, w);
	le_timers[le_ntimers] = w;
	return le_ntimers++;
}

static int le_update_timer(int h, int ms)
{
	if (h < 0 || h >= le_ntimers || !le_timers[h])
		return -1;
	/* ev_timer_again restarts a repeating timer from now in O(log n) */
	le_timers[h]->repeat = ms / 1000.0;
	ev_timer_again(le_loop, le_timers[h]);
	return 0;
}

static int le_del_timer(int h)
{
	if (h < 0 || h >= le_ntimers || !le_timers[h])
		return -1;
	ev_timer_stop(le_loop, le_timers[h]);
	free(le_timers[h]);
	le_timers[h] = NULL;
	return 0;
}

/* An active idle watcher runs every iteration and keeps it from blocking. */
static int le_add_tick(void)
{
	ev_idle_init(&le_idle, le_idle_fn);
	ev_idle_start(le_loop, &le_idle);
	return 0;
}

static int le_del_tick(void)
{
	ev_idle_stop(le_loop, &le_idle);
	return 0;
}

static int le_run_once(void)
{
	ev_run(le_loop, EVRUN_ONCE);
	return 0;
}

static int le_run_nowait(void)
{
	ev_run(le_loop, EVRUN_NOWAIT);
	return 0;
}

static int le_wake_init(void)
{
	ev_async_init(&le_async, le_async_fn);
	ev_async_start(le_loop, &le_async);
	return 0;
}

static int le_wake(void)
{
	ev_async_send(le_loop, &le_async);
	return 0;
}

const struct bk_ops bk_libev_ops = {
	.name = "libev",
	.describe = le_describe,
	.init = le_init,
	.add_watch = le_add_watch,
	.del_watch = le_del_watch,
	.add_timer = le_add_timer,
	.update_timer = le_update_timer,
	.del_timer = le_del_timer,
	.add_tick = le_add_tick,
	.del_tick = le_del_tick,
	.run_once = le_run_once,
	.run_nowait = le_run_nowait,
	.wake_init = le_wake_init,
	.wake = le_wake,
};
