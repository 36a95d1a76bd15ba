/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The contract's subject: the native API on one loop. */
#include <stdlib.h>

#include "harness.h"
#include "impl.h"
#include "loop-private.h"
#include "vevent/vevent.h"

static vev_loop *loop;

static int add_handle(int fd, int events, virEventHandleCallback cb,
		      void *opaque, virFreeCallback ff)
{
	int rc = vev_add_handle(loop, fd, events, cb, opaque, ff);
	return rc < 0 ? -1 : rc;
}

static void update_handle(int watch, int events)
{
	vev_update_handle(loop, watch, events);
}

static int remove_handle(int watch)
{
	return vev_remove_handle(loop, watch) < 0 ? -1 : 0;
}

static int add_timeout(int timeout, virEventTimeoutCallback cb, void *opaque,
		       virFreeCallback ff)
{
	int rc = vev_add_timer(loop, timeout, cb, opaque, ff);
	return rc < 0 ? -1 : rc;
}

static void update_timeout(int timer, int timeout)
{
	vev_update_timer(loop, timer, timeout);
}

static int remove_timeout(int timer)
{
	return vev_remove_timer(loop, timer) < 0 ? -1 : 0;
}

static int run_once(int timeout_ms)
{
	int rc = vev_run_once(loop, timeout_ms);
	return rc < 0 ? -1 : rc;
}

static int verify(void)
{
	return impl_verify(loop);
}

static bool is_polling(void)
{
	return vev__test_is_polling(loop);
}

static int live(void)
{
	return impl_live(loop);
}

static int pending_frees(void)
{
	return impl_pending_frees(loop);
}

static const char *backend(void)
{
	return vev_loop_backend(loop);
}

static void cleanup(void)
{
	CHECK(vev_loop_free(loop) == 0);
}

static const struct impl native = {
	.name = "native",
	.add_handle = add_handle,
	.update_handle = update_handle,
	.remove_handle = remove_handle,
	.add_timeout = add_timeout,
	.update_timeout = update_timeout,
	.remove_timeout = remove_timeout,
	.run_once = run_once,
	.verify = verify,
	.is_polling = is_polling,
	.live = live,
	.pending_frees = pending_frees,
	.backend = backend,
	.last_error = vev_last_error,
};

const struct impl *impl_setup(void)
{
	CHECK(vev_loop_new(&loop, VEV_LOOP_AUTO) == 0);
	atexit(cleanup);
	return &native;
}
