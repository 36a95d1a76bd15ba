/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vevent-libevent: libvirt's six event functions (add/update/remove handle,
 * add/update/remove timeout) implemented on a libevent 2 event base, for a
 * program that runs libevent and talks to libvirt:
 *
 *     const struct vev_event_impl *impl;
 *     if (vev_libevent_bind(base, &impl) < 0)
 *         die(vev_libevent_last_error());
 *     virEventRegisterImpl(VEV_EVENT_IMPL_ARGS(impl));
 *     ... event_base_dispatch(base) ...
 *
 * The table works with real libvirt's virEventRegisterImpl() and with
 * vevent-compat's, whose signatures are identical.  Link with
 * `pkg-config --libs vevent-libevent`; this library does not link libvirt.
 *
 * How it behaves (the contract of vevent's own loop, see vevent(3)):
 *  - The binding adds to the base one persistent event of its own (on an
 *    eventfd), so event_base_dispatch() does not return for lack of events
 *    while bound; one event per watched descriptor; a timer event; and an
 *    event it activates to dispatch.  All have the base's default priority:
 *    while events of a more urgent priority are active, libevent runs
 *    nothing of a lower one, these included.
 *  - Once per iteration of the base in which something is due, the binding
 *    runs the due timers, then the ready watches, then the pending free
 *    callbacks, after the other events of its priority activated by the
 *    same wait.
 *  - The base does not need evthread_use_pthreads(): the binding touches it
 *    only from its own callbacks.  The six functions may be called from any
 *    thread and from callbacks; no lock is held while callbacks run; a call
 *    made outside the binding's callbacks wakes the base through the
 *    eventfd.  A registration added or re-enabled during an iteration fires
 *    no earlier than the next one; one removed or disabled before its turn
 *    does not fire.
 *  - Ids start at 1, grow by one per successful add, are never reused;
 *    watches and timers count apart.
 *  - Watches are level-triggered; a watch gets only the bits it asked for,
 *    plus VIR_EVENT_HANDLE_ERROR and VIR_EVENT_HANDLE_HANGUP, always (libevent
 *    reports those as READ/WRITE, so the binding asks poll(2) for the exact
 *    bits of each descriptor libevent reports).  Events 0 registers a watch
 *    that is not polled.
 *  - A watch asking for ERROR and/or HANGUP only is polled edge-triggered
 *    (EV_ET) and checked by the binding while the condition lasts, with the
 *    same result as a level-triggered poll.  With a method that has no
 *    EV_FEATURE_ET (poll, select: EVENT_NOEPOLL set, or another OS) such a
 *    watch is not polled at all, as if its events were 0, unless another
 *    watch on the same descriptor asks for READABLE or WRITABLE.
 *  - A descriptor closed while watched never makes the base spin: with the
 *    epoll method the kernel forgets it and the watch goes silent, and
 *    reports ERROR once if it is updated or its number gets a new watch;
 *    with the poll method, libevent sees POLLNVAL and the watch reports
 *    ERROR once.  (libevent's select method fails the whole
 *    event_base_loop() on a closed descriptor: do not close watched
 *    descriptors with it.)  Either way the watch stays registered, silent,
 *    until removed, and a new file that reuses the number is never reported to
 *    it.  Regular files are always ready, as poll(2) says.
 *  - libevent collects at most 32 ready descriptors per wait at first,
 *    doubling its array whenever it fills: with more ready at once, some are
 *    reported an iteration later.
 *  - Timers: 0 fires once per iteration and keeps the base from blocking;
 *    negative disables; a positive period (ms, monotonic clock) is re-armed
 *    from each dispatch and never fires early; every update restarts the
 *    countdown.
 *  - Free callbacks run exactly once per registration, on the thread running
 *    the base, after the callbacks of the iteration (never inside a remove
 *    call or a callback), at the latest in the iteration that follows the
 *    removal.
 */
#ifndef VEVENT_VEVENT_LIBEVENT_H
#define VEVENT_VEVENT_LIBEVENT_H

#include <stdint.h>

#include <vevent/event-impl.h>

#ifdef __cplusplus
extern "C" {
#endif

struct event_base;

/** Bind the six functions to `base` and store their table in *impl.  One
 *  base per process: the six functions have no argument to tell bases apart.
 *  Call it from the thread that runs the base, or while no thread runs it.
 *  Returns 0 (also when already bound to the same base: *impl is the same
 *  table), or:
 *   -EINVAL  base or impl is NULL;
 *   -EBUSY   bound to another base; unbind first;
 *   -ENOMEM, -EMFILE, -ENFILE  out of memory or descriptors.
 *  vev_libevent_last_error() says why.  Not from a callback. */
VEV_EXPORT int vev_libevent_bind(struct event_base *base,
				 const struct vev_event_impl **impl);

/** Undo vev_libevent_bind(): remove every registration still present, run
 *  every free callback not yet run (of those and of earlier removals) on the
 *  calling thread, and free the binding's events.  Afterwards the add and
 *  remove functions fail (-1) and the updates do nothing, until the next
 *  bind.  Meant for shutdown, after libvirt is done (virConnectClose()),
 *  and needed before event_base_free().
 *  Returns 0, or:
 *   -ENOENT  not bound;
 *   -EBUSY   called from one of the integration's callbacks.
 *  On the thread that runs the base (from another of its callbacks too), or
 *  while no thread runs it; no other thread may call the six functions
 *  meanwhile. */
VEV_EXPORT int vev_libevent_unbind(void);

/** Why the last failing call of this integration on the calling thread
 *  failed (including the six functions' -1), or "" if none did.  Valid until
 *  the next failure on this thread.  Any thread; from callbacks too. */
VEV_EXPORT const char *vev_libevent_last_error(void);

/** Read a counter, as vev_loop_stat() does for a native loop:
 *  VEV_STAT_ITERATIONS counts the binding's dispatch rounds,
 *  VEV_STAT_WAKEUPS wake-ups sent to the base from outside them,
 *  VEV_STAT_MEMORY the bytes the integration holds (libevent's own
 *  excluded); the others mean what they mean there.  Counters survive
 *  unbinding.  Returns 0, or -EINVAL (value NULL, unknown counter).  Any
 *  thread; from callbacks too. */
VEV_EXPORT int vev_libevent_stat(enum vev_stat which, uint64_t *value);

/** Check the integration's internal invariants (for tests and debugging;
 *  linear in the number of registrations).  Returns 0, or -EPROTO with a
 *  message naming the broken invariant.  Any thread; from callbacks too. */
VEV_EXPORT int vev_libevent_verify(void);

#ifdef __cplusplus
}
#endif

#endif /* VEVENT_VEVENT_LIBEVENT_H */
