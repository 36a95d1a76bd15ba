/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libuv.  Watches are uv_poll_t, timers uv_timer_t, one malloc'd handle per
 * registration; removal closes the handle and libuv frees it (through our
 * close callback) during the next iteration, as its API requires.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>

#include <uv.h>

#include "bk.h"

static uv_loop_t lu_loop;
static uv_poll_t **lu_watches;
static uv_timer_t **lu_timers;
static int lu_nwatches, lu_capwatches, lu_ntimers, lu_captimers;
static uv_idle_t lu_idle;
static uv_async_t lu_async;
static char lu_desc[64];

static const char *lu_describe(void)
{
	snprintf(lu_desc, sizeof(lu_desc), "libuv %s (epoll)",
		 uv_version_string());
	return lu_desc;
}

static int lu_init(int max_watches, int max_timers, unsigned flags)
{
	(void)flags;
	if (uv_loop_init(&lu_loop) < 0)
		return -1;
	lu_capwatches = max_watches;
	lu_captimers = max_timers;
	lu_watches = calloc((size_t)max_watches + 1, sizeof(*lu_watches));
	lu_timers = calloc((size_t)max_timers + 1, sizeof(*lu_timers));
	return lu_watches && lu_timers ? 0 : -1;
}

static void lu_free_handle(uv_handle_t *h)
{
	free(h);
}

static void lu_poll_fn(uv_poll_t *h, int status, int events)
{
	(void)status;
	(void)events;
	bk_io_cb(h->io_watcher.fd, h->data);
}

static void lu_timer_fn(uv_timer_t *h)
{
	bk_timer_cb(h->data);
}

static void lu_idle_fn(uv_idle_t *h)
{
	(void)h;
	bk_tick_cb();
}

static void lu_async_fn(uv_async_t *h)
{
	(void)h;
	bk_wake_cb();
}

static int lu_add_watch(int fd, void *opaque)
{
	uv_poll_t *h;

	if (lu_nwatches >= lu_capwatches || !(h = malloc(sizeof(*h))))
		return -1;
	if (uv_poll_init(&lu_loop, h, fd) < 0) {
		free(h);
		return -1;
	}
	h->data = opaque;
	if (uv_poll_start(h, UV_READABLE, lu_poll_fn) < 0)
		return -1;
	lu_watches[lu_nwatches] = h;
	return lu_nwatches++;
}

static int lu_del_watch(int h)
{
	if (h < 0 || h >= lu_nwatches || !lu_watches[h])
		return -1;
	uv_poll_stop(lu_watches[h]);
	uv_close((uv_handle_t *)lu_watches[h], lu_free_handle);
	lu_watches[h] = NULL;
	return 0;
}

static int lu_add_timer(int ms, void *opaque)
{
	uv_timer_t *h;

	if (lu_ntimers >= lu_captimers || !(h = malloc(sizeof(*h))))
		return -1;
	uv_timer_init(&lu_loop, h);
	h->data = opaque;
	if (uv_timer_start(h, lu_timer_fn, (uint64_t)ms, (uint64_t)ms) < 0)
		return -1;
	lu_timers[lu_ntimers] = h;
	return lu_ntimers++;
}

static int lu_update_timer(int h, int ms)
{
	if (h < 0 || h >= lu_ntimers || !lu_timers[h])
		return -1;
	/* starting an active timer restarts it with the new values */
	return uv_timer_start(lu_timers[h], lu_timer_fn, (uint64_t)ms,
			      (uint64_t)ms) < 0
		       ? -1
		       : 0;
}

static int lu_del_timer(int h)
{
	if (h < 0 || h >= lu_ntimers || !lu_timers[h])
		return -1;
	uv_close((uv_handle_t *)lu_timers[h], lu_free_handle);
	lu_timers[h] = NULL;
	return 0;
}

/* Active idle handles run every iteration and make the poll not block. */
static int lu_add_tick(void)
{
	uv_idle_init(&lu_loop, &lu_idle);
	return uv_idle_start(&lu_idle, lu_idle_fn) < 0 ? -1 : 0;
}

static int lu_del_tick(void)
{
	uv_idle_stop(&lu_idle);
	return 0;
}

static int lu_run_once(void)
{
	uv_run(&lu_loop, UV_RUN_ONCE);
	return 0;
}

static int lu_run_nowait(void)
{
	uv_run(&lu_loop, UV_RUN_NOWAIT);
	return 0;
}

static int lu_wake_init(void)
{
	return uv_async_init(&lu_loop, &lu_async, lu_async_fn) < 0 ? -1 : 0;
}

static int lu_wake(void)
{
	return uv_async_send(&lu_async) < 0 ? -1 : 0;
}

const struct bk_ops bk_libuv_ops = {
	.name = "libuv",
	.describe = lu_describe,
	.init = lu_init,
	.add_watch = lu_add_watch,
	.del_watch = lu_del_watch,
	.add_timer = lu_add_timer,
	.update_timer = lu_update_timer,
	.del_timer = lu_del_timer,
	.add_tick = lu_add_tick,
	.del_tick = lu_del_tick,
	.run_once = lu_run_once,
	.run_nowait = lu_run_nowait,
	.wake_init = lu_wake_init,
	.wake = lu_wake,
};
