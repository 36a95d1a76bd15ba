/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vevent event queues: events posted from any thread, delivered in posting
 * order on the thread running a loop, or handed to one worker thread that
 * waits for them synchronously.
 *
 * A queue is bound to one loop.  vev_queue_post() stores a payload (any
 * pointer) in a ring allocated when the queue was created, so posting never
 * allocates and never waits for the loop.  The first post into an empty
 * queue arms one internal 0 ms timer of the loop; later posts find it armed
 * and leave the loop alone, so any number of posts made before the loop
 * gets to run cost one wake-up.  When the timer fires, the loop thread takes
 * every payload waiting at that moment in one step and runs the queue's
 * callback once per payload, oldest first; payloads posted meanwhile wait
 * for the next iteration.
 *
 * Synchronous mode is for a worker that must wait for an event of a job it
 * started, holding the lock of the object the job belongs to:
 *
 *	vev_queue_sync_begin(q);          (events are now held for the worker)
 *	... start the job ...
 *	do {
 *		... other periodic work ...
 *		if (vev_queue_sync_wait(q, &obj->lock, 500, &status) < 0)
 *			goto error;       (-EPIPE: the producer side closed)
 *	} while (status == -1);           (-1: timed out, or the callback
 *	                                   said "not finished yet")
 *	vev_queue_sync_end(q, NULL);      (anything still held runs now)
 *
 * The waits release obj->lock while they block and take it back before they
 * run the callback, on the worker's thread, for the held events.
 *
 * Conventions are those of <vevent/vevent.h>: negative errno returns with a
 * message from vev_last_error(), any thread unless a comment says otherwise,
 * no internal lock held while user code runs.  Lock order, for programs
 * that take locks in callbacks: a caller's lock, then the queue's, then the
 * loop's.
 */
#ifndef VEVENT_QUEUE_H
#define VEVENT_QUEUE_H

#include <pthread.h>
#include <stdint.h>

#include <vevent/vevent.h>

#ifdef __cplusplus
extern "C" {
#endif

/** An event queue bound to a loop.  Opaque; create with vev_queue_new(). */
typedef struct vev_queue vev_queue;

/** Handles one event.  The payload now belongs to the callback (free it,
 *  keep it or pass it on).  For an event delivered by the loop the return
 *  value is ignored; for one processed by vev_queue_sync_wait() or
 *  vev_queue_sync_end() it is the status those report, so -1 conventionally
 *  means "not the event the waiter is waiting for". */
typedef int (*vev_queue_cb)(vev_queue *q, void *payload, void *opaque);

/** Flags for vev_queue_new(): what vev_queue_post() does when `capacity`
 *  payloads already wait in the queue. */
enum vev_queue_flags {
	/* Refuse the post with -EAGAIN; the caller keeps its payload. */
	VEV_QUEUE_REJECT_WHEN_FULL = 0,
	/* Free the oldest waiting payload (with payload_ff, on the posting
	 * thread) to make room: one waiting for the loop if any, else the
	 * oldest held one; never one the loop thread has already taken.
	 * Counted as VEV_QUEUE_STAT_DROPPED. */
	VEV_QUEUE_DROP_OLDEST = 1 << 0,
};

/** Create a queue on `loop`.  capacity (1 .. 2^30) bounds the payloads
 *  waiting in the queue, for the loop or held for a synchronous waiter.  The
 *  loop thread takes all those waiting for it at once, and producers have
 *  the whole capacity again while it works through them, so at most
 *  2 x capacity payloads are undelivered at any time.  The memory (three
 *  rings of `capacity` pointers) is allocated now; nothing is allocated
 *  later.  flags: one of enum vev_queue_flags.  cb handles each
 *  event with `opaque`.  opaque_ff, if not NULL, is called with opaque once
 *  the queue is released (see vev_queue_free()).  payload_ff, if not NULL,
 *  frees payloads the queue drops or is freed with; payloads that reach the
 *  callback are never passed to it.
 *  The queue registers one timer on the loop (visible in VEV_STAT_TIMERS).
 *  Free the queue before the loop.  If the loop is freed first (no thread
 *  may post meanwhile, as no thread may use a loop being freed), the queue
 *  behaves as closed: posts and waits return -EPIPE, nothing is delivered,
 *  and vev_queue_free() later releases everything on its caller's thread.
 *  Returns 0 and stores the queue in *qp, or:
 *   -EINVAL  qp, loop or cb is NULL, capacity is 0 or too large, unknown
 *            flags;
 *   -ENOMEM  out of memory;
 *   -ESHUTDOWN, -EOVERFLOW  the loop refused the timer (vev_add_timer()).
 *  On failure *qp is unchanged and opaque_ff is not called.
 *  Any thread; from callbacks too. */
VEV_EXPORT int vev_queue_new(vev_queue **qp, vev_loop *loop,
			     unsigned capacity, unsigned flags,
			     vev_queue_cb cb, void *opaque,
			     vev_free_cb opaque_ff, vev_free_cb payload_ff);

/** Post one event.  Outside synchronous mode it is delivered by the loop
 *  thread after every event posted before it; in synchronous mode it is
 *  held for the waiter.  Never allocates, never waits for the loop (it takes
 *  the queue's lock, and the loop's briefly when it must arm the timer).
 *  Returns 0 (the queue owns the payload), or, leaving the payload to the
 *  caller:
 *   -EAGAIN  `capacity` payloads wait (VEV_QUEUE_REJECT_WHEN_FULL);
 *   -EPIPE   vev_queue_close() was called, or the loop was freed;
 *   -EINVAL  q is NULL.
 *  Any thread; from callbacks too, including the queue's own (an event
 *  posted by a delivery is delivered no earlier than the next iteration). */
VEV_EXPORT int vev_queue_post(vev_queue *q, void *payload);

/** Close the producer side: later posts fail with -EPIPE.  Events already
 *  posted are still delivered (or held, then processed by a wait or the end
 *  of synchronous mode); a waiter blocked in vev_queue_sync_wait() wakes,
 *  processes what is held, and its next wait returns -EPIPE.  Closing twice
 *  is harmless.  Returns 0, or -EINVAL if q is NULL.  Any thread; from
 *  callbacks too. */
VEV_EXPORT int vev_queue_close(vev_queue *q);

/** Free a queue.  Later posts on other threads are a use after free: close
 *  the queue and stop the producers first.  Every payload not yet delivered
 *  or processed is freed with payload_ff, oldest first, on the calling
 *  thread before this returns: held ones, waiting ones, and those a delivery
 *  running on the loop thread has taken but not reached.  That delivery may
 *  finish the callback it is in, then delivers nothing more.  The
 *  queue's timer is removed; its free callback releases the rest and calls
 *  opaque_ff, on the loop thread, at the latest in the loop's next
 *  iteration (or in vev_loop_drain(), vev_loop_stop_thread() or
 *  vev_loop_free() if they come first).  If the loop was freed before the
 *  queue, all of that happens here, on the calling thread.
 *  NULL is accepted and ignored (returns 0).
 *  Errors, leaving the queue untouched: -EBUSY if called from the queue's
 *  own callback, or while a synchronous wait or end runs on it.
 *  Any thread; not from the queue's callback. */
VEV_EXPORT int vev_queue_free(vev_queue *q);

/* ---- synchronous mode -------------------------------------------------- */

/** Enter synchronous mode: from now on posted events are held for
 *  vev_queue_sync_wait() and vev_queue_sync_end() instead of going to the
 *  loop.  Events posted before this call and not yet delivered are still
 *  delivered by the loop thread, possibly while the waiter processes held
 *  ones (the callback then runs on two threads at once; begin before
 *  starting the job, as in the pattern above, and this cannot happen for the
 *  job's own events).  Allowed on a closed queue (the first wait returns
 *  -EPIPE).
 *  Returns 0, or -EBUSY (already in synchronous mode), -EINVAL (q NULL).
 *  Any thread; from callbacks too. */
VEV_EXPORT int vev_queue_sync_begin(vev_queue *q);

/** Wait for held events and process them.  If none is held, block until one
 *  is posted, the producer side is closed, or timeout_ms milliseconds pass
 *  on the monotonic clock (0: do not block; negative: no limit), releasing
 *  `lock` (if not NULL; the caller must hold it) while blocked and taking it
 *  back before returning.  Then run the callback for every event held at
 *  that moment, oldest first, on the calling thread, with `lock` held and no
 *  lock of the queue's.  Events posted by those callbacks stay held.
 *  Returns:
 *   1  events were processed; *status is the last callback's return value;
 *   0  timed out, nothing held; *status is -1;
 *   -EPIPE   nothing held and the producer side is closed ("the domain
 *            exited"), or the loop was freed; *status is -1;
 *   -EINVAL  q or status is NULL, or not in synchronous mode;
 *   -EBUSY   another wait or end is running on this queue (for instance,
 *            this is a call from a callback it runs).
 *  Any thread.  From the loop thread it blocks the loop: never wait there
 *  for events the loop itself must produce. */
VEV_EXPORT int vev_queue_sync_wait(vev_queue *q, pthread_mutex_t *lock,
				   int timeout_ms, int *status);

/** Leave synchronous mode, first running the callback on the calling thread
 *  for every event held when it is called (with whatever locks the caller
 *  holds).  Events posted meanwhile by other threads or by those callbacks
 *  go to the loop, after any events still waiting for it, in posting order.
 *  *status (if status is not NULL) gets the last callback's return value, or
 *  -1 if none ran.  Returns 1 if callbacks ran, 0 if nothing was held, or
 *  -EINVAL (q NULL, or not in synchronous mode), -EBUSY (a wait is running
 *  on this queue).  Any thread; from callbacks too, except those run by a
 *  wait or an end of the same queue. */
VEV_EXPORT int vev_queue_sync_end(vev_queue *q, int *status);

/* ---- introspection ----------------------------------------------------- */

/** Counters for vev_queue_stat().  At every moment
 *  POSTED == DELIVERED + PROCESSED + DROPPED + QUEUED + HELD.
 *  VEV_QUEUE_STAT_COUNT_ is their number, not a counter. */
enum vev_queue_stat {
	VEV_QUEUE_STAT_POSTED = 0, /* posts accepted */
	VEV_QUEUE_STAT_REJECTED,   /* posts refused with -EAGAIN */
	VEV_QUEUE_STAT_DELIVERED,  /* callbacks run by the loop */
	VEV_QUEUE_STAT_PROCESSED,  /* callbacks run by sync wait and end */
	VEV_QUEUE_STAT_DROPPED,    /* payloads dropped by VEV_QUEUE_DROP_OLDEST */
	VEV_QUEUE_STAT_WAKEUPS,    /* times a post armed the loop's timer */
	VEV_QUEUE_STAT_QUEUED,     /* payloads waiting for the loop now, or taken
	                            * by its delivery but not reached yet */
	VEV_QUEUE_STAT_HELD,       /* payloads held for a synchronous waiter now */
	VEV_QUEUE_STAT_COUNT_
};

/** Read one counter into *value.  Returns 0, or -EINVAL for a NULL q or
 *  value, or an unknown counter.  Any thread; from callbacks too. */
VEV_EXPORT int vev_queue_stat(vev_queue *q, enum vev_queue_stat which,
			      uint64_t *value);

#ifdef __cplusplus
}
#endif

#endif /* VEVENT_QUEUE_H */
