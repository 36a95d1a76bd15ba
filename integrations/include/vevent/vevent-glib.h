/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vevent-glib: libvirt's six event functions (add/update/remove handle,
 * add/update/remove timeout) on a GLib main context, for a program that runs
 * that loop and talks to libvirt:
 *
 *     const struct vev_event_impl *impl;
 *     if (vev_glib_bind(NULL, &impl)   // NULL: the default context < 0)
 *         die(vev_glib_last_error());
 *     virEventRegisterImpl(VEV_EVENT_IMPL_ARGS(impl));
 *     ... g_main_loop_run(loop) ...
 *
 * The table works with real libvirt's virEventRegisterImpl() and with
 * vevent-compat's, whose signatures are identical.  Link with
 * `pkg-config --libs vevent-glib`; this library does not link libvirt.
 *
 * How it works: the integration owns a vevent loop (epoll backend) and
 * embeds it in the host loop through vev_loop_fd(), with
 * one GSource of its own, named "vevent", at G_PRIORITY_DEFAULT, that
 *    polls the loop's descriptor (g_unix_fd_source_new()); as for any source,
 *    GLib does not dispatch it while a source of a higher priority (a lower
 *    number) is ready.
 * Whenever that descriptor is readable, the host runs one non-blocking
 * iteration of the vevent loop: the due timers, then the ready watches,
 * then the pending free callbacks.  vev_glib_loop() returns that loop, for
 * the native API (vevent.h).
 *
 * How it behaves: exactly as vevent's own loop (the contract, see
 * vevent(3)), with an iteration of the host loop in which the descriptor is
 * readable as the iteration:
 *  - Ids start at 1, grow by one per successful add, are never reused (not
 *    even across vev_glib_unbind() and a new bind); watches and timers
 *    count apart.
 *  - Watches are level-triggered; a watch gets only the bits it asked for,
 *    plus VIR_EVENT_HANDLE_ERROR and VIR_EVENT_HANDLE_HANGUP, always, also
 *    when it asks for nothing else.  Events 0 registers a watch that is not
 *    polled.  A descriptor closed while watched never makes the host spin
 *    and is reported as ERROR once (see vev_add_handle(3));
 *    a new file that reuses the number is never reported to the old watch.
 *    Regular files are always ready, as poll(2) says.
 *  - Timers: 0 fires once per iteration and keeps the host from blocking;
 *    negative disables; a positive period (ms, monotonic clock) is re-armed
 *    from each dispatch and never fires early; every update restarts the
 *    countdown.
 *  - Free callbacks run exactly once per registration, on the thread
 *    running the host loop, after the callbacks of the iteration (never
 *    inside a remove call or a callback), at the latest in the iteration
 *    that follows the removal.
 *  - The six functions may be called from any thread and from callbacks.
 *    No lock is held while callbacks run.  A change made from another
 *    thread, or outside an iteration, shows on the descriptor at once and
 *    wakes the host.  A registration added or re-enabled during an
 *    iteration fires no earlier than the next one; one removed or disabled
 *    before its turn does not fire.
 *  - GLib contexts are thread-safe; the source may be dispatched by whichever
 *    thread iterates the context, one at a time.  GLib wakes a context
 *    whenever a descriptor is added to it, so the first iteration after
 *    vev_glib_bind() may return without waiting; later changes to watches
 *    do not wake it (they reach GLib only through the descriptor).
 */
#ifndef VEVENT_VEVENT_GLIB_H
#define VEVENT_VEVENT_GLIB_H

#include <stdint.h>

#include <glib.h>
#include <vevent/event-impl.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Bind the six functions to `context` (NULL means the global default context) and store their
 *  table in *impl.  The integration keeps a reference to the context and attaches its
 *  source to it until vev_glib_unbind().  One context per process: the six
 *  functions have no argument to tell contexts apart.
 *  Returns 0 (also when already bound to the same one: *impl is the same
 *  table), or:
 *   -EINVAL  impl is NULL;
 *   -EBUSY   bound to another one; unbind first;
 *   -ENOMEM, -EMFILE, -ENFILE  out of memory or descriptors (the first
 *            bind creates the vevent loop).
 *  vev_glib_last_error() says why.  Any thread; not from a callback. */
VEV_EXPORT int vev_glib_bind(GMainContext *context,
                             const struct vev_event_impl **impl);

/** Undo vev_glib_bind(): remove every registration still present, run every
 *  free callback not yet run (of those and of earlier removals) on the
 *  calling thread, and detach the source.  Afterwards the add and remove
 *  functions fail (-1) and the updates do nothing, until the next bind; ids
 *  go on from where they were.  Free callbacks run here may call the six
 *  functions (adds fail) but not unbind.  Meant for shutdown, after libvirt
 *  is done (virConnectClose()).
 *  Returns 0, or:
 *   -ENOENT  not bound;
 *   -EBUSY   called from one of the integration's callbacks or free
 *            callbacks (those unbind runs included), or while another
 *            thread runs an iteration of the integration.
 *  Any thread (from another source's callback too), not from a callback
 *  of the integration; no other thread may call the six functions meanwhile. */
VEV_EXPORT int vev_glib_unbind(void);

/** The vevent loop behind the binding, or NULL while not bound.  The native
 *  API (vevent.h) may be used on it: its registrations are those of the six
 *  functions, and the host runs it.  Do not run, free or clear it yourself.
 *  Any thread; from callbacks too. */
VEV_EXPORT vev_loop *vev_glib_loop(void);

/** Why the last failing call of this integration on the calling thread
 *  failed (including the six functions' -1), or "" if none did.  Valid until
 *  the next failure on this thread.  Any thread; from callbacks too. */
VEV_EXPORT const char *vev_glib_last_error(void);

/** Read a counter of the loop behind the binding, as vev_loop_stat() does
 *  (VEV_STAT_ITERATIONS counts the host's iterations that ran it); all 0
 *  before the first bind.  Counters survive unbinding.
 *  Returns 0, or -EINVAL (value NULL, unknown counter).  Any thread; from
 *  callbacks too. */
VEV_EXPORT int vev_glib_stat(enum vev_stat which, uint64_t *value);

/** Check the internal invariants of the loop behind the binding, as
 *  vev_loop_verify() does (for tests and debugging; linear in the number of
 *  registrations).  Returns 0, or -EPROTO with a message naming the broken
 *  invariant.  Any thread; from callbacks too. */
VEV_EXPORT int vev_glib_verify(void);

#ifdef __cplusplus
}
#endif

#endif /* VEVENT_VEVENT_GLIB_H */
