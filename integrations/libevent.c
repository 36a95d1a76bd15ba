/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vevent-libevent: a vevent loop embedded in a struct event_base through one
 * persistent read event on its embedding descriptor.  Any method works
 * (epoll, poll, select): libevent polls that one descriptor only. */
#include <errno.h>

#include <event2/event.h>

#include "adapter.h"
#include "vevent/vevent-libevent.h"

static struct adapter libevent_adapter;
ADAPTER_DEFINE_TABLE(libevent_adapter, libevent_table);

static void on_readable(evutil_socket_t fd, short what, void *data)
{
	adapter_dispatch(data);
}

static int libevent_attach(struct adapter *a, void *host, int fd)
{
	struct event *ev = event_new(host, fd, EV_READ | EV_PERSIST,
				     on_readable, a);
	if (!ev)
		return adapter_fail(a, ENOMEM, "bind: event_new failed");
	if (event_add(ev, NULL) < 0) {
		event_free(ev);
		return adapter_fail(a, EIO, "bind: event_add failed");
	}
	a->host_data = ev;
	return 0;
}

static void libevent_detach(struct adapter *a)
{
	event_free(a->host_data);
}

static const struct adapter_host_ops libevent_ops = {
	.attach = libevent_attach,
	.detach = libevent_detach,
};

static struct adapter libevent_adapter =
	ADAPTER_INITIALIZER("vev_libevent", &libevent_ops, &libevent_table);

int vev_libevent_bind(struct event_base *base,
		      const struct vev_event_impl **impl)
{
	if (!base || !impl)
		return adapter_fail(&libevent_adapter, EINVAL,
				    "bind: base or impl is NULL");
	return adapter_bind(&libevent_adapter, base, impl);
}

int vev_libevent_unbind(void)
{
	return adapter_unbind(&libevent_adapter);
}

vev_loop *vev_libevent_loop(void)
{
	return adapter_loop(&libevent_adapter);
}

const char *vev_libevent_last_error(void)
{
	return adapter_last_error();
}

int vev_libevent_stat(enum vev_stat which, uint64_t *value)
{
	return adapter_stat(&libevent_adapter, which, value);
}

int vev_libevent_verify(void)
{
	return adapter_verify(&libevent_adapter);
}
