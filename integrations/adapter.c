/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The binding of a vevent loop to a host loop; see adapter.h. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "adapter.h"

/* Per thread: the six functions may be called from any thread. */
static _Thread_local char last_error[256];
/* Set while this thread unbinds: a free callback that unbind runs and that
 * calls unbind again must be refused, not wait for the lock its own caller
 * holds. */
static _Thread_local const struct adapter *unbinding;

int adapter_fail(struct adapter *a, int err, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(last_error, sizeof(last_error), "%s: ", a->name);

	va_start(ap, fmt);
	vsnprintf(last_error + n, sizeof(last_error) - (size_t)n, fmt, ap);
	va_end(ap);
	return -err;
}

const char *adapter_last_error(void)
{
	return last_error;
}

/* ---- binding ------------------------------------------------------------ */

int adapter_bind(struct adapter *a, void *host,
		 const struct vev_event_impl **impl)
{
	int rc = 0;

	pthread_mutex_lock(&a->lock);
	if (atomic_load(&a->state) != ADAPTER_UNBOUND) {
		if (a->host != host)
			rc = adapter_fail(a, EBUSY, "bind: already bound to "
					  "another loop; unbind first");
		goto out;
	}
	if (!a->loop) {
		/* epoll: the backend that can be embedded. */
		vev_loop *loop;
		rc = vev_loop_new(&loop, VEV_LOOP_EPOLL);
		if (rc < 0) {
			rc = adapter_fail(a, -rc, "bind: %s", vev_last_error());
			goto out;
		}
		a->loop = loop;
	}
	int fd = vev_loop_fd(a->loop);
	if (fd < 0) {
		rc = adapter_fail(a, -fd, "bind: %s", vev_last_error());
		goto out;
	}
	rc = a->ops->attach(a, host, fd);
	if (rc < 0)
		goto out;
	a->host = host;
	atomic_store(&a->state, ADAPTER_BOUND);
out:
	if (rc == 0)
		*impl = a->table;
	pthread_mutex_unlock(&a->lock);
	return rc;
}

int adapter_unbind(struct adapter *a)
{
	if (unbinding == a)
		return adapter_fail(a, EBUSY, "unbind: called from a free "
				    "callback that unbind itself runs");
	pthread_mutex_lock(&a->lock);
	int rc = 0;
	if (atomic_load(&a->state) != ADAPTER_BOUND) {
		rc = adapter_fail(a, ENOENT, "unbind: not bound");
		goto out;
	}
	atomic_store(&a->state, ADAPTER_UNBINDING);
	unbinding = a;
	rc = vev_loop_clear(a->loop);
	unbinding = NULL;
	if (rc < 0) {
		atomic_store(&a->state, ADAPTER_BOUND);
		if (strstr(vev_last_error(), "callback"))
			rc = adapter_fail(a, EBUSY, "unbind: called from a "
					  "callback of the integration");
		else
			rc = adapter_fail(a, EBUSY, "unbind: another thread is "
					  "running an iteration of the "
					  "integration");
		goto out;
	}
	a->ops->detach(a);
	a->host = NULL;
	a->host_data = NULL;
	atomic_store(&a->state, ADAPTER_UNBOUND);
	rc = 0;
out:
	pthread_mutex_unlock(&a->lock);
	return rc;
}

void adapter_dispatch(struct adapter *a)
{
	/* -EBUSY only: another thread of the program runs an iteration of
	 * this host loop's binding at the same time; it does the work. */
	vev_run_once(a->loop, VEV_NO_WAIT);
}

/* ---- the six functions -------------------------------------------------- */

/* The loop to register with, or NULL and a message. */
static vev_loop *usable(struct adapter *a, const char *what)
{
	switch (atomic_load(&a->state)) {
	case ADAPTER_BOUND:
		return a->loop;
	case ADAPTER_UNBINDING:
		adapter_fail(a, ESHUTDOWN, "%s: the integration is being "
			     "unbound", what);
		return NULL;
	default:
		adapter_fail(a, ENOENT, "%s: not bound", what);
		return NULL;
	}
}

static int result(struct adapter *a, int rc, const char *what)
{
	if (rc >= 0)
		return rc;
	adapter_fail(a, -rc, "%s: %s", what, vev_last_error());
	return -1;
}

int adapter_add_handle(struct adapter *a, int fd, int events,
		       vev_handle_cb cb, void *opaque, vev_free_cb ff)
{
	vev_loop *loop = usable(a, "add_handle");
	if (!loop)
		return -1;
	return result(a, vev_add_handle(loop, fd, events, cb, opaque, ff),
		      "add_handle");
}

void adapter_update_handle(struct adapter *a, int watch, int events)
{
	/* Unknown ids, and calls while unbound, do nothing, as in libvirt. */
	if (a->loop && atomic_load(&a->state) != ADAPTER_UNBOUND)
		vev_update_handle(a->loop, watch, events);
}

int adapter_remove_handle(struct adapter *a, int watch)
{
	if (!a->loop || atomic_load(&a->state) == ADAPTER_UNBOUND)
		return adapter_fail(a, ENOENT, "remove_handle: not bound"),
		       -1;
	return result(a, vev_remove_handle(a->loop, watch), "remove_handle");
}

int adapter_add_timeout(struct adapter *a, int timeout_ms, vev_timer_cb cb,
			void *opaque, vev_free_cb ff)
{
	vev_loop *loop = usable(a, "add_timeout");
	if (!loop)
		return -1;
	return result(a, vev_add_timer(loop, timeout_ms, cb, opaque, ff),
		      "add_timeout");
}

void adapter_update_timeout(struct adapter *a, int timer, int timeout_ms)
{
	if (a->loop && atomic_load(&a->state) != ADAPTER_UNBOUND)
		vev_update_timer(a->loop, timer, timeout_ms);
}

int adapter_remove_timeout(struct adapter *a, int timer)
{
	if (!a->loop || atomic_load(&a->state) == ADAPTER_UNBOUND)
		return adapter_fail(a, ENOENT, "remove_timeout: not bound"),
		       -1;
	return result(a, vev_remove_timer(a->loop, timer), "remove_timeout");
}

/* ---- introspection ------------------------------------------------------ */

vev_loop *adapter_loop(struct adapter *a)
{
	return atomic_load(&a->state) == ADAPTER_UNBOUND ? NULL : a->loop;
}

int adapter_stat(struct adapter *a, enum vev_stat which, uint64_t *value)
{
	if (!value || (unsigned)which >= VEV_STAT_COUNT_)
		return adapter_fail(a, EINVAL, "stat: value is NULL or the "
				    "counter unknown");
	if (!a->loop) { /* never bound: nothing happened yet */
		*value = 0;
		return 0;
	}
	return vev_loop_stat(a->loop, which, value);
}

int adapter_verify(struct adapter *a)
{
	if (!a->loop)
		return 0;
	int rc = vev_loop_verify(a->loop);
	if (rc < 0)
		adapter_fail(a, -rc, "verify: %s", vev_last_error());
	return rc;
}
