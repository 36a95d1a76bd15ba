/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The libuv host: a private uv_loop_t, run by the test's thread. */
#include <errno.h>

#include <uv.h>

#include "harness.h"
#include "host.h"
#include "vevent/vevent-libuv.h"

static uv_loop_t loop;
static uv_timer_t limit;  /* bounds run(timeout > 0) */
static uv_poll_t own;
static bool running;

static void create(void)
{
	CHECK_EQ(uv_loop_init(&loop), 0);
	CHECK_EQ(uv_timer_init(&loop, &limit), 0);
}

static void destroy(void)
{
	uv_close((uv_handle_t *)&limit, NULL);
	/* Lets libuv finish closing the binding's handle, then returns:
	 * nothing else keeps the loop alive. */
	CHECK_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
	CHECK_EQ(uv_loop_close(&loop), 0);
}

static int do_bind(const struct vev_event_impl **impl)
{
	return vev_libuv_bind(&loop, impl);
}

static int bind_null(void)
{
	return vev_libuv_bind(&loop, NULL);
}

static int bind_other(const struct vev_event_impl **impl)
{
	uv_loop_t other;
	CHECK_EQ(uv_loop_init(&other), 0);
	int rc = vev_libuv_bind(&other, impl);
	CHECK_EQ(uv_loop_close(&other), 0);
	return rc;
}

static void time_is_up(uv_timer_t *t)
{
}

static int run(int timeout_ms)
{
	running = true;
	if (timeout_ms == 0) {
		uv_run(&loop, UV_RUN_NOWAIT);
	} else if (timeout_ms < 0) {
		uv_run(&loop, UV_RUN_ONCE);
	} else {
		/* libuv counts from its cached time, which is as old as the
		 * last iteration. */
		uv_update_time(&loop);
		uv_timer_start(&limit, time_is_up, (uint64_t)timeout_ms, 0);
		uv_run(&loop, UV_RUN_ONCE);
		uv_timer_stop(&limit);
	}
	running = false;
	return 0;
}

static const char *method(void)
{
	return "epoll";
}

static bool in_dispatch(void)
{
	return running;
}

static void own_readable(uv_poll_t *h, int status, int events)
{
}

static int own_poll(int fd)
{
	CHECK_EQ(uv_poll_init(&loop, &own, fd), 0);
	CHECK_EQ(uv_poll_start(&own, UV_READABLE, own_readable), 0);
	return 0;
}

static void own_unpoll(void)
{
	uv_close((uv_handle_t *)&own, NULL);
	uv_run(&loop, UV_RUN_NOWAIT);
}



const struct host host = {
	.name = "libuv",
	.create = create,
	.destroy = destroy,
	.bind = do_bind,
	.unbind = vev_libuv_unbind,
	.loop = vev_libuv_loop,
	.last_error = vev_libuv_last_error,
	.stat = vev_libuv_stat,
	.verify = vev_libuv_verify,
	.bind_null = bind_null,
	.bind_other = bind_other,
	.run = run,
	.method = method,
	.in_dispatch = in_dispatch,
	.own_poll = own_poll,
	.own_unpoll = own_unpoll,
};
