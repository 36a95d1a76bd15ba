/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * GLib on a private GMainContext.  Watches are g_unix_fd sources; timers are
 * sources driven by g_source_set_ready_time(), so an update is O(1) in GLib
 * itself (GLib then scans every source on each iteration).  The cross-thread
 * wake-up sets the ready time of such a source from the other thread, which
 * GLib documents as thread-safe and as waking the context.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>

#include <glib-unix.h>
#include <glib.h>

#include "bk.h"

struct gl_timer {
	GSource src;
	gint64 period_us;
	void *opaque;
	int is_wake;
};

static GMainContext *gl_ctx;
static GSource **gl_watches;
static GSource **gl_timers;
static int gl_nwatches, gl_capwatches, gl_ntimers, gl_captimers;
static GSource *gl_idle;
static struct gl_timer *gl_wake_src;
static char gl_desc[64];

static const char *gl_describe(void)
{
	snprintf(gl_desc, sizeof(gl_desc), "GLib %u.%u.%u (poll)",
		 glib_major_version, glib_minor_version, glib_micro_version);
	return gl_desc;
}

static int gl_init(int max_watches, int max_timers, unsigned flags)
{
	(void)flags;
	gl_ctx = g_main_context_new();
	if (!gl_ctx || !g_main_context_acquire(gl_ctx))
		return -1;
	gl_capwatches = max_watches;
	gl_captimers = max_timers;
	gl_watches = calloc((size_t)max_watches + 1, sizeof(*gl_watches));
	gl_timers = calloc((size_t)max_timers + 1, sizeof(*gl_timers));
	return gl_watches && gl_timers ? 0 : -1;
}

static gboolean gl_fd_fn(gint fd, GIOCondition cond, gpointer data)
{
	(void)cond;
	bk_io_cb(fd, data);
	return G_SOURCE_CONTINUE;
}

static gboolean gl_timer_dispatch(GSource *src, GSourceFunc cb, gpointer data)
{
	struct gl_timer *t = (struct gl_timer *)src;

	(void)cb;
	(void)data;
	if (t->is_wake) {
		g_source_set_ready_time(src, -1);
		bk_wake_cb();
	} else {
		g_source_set_ready_time(src,
					g_source_get_time(src) + t->period_us);
		bk_timer_cb(t->opaque);
	}
	return G_SOURCE_CONTINUE;
}

static GSourceFuncs gl_timer_funcs = {
	.dispatch = gl_timer_dispatch,
};

static gboolean gl_idle_fn(gpointer data)
{
	(void)data;
	bk_tick_cb();
	return G_SOURCE_CONTINUE;
}

static int gl_add_watch(int fd, void *opaque)
{
	GSource *s;

	if (gl_nwatches >= gl_capwatches)
		return -1;
	s = g_unix_fd_source_new(fd, G_IO_IN);
	g_source_set_callback(s, (GSourceFunc)(void (*)(void))gl_fd_fn, opaque,
			      NULL);
	g_source_attach(s, gl_ctx);
	gl_watches[gl_nwatches] = s;
	return gl_nwatches++;
}

static int gl_del_watch(int h)
{
	if (h < 0 || h >= gl_nwatches || !gl_watches[h])
		return -1;
	g_source_destroy(gl_watches[h]);
	g_source_unref(gl_watches[h]);
	gl_watches[h] = NULL;
	return 0;
}

static struct gl_timer *gl_timer_new(int ms, void *opaque)
{
	struct gl_timer *t = (struct gl_timer *)g_source_new(
		&gl_timer_funcs, sizeof(struct gl_timer));

	t->period_us = (gint64)ms * 1000;
	t->opaque = opaque;
	t->is_wake = 0;
	return t;
}

static int gl_add_timer(int ms, void *opaque)
{
	struct gl_timer *t;

	if (gl_ntimers >= gl_captimers)
		return -1;
	t = gl_timer_new(ms, opaque);
	g_source_set_ready_time(&t->src, g_get_monotonic_time() + t->period_us);
	g_source_attach(&t->src, gl_ctx);
	gl_timers[gl_ntimers] = &t->src;
	return gl_ntimers++;
}

static int gl_update_timer(int h, int ms)
{
	struct gl_timer *t;

	if (h < 0 || h >= gl_ntimers || !gl_timers[h])
		return -1;
	t = (struct gl_timer *)gl_timers[h];
	t->period_us = (gint64)ms * 1000;
	g_source_set_ready_time(&t->src, g_get_monotonic_time() + t->period_us);
	return 0;
}

static int gl_del_timer(int h)
{
	if (h < 0 || h >= gl_ntimers || !gl_timers[h])
		return -1;
	g_source_destroy(gl_timers[h]);
	g_source_unref(gl_timers[h]);
	gl_timers[h] = NULL;
	return 0;
}

static int gl_add_tick(void)
{
	gl_idle = g_idle_source_new();
	g_source_set_priority(gl_idle, G_PRIORITY_DEFAULT);
	g_source_set_callback(gl_idle, gl_idle_fn, NULL, NULL);
	g_source_attach(gl_idle, gl_ctx);
	return 0;
}

static int gl_del_tick(void)
{
	g_source_destroy(gl_idle);
	g_source_unref(gl_idle);
	gl_idle = NULL;
	return 0;
}

static int gl_run_once(void)
{
	g_main_context_iteration(gl_ctx, TRUE);
	return 0;
}

static int gl_run_nowait(void)
{
	g_main_context_iteration(gl_ctx, FALSE);
	return 0;
}

static int gl_wake_init(void)
{
	gl_wake_src = gl_timer_new(0, NULL);
	gl_wake_src->is_wake = 1;
	g_source_set_ready_time(&gl_wake_src->src, -1);
	g_source_attach(&gl_wake_src->src, gl_ctx);
	return 0;
}

static int gl_wake(void)
{
	g_source_set_ready_time(&gl_wake_src->src, 0);
	return 0;
}

const struct bk_ops bk_glib_ops = {
	.name = "glib",
	.describe = gl_describe,
	.init = gl_init,
	.add_watch = gl_add_watch,
	.del_watch = gl_del_watch,
	.add_timer = gl_add_timer,
	.update_timer = gl_update_timer,
	.del_timer = gl_del_timer,
	.add_tick = gl_add_tick,
	.del_tick = gl_del_tick,
	.run_once = gl_run_once,
	.run_nowait = gl_run_nowait,
	.wake_init = gl_wake_init,
	.wake = gl_wake,
};
