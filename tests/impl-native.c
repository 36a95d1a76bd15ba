/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The contract's subject: the native API on one loop.  Built a second time
 * with IMPL_EMBED: the same loop embedded in a host loop made of plain
 * poll(2) on vev_loop_fd(), which never computes a timeout of its own and
 * runs vev_run_once(loop, VEV_NO_WAIT) whenever the descriptor is readable:
 * timers, free callbacks and cross-thread changes must all reach the host
 * through that descriptor. */
#include <poll.h>
#include <stdatomic.h>
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

#ifdef IMPL_EMBED
static atomic_bool host_polling;
static int loop_fd;

/* One iteration of the host: wait for the descriptor (the test's own
 * timeout_ms bounds the wait, as it bounds a native iteration), then one
 * non-blocking iteration of the loop. */
static int run_once(int timeout_ms)
{
	struct pollfd p = { .fd = loop_fd, .events = POLLIN };

	atomic_store(&host_polling, true);
	int n = poll(&p, 1, timeout_ms < 0 ? -1 : timeout_ms);
	atomic_store(&host_polling, false);
	if (n < 0)
		return errno == EINTR ? 0 : -1;
	if (n == 0)
		return 0;
	CHECK_EQ(p.revents, POLLIN);
	int rc = vev_run_once(loop, VEV_NO_WAIT);
	return rc < 0 ? -1 : rc;
}

static bool is_polling(void)
{
	return atomic_load(&host_polling);
}
#else
static int run_once(int timeout_ms)
{
	int rc = vev_run_once(loop, timeout_ms);
	return rc < 0 ? -1 : rc;
}

static bool is_polling(void)
{
	return vev__test_is_polling(loop);
}
#endif

static int verify(void)
{
	return impl_verify(loop);
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
#ifdef IMPL_EMBED
	.name = "embedded",
#else
	.name = "native",
#endif
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
#ifdef IMPL_EMBED
	loop_fd = vev_loop_fd(loop);
	CHECK(loop_fd >= 0);
#endif
	atexit(cleanup);
	return &native;
}
