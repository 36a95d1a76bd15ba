/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libvirt's virEvent* API over a registered implementation table: vevent's
 * default loop (an ordinary vev_loop) or six functions the program
 * registered.  Built as its own library so that only it exports virEvent*. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

#include "vevent/libvirt-event.h"
#include "vevent/vevent.h"

struct impl {
	virEventAddHandleFunc add_handle;
	virEventUpdateHandleFunc update_handle;
	virEventRemoveHandleFunc remove_handle;
	virEventAddTimeoutFunc add_timeout;
	virEventUpdateTimeoutFunc update_timeout;
	virEventRemoveTimeoutFunc remove_timeout;
};

static pthread_mutex_t register_lock = PTHREAD_MUTEX_INITIALIZER;
static struct impl registered;                  /* written once */
static _Atomic(const struct impl *) current;    /* NULL until registered */
static struct vev_loop *default_loop;           /* set with current */

static _Thread_local char last_error[256];

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	return -1;
}

const char *vev_compat_last_error(void)
{
	return last_error;
}

static const struct impl *impl(void)
{
	return atomic_load_explicit(&current, memory_order_acquire);
}

/* ---- the default implementation: the six functions on default_loop ---- */

static int native(int rc)
{
	return rc < 0 ? fail("%s", vev_last_error()) : rc;
}

static int default_add_handle(int fd, int events, virEventHandleCallback cb,
			      void *opaque, virFreeCallback ff)
{
	return native(vev_add_handle(default_loop, fd, events, cb, opaque, ff));
}

static void default_update_handle(int watch, int events)
{
	native(vev_update_handle(default_loop, watch, events));
}

static int default_remove_handle(int watch)
{
	return native(vev_remove_handle(default_loop, watch));
}

static int default_add_timeout(int timeout, virEventTimeoutCallback cb,
			       void *opaque, virFreeCallback ff)
{
	return native(vev_add_timer(default_loop, timeout, cb, opaque, ff));
}

static void default_update_timeout(int timer, int timeout)
{
	native(vev_update_timer(default_loop, timer, timeout));
}

static int default_remove_timeout(int timer)
{
	return native(vev_remove_timer(default_loop, timer));
}

/* ---- registration ------------------------------------------------------- */

void virEventRegisterImpl(virEventAddHandleFunc addHandle,
			  virEventUpdateHandleFunc updateHandle,
			  virEventRemoveHandleFunc removeHandle,
			  virEventAddTimeoutFunc addTimeout,
			  virEventUpdateTimeoutFunc updateTimeout,
			  virEventRemoveTimeoutFunc removeTimeout)
{
	pthread_mutex_lock(&register_lock);
	if (impl()) {
		pthread_mutex_unlock(&register_lock);
		fail("virEventRegisterImpl: an event loop implementation is "
		     "already registered; this one is ignored");
		fprintf(stderr, "vevent: warning: %s\n", last_error);
		return;
	}
	registered = (struct impl){ addHandle, updateHandle, removeHandle,
				    addTimeout, updateTimeout, removeTimeout };
	atomic_store_explicit(&current, &registered, memory_order_release);
	pthread_mutex_unlock(&register_lock);
}

int virEventRegisterDefaultImpl(void)
{
	int ret = 0;

	pthread_mutex_lock(&register_lock);
	if (impl()) {
		if (!default_loop)
			ret = fail("virEventRegisterDefaultImpl: another event "
				   "loop implementation is already registered");
		pthread_mutex_unlock(&register_lock);
		return ret;
	}
	struct vev_loop *loop;
	if (vev_loop_new(&loop, VEV_LOOP_AUTO) < 0) {
		ret = fail("virEventRegisterDefaultImpl: %s", vev_last_error());
	} else {
		default_loop = loop;
		registered = (struct impl){
			default_add_handle,  default_update_handle,
			default_remove_handle, default_add_timeout,
			default_update_timeout, default_remove_timeout
		};
		atomic_store_explicit(&current, &registered,
				      memory_order_release);
	}
	pthread_mutex_unlock(&register_lock);
	return ret;
}

struct vev_loop *vev_compat_default_loop(void)
{
	return impl() ? default_loop : NULL;
}

int virEventRunDefaultImpl(void)
{
	const struct impl *i = impl();

	if (!i)
		return fail("virEventRunDefaultImpl: no event loop "
			    "implementation is registered (call "
			    "virEventRegisterDefaultImpl first)");
	if (!default_loop)
		return fail("virEventRunDefaultImpl: a custom event loop "
			    "implementation is registered, not the default one");
	int rc = vev_run_once(default_loop, VEV_WAIT_FOREVER);
	return rc < 0 ? fail("virEventRunDefaultImpl: %s", vev_last_error()) :
			0;
}

/* ---- dispatch to the registered implementation ------------------------- */

/* libvirt accepts partial tables (some programs register timeouts only). */
static int missing(const char *fn)
{
	return fail("the registered event loop implementation has no %s "
		    "function", fn);
}

int virEventAddHandle(int fd, int events, virEventHandleCallback cb,
		      void *opaque, virFreeCallback ff)
{
	const struct impl *i = impl();
	if (!i)
		return fail("virEventAddHandle: no event loop implementation "
			    "is registered");
	if (!i->add_handle)
		return missing("addHandle");
	return i->add_handle(fd, events, cb, opaque, ff);
}

void virEventUpdateHandle(int watch, int events)
{
	const struct impl *i = impl();
	if (i && i->update_handle)
		i->update_handle(watch, events);
}

int virEventRemoveHandle(int watch)
{
	const struct impl *i = impl();
	if (!i)
		return fail("virEventRemoveHandle: no event loop implementation "
			    "is registered");
	if (!i->remove_handle)
		return missing("removeHandle");
	return i->remove_handle(watch);
}

int virEventAddTimeout(int timeout, virEventTimeoutCallback cb, void *opaque,
		       virFreeCallback ff)
{
	const struct impl *i = impl();
	if (!i)
		return fail("virEventAddTimeout: no event loop implementation "
			    "is registered");
	if (!i->add_timeout)
		return missing("addTimeout");
	return i->add_timeout(timeout, cb, opaque, ff);
}

void virEventUpdateTimeout(int timer, int timeout)
{
	const struct impl *i = impl();
	if (i && i->update_timeout)
		i->update_timeout(timer, timeout);
}

int virEventRemoveTimeout(int timer)
{
	const struct impl *i = impl();
	if (!i)
		return fail("virEventRemoveTimeout: no event loop implementation "
			    "is registered");
	if (!i->remove_timeout)
		return missing("removeTimeout");
	return i->remove_timeout(timer);
}
