/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vevent-libuv: the engine on a uv_loop_t.
 *
 * libuv's only thread-safe call is uv_async_send(), so every other call is
 * made on the loop thread, from the binding's handles:
 *  - a prepare handle, which runs just before libuv waits, applies the
 *    pending changes and bounds the wait (an idle handle when it must not
 *    block, a timer for the earliest deadline);
 *  - one poll handle per descriptor, with the combined mask of its watches,
 *    only records readiness (libuv allows one poll handle per descriptor);
 *  - a check handle, which runs right after the wait, runs the pass;
 *  - an async handle is the wake-up for calls from outside the pass.
 * libuv merges ERROR and HANGUP into READABLE and WRITABLE (and stops a poll
 * handle on POLLERR), so the pass asks the kernel with poll(2) for the exact
 * bits of what was reported.  libuv aborts if epoll_ctl() fails, so nothing
 * is handed to it without checking first that the number still names the
 * file it was registered for.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include <uv.h>

#include "engine.h"
#include "vevent/vevent-libuv.h"

struct libuv_binding {
	uv_loop_t *loop;
	uv_async_t async;
	uv_prepare_t prepare;
	uv_check_t check;
	uv_idle_t idle;   /* active: the wait must not block */
	uv_timer_t timer; /* the earliest deadline */
	int open_handles; /* freed when the last one is closed */
};

/* A descriptor's poll handle; `rec` NULL once released. */
struct libuv_fd {
	uv_poll_t poll;
	struct eng_fd *rec;
};

static const struct eng_host_ops libuv_ops;
static struct eng engine = ENG_INITIALIZER("vev_libuv", &libuv_ops);
static pthread_mutex_t bind_lock = PTHREAD_MUTEX_INITIALIZER;
static struct libuv_binding *binding;

/* ---- callbacks of the loop ---------------------------------------------- */

static void async_cb(uv_async_t *handle)
{
	/* Waking the loop was the point: its prepare applies the changes. */
}

static void idle_cb(uv_idle_t *handle)
{
}

static void timer_cb(uv_timer_t *handle)
{
	/* Only bounds the wait; the check handle dispatches. */
}

static void poll_cb(uv_poll_t *handle, int status, int events)
{
	struct libuv_fd *p = handle->data;

	if (!p->rec)
		return;
	/* libuv stopped the handle on POLLERR: register it again next sync
	 * if it is still wanted, so that the error keeps being reported for
	 * as long as it lasts. */
	if (status < 0)
		eng_fd_lost(&engine, p->rec);
	eng_fd_ready(&engine, p->rec);
}

static void prepare_cb(uv_prepare_t *handle)
{
	struct libuv_binding *b = handle->data;
	int64_t ns = eng_sync(&engine, 0);

	if (ns == 0)
		uv_idle_start(&b->idle, idle_cb);
	else
		uv_idle_stop(&b->idle);
	if (ns > 0) {
		/* Round up: waking before the deadline would only spin. */
		int64_t ms = (ns + 999999) / 1000000;
		uv_update_time(b->loop);
		uv_timer_start(&b->timer, timer_cb, (uint64_t)ms, 0);
	} else {
		uv_timer_stop(&b->timer);
	}
}

static void check_cb(uv_check_t *handle)
{
	eng_pass(&engine);
}

/* ---- the host operations ----------------------------------------------- */

static int libuv_fd_set(struct eng *e, struct eng_fd *rec, unsigned want)
{
	struct libuv_binding *b = e->host;
	struct libuv_fd *p = rec->host_data;
	int events = 0;

	if (want & ENG_READABLE)
		events |= UV_READABLE;
	if (want & ENG_WRITABLE)
		events |= UV_WRITABLE;
	/* ERROR/HANGUP only: libuv cannot register an empty mask, and the
	 * kernel reports both whatever the mask, so ask for what nearly never
	 * happens (out-of-band data) and get them with it. */
	if (events == 0 && want)
		events = UV_PRIORITIZED;
	if (events == 0)
		return p ? uv_poll_stop(&p->poll) : 0;
	if (!p) {
		p = malloc(sizeof(*p));
		if (!p)
			return -ENOMEM;
		/* UV_EPERM for files epoll refuses, UV_EEXIST if the program
		 * polls this descriptor with a handle of its own. */
		int rc = uv_poll_init(b->loop, &p->poll, rec->fd);
		if (rc < 0) {
			free(p);
			return rc;
		}
		p->poll.data = p;
		p->rec = rec;
		rec->host_data = p;
	}
	return uv_poll_start(&p->poll, events, poll_cb);
}

static void free_on_close(uv_handle_t *handle)
{
	free(handle->data);
}

static void libuv_fd_release(struct eng *e, struct eng_fd *rec)
{
	struct libuv_fd *p = rec->host_data;

	p->rec = NULL;
	uv_close((uv_handle_t *)&p->poll, free_on_close);
}

static void libuv_wake(struct eng *e)
{
	struct libuv_binding *b = e->host;
	uv_async_send(&b->async);
}

static const struct eng_host_ops libuv_ops = {
	.fd_set = libuv_fd_set,
	.fd_release = libuv_fd_release,
	.revents = NULL,
	.wake = libuv_wake,
};

/* ---- the six functions -------------------------------------------------- */

static int uv_add_handle_(int fd, int events, vev_handle_cb cb, void *opaque,
			  vev_free_cb ff)
{
	int rc = eng_add_handle(&engine, fd, events, cb, opaque, ff);
	return rc < 0 ? -1 : rc;
}

static void uv_update_handle_(int watch, int events)
{
	eng_update_handle(&engine, watch, events);
}

static int uv_remove_handle_(int watch)
{
	return eng_remove_handle(&engine, watch) < 0 ? -1 : 0;
}

static int uv_add_timeout_(int timeout, vev_timer_cb cb, void *opaque,
			   vev_free_cb ff)
{
	int rc = eng_add_timer(&engine, timeout, cb, opaque, ff);
	return rc < 0 ? -1 : rc;
}

static void uv_update_timeout_(int timer, int timeout)
{
	eng_update_timer(&engine, timer, timeout);
}

static int uv_remove_timeout_(int timer)
{
	return eng_remove_timer(&engine, timer) < 0 ? -1 : 0;
}

static const struct vev_event_impl libuv_table = {
	.add_handle = uv_add_handle_,
	.update_handle = uv_update_handle_,
	.remove_handle = uv_remove_handle_,
	.add_timeout = uv_add_timeout_,
	.update_timeout = uv_update_timeout_,
	.remove_timeout = uv_remove_timeout_,
};

/* ---- public API --------------------------------------------------------- */

static void binding_closed(uv_handle_t *handle)
{
	struct libuv_binding *b = handle->data;
	if (--b->open_handles == 0)
		free(b);
}

static void close_binding(struct libuv_binding *b)
{
	uv_handle_t *handles[] = {
		(uv_handle_t *)&b->async, (uv_handle_t *)&b->prepare,
		(uv_handle_t *)&b->check, (uv_handle_t *)&b->idle,
		(uv_handle_t *)&b->timer,
	};
	b->open_handles = (int)(sizeof(handles) / sizeof(handles[0]));
	for (size_t i = 0; i < sizeof(handles) / sizeof(handles[0]); i++)
		uv_close(handles[i], binding_closed);
}

int vev_libuv_bind(uv_loop_t *loop, const struct vev_event_impl **impl)
{
	int rc = 0;

	if (!loop || !impl)
		return eng_fail(&engine, EINVAL, "bind: %s is NULL",
				loop ? "impl" : "loop");
	pthread_mutex_lock(&bind_lock);
	if (binding) {
		if (binding->loop != loop)
			rc = eng_fail(&engine, EBUSY, "bind: already bound to "
				      "another loop");
		else
			*impl = &libuv_table;
		goto out;
	}
	struct libuv_binding *b = calloc(1, sizeof(*b));
	if (!b) {
		rc = eng_fail(&engine, ENOMEM, "bind: out of memory");
		goto out;
	}
	b->loop = loop;
	rc = uv_async_init(loop, &b->async, async_cb);
	if (rc < 0) {
		free(b);
		rc = eng_fail(&engine, -rc, "bind: uv_async_init: %s",
			      uv_strerror(rc));
		goto out;
	}
	/* These cannot fail on an initialised loop. */
	uv_prepare_init(loop, &b->prepare);
	uv_check_init(loop, &b->check);
	uv_idle_init(loop, &b->idle);
	uv_timer_init(loop, &b->timer);
	b->async.data = b->prepare.data = b->check.data = b;
	b->idle.data = b->timer.data = b;
	uv_prepare_start(&b->prepare, prepare_cb);
	uv_check_start(&b->check, check_cb);
	rc = eng_bind(&engine, b);
	if (rc < 0) { /* cannot happen: bind_lock orders binds */
		close_binding(b);
		rc = eng_fail(&engine, -rc, "bind: already bound");
		goto out;
	}
	binding = b;
	*impl = &libuv_table;
out:
	pthread_mutex_unlock(&bind_lock);
	return rc;
}

int vev_libuv_unbind(void)
{
	int rc = 0;

	pthread_mutex_lock(&bind_lock);
	if (!binding) {
		rc = eng_fail(&engine, ENOENT, "unbind: not bound");
		goto out;
	}
	rc = eng_unbind(&engine);
	if (rc < 0) {
		rc = eng_fail(&engine, -rc, "unbind: called from a callback "
			      "of the integration");
		goto out;
	}
	close_binding(binding);
	binding = NULL;
out:
	pthread_mutex_unlock(&bind_lock);
	return rc;
}

const char *vev_libuv_last_error(void)
{
	return eng_last_error();
}

int vev_libuv_stat(enum vev_stat which, uint64_t *value)
{
	return eng_stat(&engine, which, value);
}

int vev_libuv_verify(void)
{
	return eng_verify(&engine);
}
