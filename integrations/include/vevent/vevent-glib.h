/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vevent-glib: libvirt's six event functions (add/update/remove handle,
 * add/update/remove timeout) implemented on a GLib main context, for a
 * program that runs a GLib main loop and talks to libvirt:
 *
 *     const struct vev_event_impl *impl;
 *     if (vev_glib_bind(NULL, &impl) < 0)   // NULL: the default context
 *         die(vev_glib_last_error());
 *     virEventRegisterImpl(VEV_EVENT_IMPL_ARGS(impl));
 *     ... g_main_loop_run(loop) ...
 *
 * The table works with real libvirt's virEventRegisterImpl() and with
 * vevent-compat's, whose signatures are identical.  Link with
 * `pkg-config --libs vevent-glib`; this library does not link libvirt.
 *
 * How it behaves (the contract of vevent's own loop, see vevent(3)):
 *  - Everything is dispatched by one GSource of the context, named "vevent",
 *    at G_PRIORITY_DEFAULT: once per iteration of the context, it runs the
 *    due timers, then the ready watches, then the pending free callbacks.
 *    As for any source, GLib does not dispatch it while a source of higher
 *    priority (a lower number) is ready.
 *  - GLib wakes a context whenever a source's descriptors change: the
 *    iteration in which the integration applies a new or changed watch
 *    returns without waiting (with nothing dispatched if nothing else was
 *    due), as it does for any GLib source.  The cost of an iteration grows
 *    with the number of watched descriptors, as it does in GLib.
 *  - Ids start at 1, grow by one per successful add, are never reused
 *    (not even after vev_glib_unbind()); watches and timers count apart.
 *  - Watches are level-triggered; a watch gets only the bits it asked for,
 *    plus VIR_EVENT_HANDLE_ERROR and VIR_EVENT_HANDLE_HANGUP, always.
 *    Events 0 registers a watch that is not polled at all.  A descriptor
 *    closed while watched is reported once as ERROR (GLib polls with
 *    poll(2), which says so), then never polled again; a new file that
 *    reuses the number is never reported to the old watch.  Regular files
 *    are always ready, as poll(2) says.
 *  - Timers: 0 fires once per iteration and keeps the context from
 *    blocking; negative disables; a positive period (ms, monotonic clock)
 *    is re-armed from each dispatch and never fires early; every update
 *    restarts the countdown.
 *  - Free callbacks run exactly once per registration, on the thread that
 *    iterates the context, after the callbacks of the iteration (never
 *    inside a remove call or a callback), at the latest in the iteration
 *    that follows the removal.
 *  - The six functions may be called from any thread and from callbacks.
 *    No lock is held while callbacks run.  A call from another thread wakes
 *    the context (g_main_context_wakeup()).  A registration added or
 *    re-enabled during an iteration fires no earlier than the next one; one
 *    removed or disabled before its turn does not fire.
 */
#ifndef VEVENT_VEVENT_GLIB_H
#define VEVENT_VEVENT_GLIB_H

#include <stdint.h>

#include <glib.h>
#include <vevent/event-impl.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Bind the six functions to `context` (NULL means the global default
 *  context) and store their table in *impl.  The integration keeps a
 *  reference to the context and attaches its source to it until
 *  vev_glib_unbind().  One context per process: the six functions have no
 *  argument to tell contexts apart.
 *  Returns 0 (also when already bound to the same context: *impl is the same
 *  table), or:
 *   -EINVAL  impl is NULL;
 *   -EBUSY   bound to another context; unbind first.
 *  vev_glib_last_error() says why.  Any thread; not from a callback. */
VEV_EXPORT int vev_glib_bind(GMainContext *context,
			     const struct vev_event_impl **impl);

/** Undo vev_glib_bind(): remove every registration still present, run every
 *  free callback not yet run (of those and of earlier removals) on the
 *  calling thread, and detach the source.  Afterwards the add and remove
 *  functions fail (-1) and the updates do nothing, until the next bind.
 *  Meant for shutdown, after libvirt is done (virConnectClose()).
 *  Returns 0, or:
 *   -ENOENT  not bound;
 *   -EBUSY   called from one of the integration's callbacks, or another
 *            thread is iterating the context (the calling thread must be
 *            able to acquire it, see g_main_context_acquire()).
 *  Any thread; no other thread may call the six functions meanwhile. */
VEV_EXPORT int vev_glib_unbind(void);

/** Why the last failing call of this integration on the calling thread
 *  failed (including the six functions' -1), or "" if none did.  Valid until
 *  the next failure on this thread.  Any thread; from callbacks too. */
VEV_EXPORT const char *vev_glib_last_error(void);

/** Read a counter, as vev_loop_stat() does for a native loop:
 *  VEV_STAT_ITERATIONS counts dispatches of the integration's source,
 *  VEV_STAT_WAKEUPS wake-ups sent to the context from outside a dispatch,
 *  VEV_STAT_MEMORY the bytes the integration holds (GLib's own excluded);
 *  the others mean what they mean there.  Counters survive unbinding.
 *  Returns 0, or -EINVAL (value NULL, unknown counter).  Any thread; from
 *  callbacks too. */
VEV_EXPORT int vev_glib_stat(enum vev_stat which, uint64_t *value);

/** Check the integration's internal invariants (for tests and debugging;
 *  linear in the number of registrations).  Returns 0, or -EPROTO with a
 *  message naming the broken invariant.  Any thread; from callbacks too. */
VEV_EXPORT int vev_glib_verify(void);

#ifdef __cplusplus
}
#endif

#endif /* VEVENT_VEVENT_GLIB_H */
