/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The six functions of libvirt's virEventRegisterImpl() table, forwarding to
 * one native vevent loop.  The callback signatures are the same on both
 * sides, so each forward is one call; the only state is the loop pointer,
 * set once before libvirt can call any of them. */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "vevent/libvirt-bridge.h"
#include "vevent/vevent.h"
#include "bridge-private.h"

static pthread_mutex_t register_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic(vev_loop *) bridge_loop; /* set once, never cleared */
static atomic_bool probe_seen;

/* What the tests need to prove that every free callback ran (see
 * bridge-private.h); a few relaxed increments per registration. */
static atomic_ullong count_added_with_ff;
static atomic_ullong count_added;
static atomic_ullong count_removed;

static _Thread_local char last_error[256];

static int fail(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int fail(int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	return -err;
}

const char *vev_libvirt_last_error(void)
{
	return last_error;
}

vev_loop *vev_libvirt_loop(void)
{
	return atomic_load_explicit(&bridge_loop, memory_order_acquire);
}

static void counted_add(int rc, bool has_ff)
{
	if (rc > 0) {
		atomic_fetch_add_explicit(&count_added, 1,
					  memory_order_relaxed);
		if (has_ff)
			atomic_fetch_add_explicit(&count_added_with_ff, 1,
						  memory_order_relaxed);
	}
}

/* ---- the table handed to libvirt --------------------------------------- */

static int bridge_add_handle(int fd, int events, virEventHandleCallback cb,
			     void *opaque, virFreeCallback ff)
{
	int rc = vev_add_handle(vev_libvirt_loop(), fd, events, cb, opaque, ff);
	counted_add(rc, ff != NULL);
	return rc < 0 ? -1 : rc;
}

static void bridge_update_handle(int watch, int events)
{
	/* libvirt's contract: updating an unknown watch does nothing. */
	(void)vev_update_handle(vev_libvirt_loop(), watch, events);
}

static int bridge_remove_handle(int watch)
{
	int rc = vev_remove_handle(vev_libvirt_loop(), watch);
	if (rc == 0)
		atomic_fetch_add_explicit(&count_removed, 1,
					  memory_order_relaxed);
	return rc < 0 ? -1 : 0;
}

static void probe_timer(int timer, void *opaque)
{
	(void)timer;
	(void)opaque;
}

static int bridge_add_timeout(int timeout, virEventTimeoutCallback cb,
			      void *opaque, virFreeCallback ff)
{
	/* The registration check below: seen here means libvirt calls us.
	 * It never reaches the loop, and is never removed. */
	if (cb == probe_timer) {
		atomic_store(&probe_seen, true);
		return 0;
	}
	int rc = vev_add_timer(vev_libvirt_loop(), timeout, cb, opaque, ff);
	counted_add(rc, ff != NULL);
	return rc < 0 ? -1 : rc;
}

static void bridge_update_timeout(int timer, int timeout)
{
	(void)vev_update_timer(vev_libvirt_loop(), timer, timeout);
}

static int bridge_remove_timeout(int timer)
{
	int rc = vev_remove_timer(vev_libvirt_loop(), timer);
	if (rc == 0)
		atomic_fetch_add_explicit(&count_removed, 1,
					  memory_order_relaxed);
	return rc < 0 ? -1 : 0;
}

/* ---- registration ------------------------------------------------------ */

/* libvirt has no "is an implementation registered" query, but its
 * virEventAddTimeout() returns -1 without a word when nothing is, and hands
 * the call to the registered table otherwise.  A disabled timer added through
 * it therefore tells, and the table it reached (ours or not) is known from
 * whether bridge_add_timeout() saw it. */
static bool foreign_impl_answers(void)
{
	atomic_store(&probe_seen, false);
	int t = virEventAddTimeout(-1, probe_timer, NULL, NULL);
	if (atomic_load(&probe_seen))
		return false;
	if (t >= 0) {
		virEventRemoveTimeout(t);
		return true;
	}
	return false;
}

int vev_libvirt_register(vev_loop *loop)
{
	if (!loop)
		return fail(EINVAL, "vev_libvirt_register: loop is NULL");

	pthread_mutex_lock(&register_lock);
	vev_loop *current = vev_libvirt_loop();
	if (current) {
		pthread_mutex_unlock(&register_lock);
		if (current == loop)
			return fail(EALREADY, "vev_libvirt_register: this loop "
				    "is already registered with libvirt");
		return fail(EALREADY, "vev_libvirt_register: another vevent "
			    "loop is already registered with libvirt, which "
			    "keeps one event loop for the life of the process");
	}
	if (virInitialize() < 0) {
		const char *why = virGetLastErrorMessage();
		pthread_mutex_unlock(&register_lock);
		return fail(EIO, "vev_libvirt_register: virInitialize failed: "
			    "%s", why);
	}
	if (foreign_impl_answers()) {
		pthread_mutex_unlock(&register_lock);
		return fail(EBUSY, "vev_libvirt_register: libvirt already has "
			    "an event loop implementation (from "
			    "virEventRegisterDefaultImpl or virEventRegisterImpl); "
			    "it keeps the first one registered");
	}

	atomic_store_explicit(&bridge_loop, loop, memory_order_release);
	virEventRegisterImpl(bridge_add_handle, bridge_update_handle,
			     bridge_remove_handle, bridge_add_timeout,
			     bridge_update_timeout, bridge_remove_timeout);

	/* A table registered before us without timeout functions was not seen
	 * above; libvirt then ignored ours (and logged a warning). */
	atomic_store(&probe_seen, false);
	int t = virEventAddTimeout(-1, probe_timer, NULL, NULL);
	bool ours = atomic_load(&probe_seen);
	if (!ours) {
		if (t >= 0)
			virEventRemoveTimeout(t);
		atomic_store_explicit(&bridge_loop, NULL, memory_order_release);
		pthread_mutex_unlock(&register_lock);
		return fail(EBUSY, "vev_libvirt_register: libvirt ignored the "
			    "registration: another event loop implementation "
			    "(without timeout functions) was registered first");
	}
	pthread_mutex_unlock(&register_lock);
	return 0;
}

void vev__libvirt_counts(struct vev__libvirt_counts *c)
{
	c->added = atomic_load(&count_added);
	c->added_with_ff = atomic_load(&count_added_with_ff);
	c->removed = atomic_load(&count_removed);
}
