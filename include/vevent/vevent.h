/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vevent native API: a multi-instance event loop with libvirt's callback
 * signatures.
 *
 * Conventions shared by every function here:
 *  - Functions that can fail return a negative errno value (-EINVAL, -ENOENT,
 *    ...) and leave the loop unchanged; vev_last_error() then describes the
 *    failure in words.  Nothing here aborts on bad input.
 *  - Every function may be called from any thread unless its comment says
 *    otherwise.  No internal lock is held while a callback or a free callback
 *    runs, so callbacks may call every function of this API on their own loop
 *    (except the ones documented as "not from a callback").
 *  - Free callbacks run exactly once per successful registration, on the
 *    thread running the loop, never inside the remove call and never on the
 *    stack of another callback, at the latest during the iteration that
 *    follows the removal.
 *  - A loop may be used in a child after fork(): its first iteration there
 *    (or vev_loop_fd()) gives the child its own kernel state, leaving the
 *    parent's untouched (unless another thread was inside a call on the
 *    loop at the fork).
 */
#ifndef VEVENT_VEVENT_H
#define VEVENT_VEVENT_H

#include <stdint.h>

#include <vevent/version.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(VEVENT_BUILDING) && defined(__GNUC__)
#define VEV_EXPORT __attribute__((visibility("default")))
#else
#define VEV_EXPORT
#endif

/** An event loop. Opaque; create with vev_loop_new(). */
typedef struct vev_loop vev_loop;

/** Event bits, numerically identical to libvirt's virEventHandleType. */
enum vev_events {
	VEV_READABLE = 1 << 0,
	VEV_WRITABLE = 1 << 1,
	VEV_ERROR = 1 << 2,  /* always reported, whether asked for or not */
	VEV_HANGUP = 1 << 3, /* always reported, whether asked for or not */
};

/** Same signatures as virEventHandleCallback, virEventTimeoutCallback and
 *  virFreeCallback, so a libvirt callback can be passed unchanged. */
typedef void (*vev_handle_cb)(int watch, int fd, int events, void *opaque);
typedef void (*vev_timer_cb)(int timer, void *opaque);
typedef void (*vev_free_cb)(void *opaque);

/** Flags for vev_loop_new(): at most one backend flag. */
enum vev_loop_flags {
	VEV_LOOP_AUTO = 0,         /* $VEVENT_BACKEND if set, else the best */
	VEV_LOOP_EPOLL = 1 << 0,   /* Linux epoll(7) */
	VEV_LOOP_POLL = 1 << 1,    /* portable poll(2) */
};

/** Timeout values for vev_run_once(). */
#define VEV_WAIT_FOREVER (-1)
#define VEV_NO_WAIT 0

/* ---- version ----------------------------------------------------------- */

/** The library's version as a string ("1.2.3"), and as
 *  major * 10000 + minor * 100 + micro.  Compare with VEV_VERSION_STRING and
 *  VEV_VERSION_NUMBER from <vevent/version.h> to detect a header/library
 *  mismatch.  Any thread; from callbacks too. */
VEV_EXPORT const char *vev_version(void);
VEV_EXPORT int vev_version_number(void);

/* ---- errors ------------------------------------------------------------ */

/** A description of the last failure of a vevent call made by the calling
 *  thread (each thread has its own), or "" if none failed yet.  The string
 *  stays valid until the next failing call on this thread.  Any thread; from
 *  callbacks too. */
VEV_EXPORT const char *vev_last_error(void);

/* ---- loop lifetime ----------------------------------------------------- */

/** Create a loop.  flags: VEV_LOOP_AUTO, VEV_LOOP_EPOLL or VEV_LOOP_POLL.
 *  With VEV_LOOP_AUTO the environment variable VEVENT_BACKEND ("epoll" or
 *  "poll", case-sensitive; unset or empty means the default) picks the
 *  backend, else epoll where available.  An explicit flag wins over it.
 *  Returns 0 and stores the loop in *loopp, or:
 *   -EINVAL  loopp is NULL, unknown flags, several backends, or a bad
 *            VEVENT_BACKEND value;
 *   -ENOTSUP the backend is not available on this system;
 *   -ENOMEM, -EMFILE, -ENFILE  out of memory or descriptors.
 *  Any thread. */
VEV_EXPORT int vev_loop_new(vev_loop **loopp, unsigned flags);

/** Free a loop.  Every registration still present is removed, and every free
 *  callback not yet run (of those and of earlier removals) runs now, on the
 *  calling thread.  A helper thread started by vev_loop_start_thread() is
 *  stopped first.  NULL is accepted and ignored (returns 0).
 *  Errors: -EBUSY if the loop is being run by a thread other than its helper
 *  thread, or if called from one of the loop's callbacks; the loop is then
 *  left untouched.  Not from a callback. */
VEV_EXPORT int vev_loop_free(vev_loop *loop);

/** The backend's name: "epoll" or "poll".  Any thread. */
VEV_EXPORT const char *vev_loop_backend(const vev_loop *loop);

/* ---- handles (file descriptor watches) --------------------------------- */

/** Watch fd for events (VEV_READABLE | VEV_WRITABLE; ERROR and HANGUP are
 *  always reported; other bits are ignored).  events 0 registers the watch
 *  without polling it: it gets no callback at all, not even ERROR or
 *  HANGUP, until updated; VEV_ERROR or VEV_HANGUP alone polls for those.
 *  Events are level-triggered: while a condition holds, cb runs once per
 *  iteration with all its pending bits.  The same fd may be watched several
 *  times.  In an iteration, due timers run first (in deadline order), then
 *  ready watches: those on one descriptor in the order they were added,
 *  descriptors in the order the backend reports them.  ff, if not NULL, is called with opaque once the
 *  watch is removed.
 *  Returns the watch id (> 0; ids start at 1, grow by one per successful add
 *  and are never reused), or:
 *   -EBADF   fd is negative or not an open descriptor;
 *   -EINVAL  cb is NULL or loop is NULL;
 *   -EOVERFLOW  all INT_MAX watch ids have been used;
 *   -ENOMEM  out of memory;
 *   -ESHUTDOWN  called by a free callback that vev_loop_free() or
 *            vev_loop_clear() runs.
 *  On failure ff is not called.  Any thread; from callbacks too: a watch
 *  added during dispatch fires no earlier than the next iteration. */
VEV_EXPORT int vev_add_handle(vev_loop *loop, int fd, int events,
			      vev_handle_cb cb, void *opaque, vev_free_cb ff);

/** Change the events a watch asks for (same bits as vev_add_handle()).
 *  A watch whose descriptor was found closed or reused by another file (it
 *  got VEV_ERROR once for that) stays silent whatever it asks for; remove
 *  it.
 *  Returns 0, or -ENOENT if there is no such watch (never added, or already
 *  removed), -EINVAL if loop is NULL.  Any thread; from callbacks too. */
VEV_EXPORT int vev_update_handle(vev_loop *loop, int watch, int events);

/** Remove a watch.  Its callback does not run again once this returns (when
 *  called on the loop thread; from another thread, a callback already
 *  running may finish).  Its free callback runs later on the loop thread.
 *  Returns 0, or -ENOENT if there is no such watch, -EINVAL if loop is NULL.
 *  Any thread; from callbacks too, including the watch's own. */
VEV_EXPORT int vev_remove_handle(vev_loop *loop, int watch);

/* ---- timers ------------------------------------------------------------ */

/** Add a timer.  timeout_ms > 0: fires every timeout_ms milliseconds on the
 *  monotonic clock, re-armed when it fires (no catch-up bursts), never early;
 *  0: fires once per iteration, and no iteration blocks while it is armed;
 *  < 0: registered but disabled.  ff as for vev_add_handle().
 *  Returns the timer id (> 0, same rules as watch ids, own id space), or
 *  -EINVAL (cb or loop NULL), -EOVERFLOW, -ENOMEM, -ESHUTDOWN (as for
 *  vev_add_handle()).  Any thread; from
 *  callbacks too: a timer added during dispatch fires no earlier than the
 *  next iteration. */
VEV_EXPORT int vev_add_timer(vev_loop *loop, int timeout_ms, vev_timer_cb cb,
			     void *opaque, vev_free_cb ff);

/** Set a timer's period (same values as vev_add_timer()) and restart its
 *  countdown from now, even when the period is unchanged.
 *  Returns 0, or -ENOENT if there is no such timer, -EINVAL if loop is NULL.
 *  Any thread; from callbacks too. */
VEV_EXPORT int vev_update_timer(vev_loop *loop, int timer, int timeout_ms);

/** Remove a timer; as vev_remove_handle().  Returns 0, -ENOENT or -EINVAL.
 *  Any thread; from callbacks too. */
VEV_EXPORT int vev_remove_timer(vev_loop *loop, int timer);

/* ---- running ----------------------------------------------------------- */

/** Run one iteration: run the free callbacks of earlier removals, wait until
 *  a watch is ready, a timer is due, another thread changes the loop, or
 *  timeout_ms passes (VEV_WAIT_FOREVER blocks; VEV_NO_WAIT does not; other
 *  negative values count as VEV_WAIT_FOREVER), then dispatch every ready
 *  watch and due timer once and run the free callbacks of removals made
 *  meanwhile.
 *  Returns the number of watch and timer callbacks dispatched (free callbacks
 *  are not counted; 0 on a timeout, a signal or a wake-up),
 *  or:
 *   -EINVAL  loop is NULL;
 *   -EBUSY   the loop is already running (in another thread, or this is a
 *            call from one of its callbacks);
 *   -EIO     the backend failed to wait (the message says why);
 *   -EMFILE, -ENFILE, -ENOMEM  only in a child after fork(): the loop could
 *            not get kernel state of its own (out of descriptors or
 *            memory).  Nothing ran and nothing changed; a later call tries
 *            again.
 *  Any thread, but one at a time; not from a callback. */
VEV_EXPORT int vev_run_once(vev_loop *loop, int timeout_ms);

/** Run iterations until vev_quit() is called.  Returns 0 after the iteration
 *  in which the quit request was seen, or an error of vev_run_once().
 *  Any thread, one at a time; not from a callback. */
VEV_EXPORT int vev_run(vev_loop *loop);

/** Ask vev_run() to return, waking the loop if it is blocked.  The request
 *  stays pending until a vev_run() returns because of it: if none is active,
 *  the next one returns after its first iteration, and meanwhile
 *  vev_run_once() does not block.  On a loop run by the helper thread, the
 *  thread ends (vev_loop_stop_thread() still joins it and returns 0).
 *  Returns 0, or -EINVAL if loop is NULL.  Any thread; from callbacks too. */
VEV_EXPORT int vev_quit(vev_loop *loop);

/** Start a thread that runs vev_run() on the loop.  The thread blocks every
 *  signal that can be blocked, so the program's signal handlers never run
 *  on it and a signal another thread waits for with sigwait() is never
 *  taken by it.  Callbacks that need a signal unblocked must do that
 *  themselves.
 *  Returns 0, or -EBUSY (a helper thread or another runner is active),
 *  -EAGAIN (no thread could be created), -EINVAL.  Any thread; not from a
 *  callback. */
VEV_EXPORT int vev_loop_start_thread(vev_loop *loop);

/** vev_loop_start_thread(), with two functions the helper thread calls on
 *  itself: enter(arg) before it starts running the loop, leave(arg) after
 *  it stopped (on vev_quit() or vev_loop_stop_thread()), before it ends.
 *  Either may be NULL.  For a language runtime that must register a thread
 *  once rather than at every callback (Python's thread state, a JVM
 *  attach).  Same returns as vev_loop_start_thread(); the hooks are not
 *  called if it fails.  Any thread; not from a callback. */
VEV_EXPORT int vev_loop_start_thread_hooks(vev_loop *loop,
					   void (*enter)(void *arg),
					   void (*leave)(void *arg), void *arg);

/** Stop the helper thread: quit, wait for it to end, then run the pending
 *  free callbacks on the calling thread.  Returns 0, or -ESRCH (no helper
 *  thread), -EDEADLK (called on the helper thread itself, i.e. from a
 *  callback), -EINVAL.  Any other thread. */
VEV_EXPORT int vev_loop_stop_thread(vev_loop *loop);

/** Run every pending free callback now, on the calling thread, which must
 *  not be running the loop elsewhere.  Returns the number of free callbacks
 *  run, or -EBUSY (the loop is running), -EINVAL.  Not from a callback. */
VEV_EXPORT int vev_loop_drain(vev_loop *loop);

/** Remove every watch and timer and run every free callback not yet run (of
 *  those and of earlier removals) on the calling thread; the loop stays
 *  usable, and ids go on from where they were (they are never reused).
 *  Registrations attempted by those free callbacks fail (-ESHUTDOWN).
 *  Returns the number of free callbacks run, or -EBUSY (the loop is running
 *  in another thread, or this is a call from one of its callbacks),
 *  -EINVAL.  Any thread; not from a callback. */
VEV_EXPORT int vev_loop_clear(vev_loop *loop);

/* ---- embedding in another event loop ----------------------------------- */

/** A descriptor that polls readable (POLLIN, EPOLLIN) whenever an iteration
 *  has work to do: a ready watch (an always-ready regular file and the
 *  ERROR report of a closed descriptor included), a due timer (period 0
 *  included), a pending free callback, or a change made by any thread that
 *  the next iteration must act on.  A vev_quit() request makes it readable
 *  once, until the next iteration.  A host loop that polls only this
 *  descriptor, with no timeout of its own, and calls
 *  vev_run_once(loop, VEV_NO_WAIT) whenever it is readable gets every rule
 *  of the contract: changes made from any thread while the host sleeps
 *  show at once (the descriptor is never stale), and timers fire on time,
 *  never early.  Reading it is not needed and does nothing useful.
 *  The descriptor belongs to the loop (never close it) and keeps its number
 *  and its open file for the loop's whole life, whatever the loop does to
 *  its kernel state.  After fork(), the child's first vev_loop_fd() or
 *  iteration on the loop makes the child its own descriptor under the same
 *  number; a host that registered the number with its own epoll must
 *  register it again in the child (as for any epoll set after fork()).
 *  A loop that never calls this pays nothing for it.
 *  Returns the descriptor (>= 0), or:
 *   -ENOTSUP the backend cannot provide one (poll; epoll always can);
 *   -EMFILE, -ENFILE, -ENOMEM  out of descriptors or memory (on the first
 *            call, which creates it);
 *   -EINVAL  loop is NULL.
 *  Any thread; from callbacks too. */
VEV_EXPORT int vev_loop_fd(vev_loop *loop);

/** How long an iteration may wait before a timer is due, in milliseconds,
 *  rounded up: 0 if something is due already (a period-0 timer, a pending
 *  free callback or synthetic event), -1 if no timer is armed.  For hosts
 *  that prefer a timeout of their own to vev_loop_fd()'s timer; watches
 *  still need the descriptor.  Returns the value, or -EINVAL.  Any thread;
 *  from callbacks too. */
VEV_EXPORT int vev_loop_timeout(vev_loop *loop);

/* ---- introspection ----------------------------------------------------- */

/** Counters for vev_loop_stat().  VEV_STAT_COUNT_ is their number, not a
 *  counter, and grows when counters are added. */
enum vev_stat {
	VEV_STAT_ITERATIONS = 0, /* iterations run */
	VEV_STAT_HANDLE_CALLS,   /* watch callbacks dispatched */
	VEV_STAT_TIMER_CALLS,    /* timer callbacks dispatched */
	VEV_STAT_FREE_CALLS,     /* free callbacks run */
	VEV_STAT_WAKEUPS,        /* cross-thread wake-ups received */
	VEV_STAT_HANDLES,        /* watches registered now */
	VEV_STAT_TIMERS,         /* timers registered now */
	VEV_STAT_PENDING_FREES,  /* removals the loop has yet to finish */
	VEV_STAT_MEMORY,         /* bytes of heap memory the loop holds */
	VEV_STAT_COUNT_
};

/** Read one counter into *value.  Returns 0, or -EINVAL for a NULL loop or
 *  value, or an unknown counter.  Any thread; from callbacks too. */
VEV_EXPORT int vev_loop_stat(vev_loop *loop, enum vev_stat which,
			     uint64_t *value);

/** Check the loop's internal invariants (tables, per-descriptor records,
 *  timer heap, deferred lists).  Meant for tests and debugging; its cost is
 *  linear in the number of registrations.  Returns 0, or -EPROTO with a
 *  message naming the broken invariant, or -EINVAL.  Any thread; from
 *  callbacks too. */
VEV_EXPORT int vev_loop_verify(vev_loop *loop);

#ifdef __cplusplus
}
#endif

#endif /* VEVENT_VEVENT_H */
