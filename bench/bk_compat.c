/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The libvirt event API (virEvent*) with its default implementation.  This
 * one file is compiled twice: against vevent-compat, and with
 * BK_COMPAT_LIBVIRT against the real libvirt, so both are measured running
 * identical code.  Only the header and the optional statistics differ.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>

#ifdef BK_COMPAT_LIBVIRT
#include <libvirt/libvirt.h>
#else
#include <vevent/libvirt-event.h>
#include <vevent/vevent.h>
#endif

#include "bk.h"

static int cp_tick = -1;
static int cp_wake_timer = -1;
static char cp_desc[96];

static const char *cp_describe(void)
{
#ifdef BK_COMPAT_LIBVIRT
	unsigned long v = 0;

	virGetVersion(&v, NULL, NULL);
	snprintf(cp_desc, sizeof(cp_desc),
		 "libvirt %lu.%lu.%lu, virEventRegisterDefaultImpl",
		 v / 1000000, v / 1000 % 1000, v % 1000);
#else
	snprintf(cp_desc, sizeof(cp_desc),
		 "vevent %s, virEventRegisterDefaultImpl (compat API)",
		 vev_version());
#endif
	return cp_desc;
}

static int cp_init(int max_watches, int max_timers, unsigned flags)
{
	(void)max_watches;
	(void)max_timers;
	(void)flags;
	return virEventRegisterDefaultImpl() < 0 ? -1 : 0;
}

static void cp_io(int watch, int fd, int events, void *opaque)
{
	(void)watch;
	(void)events;
	bk_io_cb(fd, opaque);
}

static void cp_timer(int timer, void *opaque)
{
	(void)timer;
	bk_timer_cb(opaque);
}

static void cp_tick_fn(int timer, void *opaque)
{
	(void)timer;
	(void)opaque;
	bk_tick_cb();
}

static void cp_wake_fn(int timer, void *opaque)
{
	(void)opaque;
	virEventUpdateTimeout(timer, -1);
	bk_wake_cb();
}

static int cp_add_watch(int fd, void *opaque)
{
	int r = virEventAddHandle(fd, VIR_EVENT_HANDLE_READABLE, cp_io, opaque,
				  NULL);

	return r > 0 ? r : -1;
}

static int cp_del_watch(int h)
{
	return virEventRemoveHandle(h);
}

static int cp_add_timer(int ms, void *opaque)
{
	int r = virEventAddTimeout(ms, cp_timer, opaque, NULL);

	return r > 0 ? r : -1;
}

static int cp_update_timer(int h, int ms)
{
	virEventUpdateTimeout(h, ms);
	return 0;
}

static int cp_del_timer(int h)
{
	return virEventRemoveTimeout(h);
}

static int cp_add_tick(void)
{
	cp_tick = virEventAddTimeout(0, cp_tick_fn, NULL, NULL);
	return cp_tick > 0 ? 0 : -1;
}

static int cp_del_tick(void)
{
	return virEventRemoveTimeout(cp_tick);
}

static int cp_run_once(void)
{
	return virEventRunDefaultImpl();
}

static int cp_wake_init(void)
{
	cp_wake_timer = virEventAddTimeout(-1, cp_wake_fn, NULL, NULL);
	return cp_wake_timer > 0 ? 0 : -1;
}

static int cp_wake(void)
{
	virEventUpdateTimeout(cp_wake_timer, 0);
	return 0;
}

#ifndef BK_COMPAT_LIBVIRT
static int cp_mem_bytes(uint64_t *bytes)
{
	return vev_loop_stat(vev_compat_default_loop(), VEV_STAT_MEMORY,
			     bytes) < 0
		       ? -1
		       : 0;
}

static int cp_io_calls(uint64_t *calls)
{
	return vev_loop_stat(vev_compat_default_loop(), VEV_STAT_HANDLE_CALLS,
			     calls) < 0
		       ? -1
		       : 0;
}
#endif

const struct bk_ops bk_compat_ops = {
#ifdef BK_COMPAT_LIBVIRT
	.name = "libvirt",
#else
	.name = "vevent-compat",
	.mem_bytes = cp_mem_bytes,
	.io_calls = cp_io_calls,
#endif
	.describe = cp_describe,
	.init = cp_init,
	.add_watch = cp_add_watch,
	.del_watch = cp_del_watch,
	.add_timer = cp_add_timer,
	.update_timer = cp_update_timer,
	.del_timer = cp_del_timer,
	.add_tick = cp_add_tick,
	.del_tick = cp_del_tick,
	.run_once = cp_run_once,
	.wake_init = cp_wake_init,
	.wake = cp_wake,
};
