/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vevent's native API, on its epoll and on its poll backend. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>

#include <vevent/vevent.h>

#include "bk.h"

static vev_loop *vv_loop;
static int vv_tick = -1;
static int vv_wake_timer = -1;
static char vv_desc[96];

static const char *vv_describe(void)
{
	snprintf(vv_desc, sizeof(vv_desc), "vevent %s, native API",
		 vev_version());
	return vv_desc;
}

static int vv_init(unsigned backend)
{
	return vev_loop_new(&vv_loop, backend) < 0 ? -1 : 0;
}

static int vv_init_epoll(int max_watches, int max_timers, unsigned flags)
{
	(void)max_watches;
	(void)max_timers;
	(void)flags;
	return vv_init(VEV_LOOP_EPOLL);
}

static int vv_init_poll(int max_watches, int max_timers, unsigned flags)
{
	(void)max_watches;
	(void)max_timers;
	(void)flags;
	return vv_init(VEV_LOOP_POLL);
}

static void vv_io(int watch, int fd, int events, void *opaque)
{
	(void)watch;
	(void)events;
	bk_io_cb(fd, opaque);
}

static void vv_timer(int timer, void *opaque)
{
	(void)timer;
	bk_timer_cb(opaque);
}

static void vv_tick_fn(int timer, void *opaque)
{
	(void)timer;
	(void)opaque;
	bk_tick_cb();
}

static void vv_wake_fn(int timer, void *opaque)
{
	(void)opaque;
	vev_update_timer(vv_loop, timer, -1);
	bk_wake_cb();
}

static int vv_add_watch(int fd, void *opaque)
{
	int r = vev_add_handle(vv_loop, fd, VEV_READABLE, vv_io, opaque, NULL);

	return r > 0 ? r : -1;
}

static int vv_del_watch(int h)
{
	return vev_remove_handle(vv_loop, h) < 0 ? -1 : 0;
}

static int vv_add_timer(int ms, void *opaque)
{
	int r = vev_add_timer(vv_loop, ms, vv_timer, opaque, NULL);

	return r > 0 ? r : -1;
}

static int vv_update_timer(int h, int ms)
{
	return vev_update_timer(vv_loop, h, ms) < 0 ? -1 : 0;
}

static int vv_del_timer(int h)
{
	return vev_remove_timer(vv_loop, h) < 0 ? -1 : 0;
}

static int vv_add_tick(void)
{
	vv_tick = vev_add_timer(vv_loop, 0, vv_tick_fn, NULL, NULL);
	return vv_tick > 0 ? 0 : -1;
}

static int vv_del_tick(void)
{
	return vev_remove_timer(vv_loop, vv_tick) < 0 ? -1 : 0;
}

static int vv_run_once(void)
{
	return vev_run_once(vv_loop, VEV_WAIT_FOREVER) < 0 ? -1 : 0;
}

static int vv_run_nowait(void)
{
	return vev_run_once(vv_loop, VEV_NO_WAIT) < 0 ? -1 : 0;
}

/* The waker re-arms a disabled timer with period 0; the callback disables it
 * again.  That is what a vevent user does to run code on the loop thread. */
static int vv_wake_init(void)
{
	vv_wake_timer = vev_add_timer(vv_loop, -1, vv_wake_fn, NULL, NULL);
	return vv_wake_timer > 0 ? 0 : -1;
}

static int vv_wake(void)
{
	return vev_update_timer(vv_loop, vv_wake_timer, 0) < 0 ? -1 : 0;
}

static int vv_mem_bytes(uint64_t *bytes)
{
	return vev_loop_stat(vv_loop, VEV_STAT_MEMORY, bytes) < 0 ? -1 : 0;
}

static int vv_io_calls(uint64_t *calls)
{
	return vev_loop_stat(vv_loop, VEV_STAT_HANDLE_CALLS, calls) < 0 ? -1
									: 0;
}

#define VV_OPS(NAME, INIT)                                                     \
	{                                                                      \
		.name = NAME, .describe = vv_describe, .init = INIT,           \
		.add_watch = vv_add_watch, .del_watch = vv_del_watch,          \
		.add_timer = vv_add_timer, .update_timer = vv_update_timer,    \
		.del_timer = vv_del_timer, .add_tick = vv_add_tick,            \
		.del_tick = vv_del_tick, .run_once = vv_run_once,              \
		.run_nowait = vv_run_nowait, .wake_init = vv_wake_init,        \
		.wake = vv_wake, .mem_bytes = vv_mem_bytes,                    \
		.io_calls = vv_io_calls,                                       \
	}

const struct bk_ops bk_vevent_epoll_ops = VV_OPS("vevent-epoll", vv_init_epoll);
const struct bk_ops bk_vevent_poll_ops = VV_OPS("vevent-poll", vv_init_poll);
