/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vevent-libuv: a vevent loop embedded in a uv_loop_t through one poll
 * handle on its embedding descriptor.  The handle is active while bound, so
 * it keeps uv_run() going until vev_libuv_unbind(). */
#include <errno.h>
#include <stdlib.h>

#include <uv.h>

#include "adapter.h"
#include "vevent/vevent-libuv.h"

static struct adapter libuv_adapter;
ADAPTER_DEFINE_TABLE(libuv_adapter, libuv_table);

static void on_readable(uv_poll_t *handle, int status, int events)
{
	/* status < 0 cannot say anything the iteration would not find out. */
	adapter_dispatch(handle->data);
}

static int libuv_attach(struct adapter *a, void *host, int fd)
{
	/* On the heap: closing completes in a later uv_run(), possibly after
	 * the next bind. */
	uv_poll_t *handle = malloc(sizeof(*handle));
	if (!handle)
		return adapter_fail(a, ENOMEM, "bind: out of memory");
	int rc = uv_poll_init(host, handle, fd);
	if (rc < 0) {
		free(handle);
		return adapter_fail(a, -rc, "bind: uv_poll_init: %s",
				    uv_strerror(rc));
	}
	handle->data = a;
	rc = uv_poll_start(handle, UV_READABLE, on_readable);
	if (rc < 0) {
		uv_close((uv_handle_t *)handle, (uv_close_cb)free);
		return adapter_fail(a, -rc, "bind: uv_poll_start: %s",
				    uv_strerror(rc));
	}
	a->host_data = handle;
	return 0;
}

static void libuv_detach(struct adapter *a)
{
	uv_close(a->host_data, (uv_close_cb)free);
}

static const struct adapter_host_ops libuv_ops = {
	.attach = libuv_attach,
	.detach = libuv_detach,
};

static struct adapter libuv_adapter =
	ADAPTER_INITIALIZER("vev_libuv", &libuv_ops, &libuv_table);

int vev_libuv_bind(uv_loop_t *loop, const struct vev_event_impl **impl)
{
	if (!loop || !impl)
		return adapter_fail(&libuv_adapter, EINVAL,
				    "bind: loop or impl is NULL");
	return adapter_bind(&libuv_adapter, loop, impl);
}

int vev_libuv_unbind(void)
{
	return adapter_unbind(&libuv_adapter);
}

vev_loop *vev_libuv_loop(void)
{
	return adapter_loop(&libuv_adapter);
}

const char *vev_libuv_last_error(void)
{
	return adapter_last_error();
}

int vev_libuv_stat(enum vev_stat which, uint64_t *value)
{
	return adapter_stat(&libuv_adapter, which, value);
}

int vev_libuv_verify(void)
{
	return adapter_verify(&libuv_adapter);
}
