/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vevent-libuv: libvirt's six event functions (add/update/remove handle,
 * add/update/remove timeout) implemented on a libuv loop, for a program that
 * runs libuv and talks to libvirt:
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
 * How it behaves (the contract of vevent's own loop, see vevent(3)):
 *  - The binding adds handles of its own to the loop: an async, a prepare, a
 *    check, an idle and a timer handle, and one poll handle per watched
 *    descriptor.  They keep the loop alive: uv_run(UV_RUN_DEFAULT) does not
 *    return while bound, and a UV_RUN_ONCE iteration with nothing due
 *    blocks until something is (as vevent's own loop does).
 *  - Once per iteration of the loop, right after it has waited (in the check
 *    phase), the binding runs the due timers, then the ready watches, then
 *    the pending free callbacks.
 *  - The six functions may be called from any thread and from callbacks; no
 *    lock is held while callbacks run; a call made outside the binding's
 *    callbacks wakes the loop (uv_async_send()).  libuv's own handles are
 *    only ever touched on the loop thread.  A registration added or
 *    re-enabled during an iteration fires no earlier than the next one; one
 *    removed or disabled before its turn does not fire.
 *  - Ids start at 1, grow by one per successful add, are never reused;
 *    watches and timers count apart.
 *  - Watches are level-triggered; a watch gets only the bits it asked for,
 *    plus VIR_EVENT_HANDLE_ERROR and VIR_EVENT_HANDLE_HANGUP, always (libuv
 *    reports those as READABLE/WRITABLE, so the binding asks poll(2) for the
 *    exact bits of each descriptor libuv reports).  Events 0 registers a
 *    watch that is not polled.  ERROR/HANGUP alone are polled through
 *    UV_PRIORITIZED, which the kernel combines with them; a descriptor with
 *    pending out-of-band (priority) data keeps such a watch's loop from
 *    blocking, without callbacks, until the data is read.
 *  - libuv's rules for descriptors apply: uv_poll_init() makes a watched
 *    descriptor non-blocking, and a descriptor the program already polls
 *    with a libuv handle of its own (uv_poll, uv_tcp, ...) cannot be
 *    watched: such a watch reports ERROR once and is then silent.
 *  - A descriptor closed while watched never makes the loop spin: the kernel
 *    forgets it and the watch goes silent; it reports ERROR once if it is
 *    updated or its number gets a new watch, stays registered until removed,
 *    and a new file that reuses the number is never reported to it.  (The
 *    binding checks a number before handing it to libuv, but a descriptor
 *    another thread closes between that check and libuv's epoll_ctl() makes
 *    libuv abort(): close a watched descriptor only after removing its
 *    watches, as libuv requires of its own handles.)  Regular files are
 *    always ready, as poll(2) says.
 *  - Timers: 0 fires once per iteration and keeps the loop from blocking;
 *    negative disables; a positive period (ms, monotonic clock) is re-armed
 *    from each dispatch and never fires early; every update restarts the
 *    countdown.
 *  - Free callbacks run exactly once per registration, on the loop thread,
 *    after the callbacks of the iteration (never inside a remove call or a
 *    callback), at the latest in the iteration that follows the removal.
 */
#ifndef VEVENT_VEVENT_LIBUV_H
#define VEVENT_VEVENT_LIBUV_H

#include <stdint.h>

#include <uv.h>
#include <vevent/event-impl.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Bind the six functions to `loop` and store their table in *impl.  One
 *  loop per process: the six functions have no argument to tell loops apart.
 *  Call it on the loop's thread, or while no thread runs the loop.
 *  Returns 0 (also when already bound to the same loop: *impl is the same
 *  table), or:
 *   -EINVAL  loop or impl is NULL;
 *   -EBUSY   bound to another loop; unbind first;
 *   -ENOMEM, -EMFILE, -ENFILE  out of memory or descriptors.
 *  vev_libuv_last_error() says why.  Not from a callback. */
VEV_EXPORT int vev_libuv_bind(uv_loop_t *loop,
			      const struct vev_event_impl **impl);

/** Undo vev_libuv_bind(): remove every registration still present, run every
 *  free callback not yet run (of those and of earlier removals) on the
 *  calling thread, and close the binding's handles.  Afterwards the add and
 *  remove functions fail (-1) and the updates do nothing, until the next
 *  bind.  Meant for shutdown, after libvirt is done (virConnectClose()).
 *  libuv finishes closing handles in the loop's next iteration: run it (for
 *  example uv_run(loop, UV_RUN_DEFAULT), which then returns once nothing
 *  else keeps the loop alive) before uv_loop_close().
 *  Returns 0, or:
 *   -ENOENT  not bound;
 *   -EBUSY   called from one of the integration's callbacks.
 *  On the loop's thread (from another of its callbacks too), or while no
 *  thread runs the loop; no other thread may call the six functions
 *  meanwhile. */
VEV_EXPORT int vev_libuv_unbind(void);

/** Why the last failing call of this integration on the calling thread
 *  failed (including the six functions' -1), or "" if none did.  Valid until
 *  the next failure on this thread.  Any thread; from callbacks too. */
VEV_EXPORT const char *vev_libuv_last_error(void);

/** Read a counter, as vev_loop_stat() does for a native loop:
 *  VEV_STAT_ITERATIONS counts the binding's dispatch rounds (one per loop
 *  iteration), VEV_STAT_WAKEUPS wake-ups sent to the loop from outside them,
 *  VEV_STAT_MEMORY the bytes the integration holds (libuv's own excluded);
 *  the others mean what they mean there.  Counters survive unbinding.
 *  Returns 0, or -EINVAL (value NULL, unknown counter).  Any thread; from
 *  callbacks too. */
VEV_EXPORT int vev_libuv_stat(enum vev_stat which, uint64_t *value);

/** Check the integration's internal invariants (for tests and debugging;
 *  linear in the number of registrations).  Returns 0, or -EPROTO with a
 *  message naming the broken invariant.  Any thread; from callbacks too. */
VEV_EXPORT int vev_libuv_verify(void);

#ifdef __cplusplus
}
#endif

#endif /* VEVENT_VEVENT_LIBUV_H */
