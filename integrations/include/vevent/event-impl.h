/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The six functions of an event loop implementation, as one table: what
 * libvirt's virEventRegisterImpl() takes, in its order.  The integrations
 * (<vevent/vevent-glib.h>, <vevent/vevent-libevent.h>,
 * <vevent/vevent-libuv.h>) return such a table bound to a host loop.
 *
 * The member types are spelled out rather than taken from libvirt's
 * typedefs, so that this header can be included together with
 * <libvirt/libvirt.h> (or with vevent's <vevent/libvirt-event.h>, never both
 * of those).  They are the same types: the callback typedefs of
 * <vevent/vevent.h> are identical to virEventHandleCallback,
 * virEventTimeoutCallback and virFreeCallback, so every member can be passed
 * where libvirt expects the matching virEvent*Func.
 */
#ifndef VEVENT_EVENT_IMPL_H
#define VEVENT_EVENT_IMPL_H

#include <vevent/vevent.h>

#ifdef __cplusplus
extern "C" {
#endif

/** libvirt's six event functions.  Ids are those libvirt expects: > 0, or
 *  -1 on failure; the remove functions return 0 or -1. */
struct vev_event_impl {
	int (*add_handle)(int fd, int events, vev_handle_cb cb, void *opaque,
			  vev_free_cb ff);
	void (*update_handle)(int watch, int events);
	int (*remove_handle)(int watch);
	int (*add_timeout)(int timeout_ms, vev_timer_cb cb, void *opaque,
			   vev_free_cb ff);
	void (*update_timeout)(int timer, int timeout_ms);
	int (*remove_timeout)(int timer);
};

/** The table as the six arguments of virEventRegisterImpl():
 *      virEventRegisterImpl(VEV_EVENT_IMPL_ARGS(impl));  */
#define VEV_EVENT_IMPL_ARGS(impl)                                   \
	(impl)->add_handle, (impl)->update_handle, (impl)->remove_handle, \
		(impl)->add_timeout, (impl)->update_timeout,            \
		(impl)->remove_timeout

#ifdef __cplusplus
}
#endif

#endif /* VEVENT_EVENT_IMPL_H */
