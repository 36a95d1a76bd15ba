/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Built by install-test.sh from the installed headers and pkg-config files
 * alone: binds one integration, fires a timer, watches a pipe, unbinds.
 * Prints "ok". */
#include <stdio.h>
#include <unistd.h>

#if defined(USE_GLIB)
#include <vevent/vevent-glib.h>
#define PREFIX "glib"
#elif defined(USE_LIBEVENT)
#include <event2/event.h>
#include <vevent/vevent-libevent.h>
#define PREFIX "libevent"
#elif defined(USE_LIBUV)
#include <vevent/vevent-libuv.h>
#define PREFIX "libuv"
#endif

static int timer_calls, handle_calls, frees;

static void on_timer(int timer, void *opaque)
{
	timer_calls++;
}

static void on_readable(int watch, int fd, int events, void *opaque)
{
	handle_calls += events == VEV_READABLE;
}

static void on_free(void *opaque)
{
	frees++;
}

int main(void)
{
	const struct vev_event_impl *impl;
	int p[2];

	if (pipe(p) < 0 || write(p[1], "x", 1) != 1)
		return 1;
#if defined(USE_GLIB)
	GMainContext *ctx = g_main_context_new();
	if (vev_glib_bind(ctx, &impl) < 0)
		return 1;
#define RUN() g_main_context_iteration(ctx, FALSE)
#elif defined(USE_LIBEVENT)
	struct event_base *base = event_base_new();
	if (!base || vev_libevent_bind(base, &impl) < 0)
		return 1;
#define RUN() event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK)
#elif defined(USE_LIBUV)
	uv_loop_t loop;
	if (uv_loop_init(&loop) < 0 || vev_libuv_bind(&loop, &impl) < 0)
		return 1;
#define RUN() uv_run(&loop, UV_RUN_NOWAIT)
#endif
	int t = impl->add_timeout(0, on_timer, NULL, on_free);
	int w = impl->add_handle(p[0], VEV_READABLE, on_readable, NULL,
				 on_free);
	if (t != 1 || w != 1)
		return 1;
	for (int i = 0; i < 3; i++)
		RUN();
	impl->remove_timeout(t);
	impl->remove_handle(w);
	RUN();
	if (timer_calls != 3 || handle_calls != 3 || frees != 2) {
		fprintf(stderr, "%s: %d timer calls, %d handle calls, "
			"%d frees\n", PREFIX, timer_calls, handle_calls, frees);
		return 1;
	}
#if defined(USE_GLIB)
	vev_glib_unbind();
	g_main_context_unref(ctx);
#elif defined(USE_LIBEVENT)
	vev_libevent_unbind();
	event_base_free(base);
#elif defined(USE_LIBUV)
	vev_libuv_unbind();
	uv_run(&loop, UV_RUN_DEFAULT);
	if (uv_loop_close(&loop) < 0)
		return 1;
#endif
	printf("ok\n");
	return 0;
}
