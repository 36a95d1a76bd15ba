/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vevent-libvirt: hands a native vevent loop to the real libvirt as its
 * event loop implementation, through libvirt's own virEventRegisterImpl().
 *
 * libvirt clients need an event loop registered before they open a
 * connection, and running for as long as libvirt may use it: it carries the
 * connection's socket I/O, keepalive and domain event delivery.  After
 * vev_libvirt_register(loop), every virEventAddHandle(), virEventAddTimeout()
 * and the like made by libvirt (or by the program) lands on that loop, with
 * vevent's semantics (see vevent.h).  Run the loop, for example with
 * vev_loop_start_thread(), before opening connections, and keep it running
 * until every connection is closed and its free callbacks have run.
 *
 * This library links the real libvirt and the native vevent library; never
 * link it together with vevent-compat, which provides virEvent* itself.
 * It may be included together with <libvirt/libvirt.h>.
 */
#ifndef VEVENT_LIBVIRT_BRIDGE_H
#define VEVENT_LIBVIRT_BRIDGE_H

#include <vevent/vevent.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(VEVENT_BUILDING) && defined(__GNUC__)
#define VEV_LIBVIRT_EXPORT __attribute__((visibility("default")))
#else
#define VEV_LIBVIRT_EXPORT
#endif

/** Register loop with libvirt (virEventRegisterImpl()) as the event loop
 *  implementation of this process.  libvirt keeps one implementation for
 *  the life of the process and cannot unregister it, so the loop must then
 *  stay alive (not be passed to vev_loop_free()) for as long as libvirt may
 *  call it: in practice until the process exits, or at the very least until
 *  every connection is closed and the loop holds no registration any more.
 *  Calls libvirt's virInitialize() first.
 *  Returns 0, or:
 *   -EINVAL    loop is NULL;
 *   -EALREADY  this process already registered a loop through this function
 *              (the same one or another);
 *   -EBUSY     libvirt already has another implementation:
 *              virEventRegisterDefaultImpl() was called, or virEventRegisterImpl()
 *              with other functions.  It is detected with a disabled timer
 *              added and removed at once through virEventAddTimeout() on that
 *              implementation (before registering) and, for a table without
 *              timeout functions, by libvirt ignoring the registration (then
 *              libvirt also logs a warning);
 *   -EIO       virInitialize() failed.
 *  vev_libvirt_last_error() then says why.  Once registered, a call that
 *  libvirt forwards to the loop and that the loop rejects (for example
 *  virEventAddHandle() on a closed descriptor) returns -1 to libvirt and
 *  vev_last_error() on that thread says why.
 *  Any thread; the first successful call in a process wins. */
VEV_LIBVIRT_EXPORT int vev_libvirt_register(vev_loop *loop);

/** The loop registered by vev_libvirt_register(), or NULL if none is.
 *  Any thread; from callbacks too. */
VEV_LIBVIRT_EXPORT vev_loop *vev_libvirt_loop(void);

/** A description of the last failure of vev_libvirt_register() on the
 *  calling thread, or "" if none failed yet.  Valid until the next failing
 *  call on this thread.  Any thread. */
VEV_LIBVIRT_EXPORT const char *vev_libvirt_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* VEVENT_LIBVIRT_BRIDGE_H */
