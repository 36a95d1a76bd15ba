/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The libevent host: a private event base (its method as libevent picks it,
 * so EVENT_NOEPOLL=1 selects poll), run by the test's thread. */
#include <errno.h>

#include <event2/event.h>

#include "harness.h"
#include "host.h"
#include "vevent/vevent-libevent.h"

static struct event_base *base;
static struct event *own_event;

static void create(void)
{
	base = event_base_new();
	CHECK(base != NULL);
}

static void destroy(void)
{
	event_base_free(base);
	base = NULL;
}

static int do_bind(const struct vev_event_impl **impl)
{
	return vev_libevent_bind(base, impl);
}

static int bind_null(void)
{
	return vev_libevent_bind(base, NULL);
}

static int bind_other(const struct vev_event_impl **impl)
{
	struct event_base *other = event_base_new();
	CHECK(other != NULL);
	int rc = vev_libevent_bind(other, impl);
	event_base_free(other);
	return rc;
}

static void time_is_up(evutil_socket_t fd, short what, void *arg)
{
}

static int run(int timeout_ms)
{
	int rc;

	if (timeout_ms <= 0) {
		int flags = EVLOOP_ONCE;
		if (timeout_ms == 0)
			flags |= EVLOOP_NONBLOCK;
		rc = event_base_loop(base, flags);
		return rc < 0 ? -1 : 0;
	}
	struct event *limit = evtimer_new(base, time_is_up, NULL);
	CHECK(limit != NULL);
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	evtimer_add(limit, &tv);
	rc = event_base_loop(base, EVLOOP_ONCE);
	event_free(limit);
	return rc < 0 ? -1 : 0;
}

static const char *method(void)
{
	return event_base_get_method(base);
}

static bool in_dispatch(void)
{
	return event_base_get_running_event(base) != NULL;
}

static void own_readable(evutil_socket_t fd, short what, void *arg)
{
}

static int own_poll(int fd)
{
	own_event = event_new(base, fd, EV_READ | EV_PERSIST, own_readable,
			      NULL);
	CHECK(own_event != NULL);
	CHECK_EQ(event_add(own_event, NULL), 0);
	return 0;
}

static void own_unpoll(void)
{
	event_free(own_event);
	own_event = NULL;
}



const struct host host = {
	.name = "libevent",
	.create = create,
	.destroy = destroy,
	.bind = do_bind,
	.unbind = vev_libevent_unbind,
	.loop = vev_libevent_loop,
	.last_error = vev_libevent_last_error,
	.stat = vev_libevent_stat,
	.verify = vev_libevent_verify,
	.bind_null = bind_null,
	.bind_other = bind_other,
	.run = run,
	.method = method,
	.in_dispatch = in_dispatch,
	.own_poll = own_poll,
	.own_unpoll = own_unpoll,
};
