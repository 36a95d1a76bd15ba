/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vevent-libuv: libvirt's six event functions (add/update/remove handle,
 * add/update/remove timeout) on a libuv loop, for a program that runs
 * that loop and talks to libvirt:
 *
 *     const struct vev_event_impl *impl;
 *     if (vev_libuv_bind(uv_default_loop(), &impl) < 0)
 *         die(vev_libuv_last_error());
 *     virEventRegisterImpl(VEV_EVENT_IMPL_ARGS(impl));
 *     ... uv_run(uv_default_loop(), UV_RUN_DEFAULT) ...
 *
 * The table works with real libvirt's virEventRegisterImpl() and with
 * vevent-compat's, whose signatures are identical.  Link with
 * `pkg-config --libs vevent-libuv`; this library does not link libvirt.
 *
 * How it works: the integration owns a vevent loop (epoll backend) and
 * embeds it in the host loop through vev_loop_fd(), with
 * one poll handle of its own (uv_poll_t) on the loop's descriptor,
 *    active while bound, so uv_run() keeps running until vev_libuv_unbind().
 *    libuv polls only that descriptor: the program may poll any descriptor
 *    libvirt watches with handles of its own, and watched descriptors keep
 *    their blocking mode.
 * Whenever that descriptor is readable, the host runs one non-blocking
 * iteration of the vevent loop: the due timers, then the ready watches,
 * then the pending free callbacks.  vev_libuv_loop() returns that loop, for
 * the native API (vevent.h).
 *
 * How it behaves: exactly as vevent's own loop (the contract, see
 * vevent(3)), with an iteration of the host loop in which the descriptor is
 * readable as the iteration:
 *  - Ids start at 1, grow by one per successful add, are never reused (not
 *    even across vev_libuv_unbind() and a new bind); watches and timers
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
 *  - libuv's loop is touched only in bind and unbind, so its lack of
 *    thread-safe calls does not matter.
 */
#ifndef VEVENT_VEVENT_LIBUV_H
#define VEVENT_VEVENT_LIBUV_H

#include <stdint.h>

#include <uv.h>
#include <vevent/event-impl.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Bind the six functions to `loop` and store their
 *  table in *impl.  One loop per process: the six functions have no argument to tell loops
 *  apart.  Call it on the loop's thread, or while no thread runs the loop.
 *  Returns 0 (also when already bound to the same one: *impl is the same
 *  table), or:
 *   -EINVAL  loop or impl is NULL;
 *   -EBUSY   bound to another one; unbind first;
 *   -ENOMEM, -EMFILE, -ENFILE  out of memory or descriptors (the first
 *            bind creates the vevent loop).
 *  vev_libuv_last_error() says why.  Not from a callback. */
VEV_EXPORT int vev_libuv_bind(uv_loop_t *loop,
                              const struct vev_event_impl **impl);

/** Undo vev_libuv_bind(): remove every registration still present, run every
 *  free callback not yet run (of those and of earlier removals) on the
 *  calling thread, and close the binding's handle.
 *  libuv finishes closing handles in the loop's next iteration: run it (for
 *  example uv_run(loop, UV_RUN_DEFAULT), which then returns once nothing
 *  else keeps the loop alive) before uv_loop_close().  Afterwards the add and remove
 *  functions fail (-1) and the updates do nothing, until the next bind; ids
 *  go on from where they were.  Free callbacks run here may call the six
 *  functions (adds fail) but not unbind.  Meant for shutdown, after libvirt
 *  is done (virConnectClose()).
 *  Returns 0, or:
 *   -ENOENT  not bound;
 *   -EBUSY   called from one of the integration's callbacks or free
 *            callbacks (those unbind runs included), or while another
 *            thread runs an iteration of the integration.
 *  On the loop's thread (from another of its callbacks too), or while no
 *  thread runs the loop; no other thread may call the six functions
 *  meanwhile. */
VEV_EXPORT int vev_libuv_unbind(void);

/** The vevent loop behind the binding, or NULL while not bound.  The native
 *  API (vevent.h) may be used on it: its registrations are those of the six
 *  functions, and the host runs it.  Do not run, free or clear it yourself.
 *  Any thread; from callbacks too. */
VEV_EXPORT vev_loop *vev_libuv_loop(void);

/** Why the last failing call of this integration on the calling thread
 *  failed (including the six functions' -1), or "" if none did.  Valid until
 *  the next failure on this thread.  Any thread; from callbacks too. */
VEV_EXPORT const char *vev_libuv_last_error(void);

/** Read a counter of the loop behind the binding, as vev_loop_stat() does
 *  (VEV_STAT_ITERATIONS counts the host's iterations that ran it); all 0
 *  before the first bind.  Counters survive unbinding.
 *  Returns 0, or -EINVAL (value NULL, unknown counter).  Any thread; from
 *  callbacks too. */
VEV_EXPORT int vev_libuv_stat(enum vev_stat which, uint64_t *value);

/** Check the internal invariants of the loop behind the binding, as
 *  vev_loop_verify() does (for tests and debugging; linear in the number of
 *  registrations).  Returns 0, or -EPROTO with a message naming the broken
 *  invariant.  Any thread; from callbacks too. */
VEV_EXPORT int vev_libuv_verify(void);

#ifdef __cplusplus
}
#endif

#endif /* VEVENT_VEVENT_LIBUV_H */
