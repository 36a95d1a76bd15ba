/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Event queues: posts from any thread, delivery on the loop thread through
 * one internal timer, and the synchronous mode a worker thread waits in.
 * Built on the public native API only; the loop knows nothing of queues. */
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "vevent/queue.h"

#include "alloc.h"
#include "error.h"

/* Rings are indexed with 32-bit arithmetic: head + len must not wrap. */
#define MAX_CAPACITY (1u << 30)
/* batch_pos once vev_queue_free() has claimed the rest of a batch. */
#define BATCH_CLOSED 0x80000000u

struct ring {
	void **slot;
	uint32_t head, len;
};

struct vev_queue {
	/* Lock order: a caller's lock, then this one, then the loop's. */
	pthread_mutex_t lock;
	/* Signalled when an event is held for a waiter, and when the
	 * producer side closes. */
	pthread_cond_t cond;

	/* Set at creation, never changed: read without the lock. */
	vev_loop *loop;
	int timer;
	uint32_t cap;
	unsigned flags;
	vev_queue_cb cb;
	void *opaque;
	vev_free_cb opaque_ff, payload_ff;
	void **block; /* the three rings' memory, which they trade around */

	struct ring async; /* waiting for the loop */
	struct ring held;  /* posted in synchronous mode */
	/* async.len + held.len <= cap, so each ring can take the other's
	 * contents (vev_queue_sync_end() relies on it). */

	/* The batch: the ring deliver() swapped out of `async` in one step and
	 * delivers without the lock.  Each of its batch_len entries is claimed
	 * once, by an atomic increment of batch_pos: by deliver(), which runs
	 * the callback, or by vev_queue_free(), which frees what is left.
	 * Between batches it is the empty ring the next swap puts in place of
	 * `async`.  It is outside the capacity: producers get the whole of it
	 * back as soon as the loop thread takes what waits, as with the
	 * double buffering of libvirt's own event queue. */
	struct ring batch;
	uint32_t batch_len;

	bool armed;      /* the timer is at 0 ms: a delivery is coming */
	bool sync;       /* between sync_begin and sync_end */
	bool sync_busy;  /* a wait or end is running */
	bool waiting;    /* that wait is blocked on cond */
	bool closed;     /* vev_queue_close() */
	bool dead;       /* vev_queue_free(): nothing is delivered any more */
	bool orphaned;   /* the loop removed our timer: it is being freed */
	bool delivering; /* the loop thread is in deliver() */
	pthread_t deliverer;

	uint64_t stats[VEV_QUEUE_STAT_COUNT_];

	/* Incremented by deliver() for every event, so on a cache line of its
	 * own: sharing one with what producers write on every post would
	 * move that line between their CPU and the loop's once per event.
	 * Producers never read it. */
	char pad_before[64];
	atomic_uint batch_pos;
	char pad_after[64 - sizeof(atomic_uint)];
};

static void ring_push(struct ring *r, uint32_t cap, void *payload)
{
	uint32_t i = r->head + r->len;
	if (i >= cap)
		i -= cap;
	r->slot[i] = payload;
	r->len++;
}

static void *ring_pop(struct ring *r, uint32_t cap)
{
	void *payload = r->slot[r->head];
	if (++r->head == cap)
		r->head = 0;
	r->len--;
	return payload;
}

static void *ring_at(const struct ring *r, uint32_t cap, uint32_t i)
{
	uint32_t k = r->head + i;
	return r->slot[k >= cap ? k - cap : k];
}

/* Queue lock held.  What a delivery in progress has not reached yet; it
 * only shrinks behind our back. */
static uint32_t batch_unclaimed(struct vev_queue *q)
{
	uint32_t pos = atomic_load_explicit(&q->batch_pos,
					    memory_order_relaxed);
	return pos < q->batch_len ? q->batch_len - pos : 0;
}

/* Queue lock held.  Only the first post into an idle queue reaches the
 * loop; every later one finds the timer armed, which is what makes a burst
 * of posts cost one wake-up. */
static void arm_locked(struct vev_queue *q)
{
	if (q->armed || q->dead || q->orphaned)
		return;
	/* Cannot fail: the timer exists until vev_queue_free() or the loop's
	 * destruction, and both are excluded above. */
	vev_update_timer(q->loop, q->timer, 0);
	q->armed = true;
	q->stats[VEV_QUEUE_STAT_WAKEUPS]++;
}

/* The timer callback, on the loop thread.  It swaps the queued events out
 * in one step (the lock is held for O(1), however many there are, so that
 * producers posting meanwhile rarely wait for it) and delivers them without
 * the lock.  Events posted meanwhile wait for the next iteration, the timer
 * still armed: a callback that keeps posting cannot hold the loop here. */
static void deliver(int timer, void *opaque)
{
	struct vev_queue *q = opaque;

	pthread_mutex_lock(&q->lock);
	if (q->dead) {
		/* vev_queue_free() ran between the loop's decision to call us
		 * and this call; our memory lives until the timer's free
		 * callback, which comes after we return. */
		pthread_mutex_unlock(&q->lock);
		return;
	}
	if (q->async.len > 0) {
		struct ring taken = q->async;
		q->async = (struct ring){ q->batch.slot, 0, 0 };
		q->batch = taken;
		q->batch_len = taken.len;
		atomic_store_explicit(&q->batch_pos, 0, memory_order_relaxed);
		q->delivering = true;
		q->deliverer = pthread_self();
		pthread_mutex_unlock(&q->lock);

		/* Nobody writes the batch's slots until the next swap, which
		 * is ours; claims keep each payload to one taker. */
		vev_queue_cb cb = q->cb;
		void *cb_opaque = q->opaque;
		uint32_t i, delivered = 0, cap = q->cap;
		while ((i = atomic_fetch_add_explicit(&q->batch_pos, 1,
						      memory_order_relaxed)) <
		       taken.len) {
			cb(q, ring_at(&taken, cap, i), cb_opaque);
			delivered++;
		}

		pthread_mutex_lock(&q->lock);
		q->delivering = false;
		q->stats[VEV_QUEUE_STAT_DELIVERED] += delivered;
		q->batch_len = 0;
		atomic_store_explicit(&q->batch_pos, 0, memory_order_relaxed);
	}
	if (!q->dead && q->async.len == 0) {
		vev_update_timer(q->loop, timer, -1);
		q->armed = false;
	}
	pthread_mutex_unlock(&q->lock);
}

static void destroy(struct vev_queue *q)
{
	if (q->opaque_ff)
		q->opaque_ff(q->opaque);
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->lock);
	vev__free(q->block);
	vev__free(q);
}

/* The timer's free callback: after vev_queue_free() removed the timer, or
 * when the loop itself is being freed under a live queue.  The loop calls
 * it after any running deliver() has returned, so this is the one place
 * where the memory can go without racing a delivery. */
static void timer_released(void *opaque)
{
	struct vev_queue *q = opaque;

	pthread_mutex_lock(&q->lock);
	if (!q->dead) {
		/* The loop goes away first: the queue stays, closed, until
		 * vev_queue_free() releases it on its caller's thread. */
		q->orphaned = true;
		q->armed = false;
		q->loop = NULL;
		pthread_cond_broadcast(&q->cond);
		pthread_mutex_unlock(&q->lock);
		return;
	}
	pthread_mutex_unlock(&q->lock);
	destroy(q);
}

int vev_queue_new(vev_queue **qp, vev_loop *loop, unsigned capacity,
		  unsigned flags, vev_queue_cb cb, void *opaque,
		  vev_free_cb opaque_ff, vev_free_cb payload_ff)
{
	const unsigned known = VEV_QUEUE_DROP_OLDEST;
	pthread_condattr_t attr;
	int rc;

	if (!qp || !loop || !cb)
		return vev__error(EINVAL, "vev_queue_new: %s is NULL",
				  !qp ? "qp" : !loop ? "loop" : "cb");
	if (capacity == 0 || capacity > MAX_CAPACITY)
		return vev__error(EINVAL, "vev_queue_new: capacity %u is not "
				  "between 1 and %u", capacity, MAX_CAPACITY);
	if (flags & ~known)
		return vev__error(EINVAL, "vev_queue_new: unknown flags 0x%x",
				  flags & ~known);

	struct vev_queue *q = vev__calloc(1, sizeof(*q));
	if (!q)
		return vev__error(ENOMEM, "vev_queue_new: out of memory");
	/* The three rings in one block, sized once: posting never
	 * allocates. */
	q->block = vev__reallocarray(NULL, 3 * (size_t)capacity,
				     sizeof(void *));
	if (!q->block) {
		vev__free(q);
		return vev__error(ENOMEM, "vev_queue_new: out of memory for "
				  "%u events", capacity);
	}
	q->async.slot = q->block;
	q->held.slot = q->block + capacity;
	q->batch.slot = q->block + 2 * (size_t)capacity;
	q->loop = loop;
	q->cap = capacity;
	q->flags = flags;
	q->cb = cb;
	q->opaque = opaque;
	q->opaque_ff = opaque_ff;
	q->payload_ff = payload_ff;

	rc = pthread_mutex_init(&q->lock, NULL);
	if (rc) {
		vev__free(q->block);
		vev__free(q);
		return vev__error(rc, "vev_queue_new: mutex: %s", strerror(rc));
	}
	/* Waits time out on the monotonic clock, like the loop's timers. */
	rc = pthread_condattr_init(&attr);
	if (rc == 0) {
		rc = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
		if (rc == 0)
			rc = pthread_cond_init(&q->cond, &attr);
		pthread_condattr_destroy(&attr);
	}
	if (rc) {
		pthread_mutex_destroy(&q->lock);
		vev__free(q->block);
		vev__free(q);
		return vev__error(rc, "vev_queue_new: condition variable: %s",
				  strerror(rc));
	}
	rc = vev_add_timer(loop, -1, deliver, q, timer_released);
	if (rc < 0) {
		char why[200];
		snprintf(why, sizeof(why), "%s", vev_last_error());
		pthread_cond_destroy(&q->cond);
		pthread_mutex_destroy(&q->lock);
		vev__free(q->block);
		vev__free(q);
		return vev__error(-rc, "vev_queue_new: %s", why);
	}
	q->timer = rc;
	*qp = q;
	return 0;
}

int vev_queue_post(vev_queue *q, void *payload)
{
	void *dropped = NULL;
	bool have_dropped = false, orphaned = false;
	int rc = 0;

	if (!q)
		return vev__error(EINVAL, "vev_queue_post: q is NULL");
	pthread_mutex_lock(&q->lock);
	if (q->closed || q->dead || q->orphaned) {
		orphaned = q->orphaned;
		rc = -EPIPE;
		goto out;
	}
	if (q->async.len + q->held.len >= q->cap) {
		if (!(q->flags & VEV_QUEUE_DROP_OLDEST)) {
			q->stats[VEV_QUEUE_STAT_REJECTED]++;
			rc = -EAGAIN;
			goto out;
		}
		/* Events waiting for the loop predate every held one. */
		dropped = ring_pop(q->async.len ? &q->async : &q->held, q->cap);
		have_dropped = true;
		q->stats[VEV_QUEUE_STAT_DROPPED]++;
	}
	q->stats[VEV_QUEUE_STAT_POSTED]++;
	if (q->sync) {
		ring_push(&q->held, q->cap, payload);
		if (q->waiting)
			pthread_cond_signal(&q->cond);
	} else {
		ring_push(&q->async, q->cap, payload);
		arm_locked(q);
	}
out:
	pthread_mutex_unlock(&q->lock);
	/* Messages are formatted outside the lock: a producer retrying on a
	 * full queue must not slow down the loop thread emptying it. */
	if (rc == -EAGAIN)
		return vev__error(EAGAIN, "vev_queue_post: the queue is full "
				  "(%u events)", q->cap);
	if (rc == -EPIPE)
		return vev__error(EPIPE, "vev_queue_post: the queue's producer "
				  "side is closed%s",
				  orphaned ? " (its loop was freed)" : "");
	if (have_dropped && q->payload_ff)
		q->payload_ff(dropped);
	return 0;
}

int vev_queue_close(vev_queue *q)
{
	if (!q)
		return vev__error(EINVAL, "vev_queue_close: q is NULL");
	pthread_mutex_lock(&q->lock);
	q->closed = true;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	return 0;
}

int vev_queue_free(vev_queue *q)
{
	if (!q)
		return 0;
	pthread_mutex_lock(&q->lock);
	if (q->delivering && pthread_equal(q->deliverer, pthread_self())) {
		pthread_mutex_unlock(&q->lock);
		return vev__error(EBUSY, "vev_queue_free: called from the "
				  "queue's own callback");
	}
	if (q->sync_busy) {
		pthread_mutex_unlock(&q->lock);
		return vev__error(EBUSY, "vev_queue_free: a synchronous wait or "
				  "end is running on the queue");
	}
	/* From here on nothing is delivered, posted or held: the rings are
	 * ours to empty, one payload at a time so that no lock is held while
	 * payload_ff runs.  First what a delivery running now has taken but
	 * not reached yet (the oldest); it stops at its next claim, and takes
	 * no new batch once it sees `dead`. */
	q->dead = true;
	q->closed = true;
	uint32_t from = atomic_exchange(&q->batch_pos, BATCH_CLOSED);
	uint32_t to = q->batch_len;
	struct ring taken = q->batch;
	for (uint32_t i = from; i < to; i++) {
		void *payload = ring_at(&taken, q->cap, i);
		if (q->payload_ff) {
			pthread_mutex_unlock(&q->lock);
			q->payload_ff(payload);
			pthread_mutex_lock(&q->lock);
		}
	}
	for (;;) {
		struct ring *r = q->async.len ? &q->async :
				 q->held.len  ? &q->held :
						NULL;
		if (!r)
			break;
		void *payload = ring_pop(r, q->cap);
		if (q->payload_ff) {
			pthread_mutex_unlock(&q->lock);
			q->payload_ff(payload);
			pthread_mutex_lock(&q->lock);
		}
	}
	if (q->orphaned) {
		pthread_mutex_unlock(&q->lock);
		destroy(q);
		return 0;
	}
	/* The rest is timer_released()'s, once the loop thread is done with
	 * any delivery in progress.  q may be gone as soon as we unlock. */
	vev_remove_timer(q->loop, q->timer);
	pthread_mutex_unlock(&q->lock);
	return 0;
}

/* ---- synchronous mode --------------------------------------------------- */

int vev_queue_sync_begin(vev_queue *q)
{
	int rc = 0;

	if (!q)
		return vev__error(EINVAL, "vev_queue_sync_begin: q is NULL");
	pthread_mutex_lock(&q->lock);
	if (q->sync)
		rc = vev__error(EBUSY, "vev_queue_sync_begin: the queue is "
				"already in synchronous mode");
	else
		q->sync = true;
	pthread_mutex_unlock(&q->lock);
	return rc;
}

/* Queue lock held.  One wait or end at a time: a second one would steal
 * the first one's events, and a callback run by a wait must not recurse. */
static int sync_enter(struct vev_queue *q, const char *what)
{
	if (!q->sync)
		return vev__error(EINVAL, "%s: the queue is not in synchronous "
				  "mode", what);
	if (q->sync_busy)
		return vev__error(EBUSY, "%s: another synchronous wait or end "
				  "is running on the queue", what);
	q->sync_busy = true;
	return 0;
}

/* Queue lock held, and the caller's.  Runs the callback for the events held
 * now; those its callbacks post stay held for the next wait. */
static int process_held(struct vev_queue *q, int *status)
{
	int last = -1, ran = 0;

	for (uint32_t budget = q->held.len; budget > 0 && q->held.len > 0;
	     budget--) {
		void *payload = ring_pop(&q->held, q->cap);
		q->stats[VEV_QUEUE_STAT_PROCESSED]++;
		ran = 1;
		pthread_mutex_unlock(&q->lock);
		last = q->cb(q, payload, q->opaque);
		pthread_mutex_lock(&q->lock);
	}
	*status = last;
	return ran;
}

static void deadline_after(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static bool deadline_passed(const struct timespec *deadline)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > deadline->tv_sec ||
	       (now.tv_sec == deadline->tv_sec &&
		now.tv_nsec >= deadline->tv_nsec);
}

int vev_queue_sync_wait(vev_queue *q, pthread_mutex_t *lock, int timeout_ms,
			int *status)
{
	struct timespec deadline;
	int rc;

	if (status)
		*status = -1;
	if (!q || !status)
		return vev__error(EINVAL, "vev_queue_sync_wait: %s is NULL",
				  !q ? "q" : "status");
	if (timeout_ms > 0)
		deadline_after(&deadline, timeout_ms);
	pthread_mutex_lock(&q->lock);
	rc = sync_enter(q, "vev_queue_sync_wait");
	if (rc < 0) {
		pthread_mutex_unlock(&q->lock);
		return rc;
	}
	while (q->held.len == 0) {
		if (q->closed || q->orphaned) {
			rc = vev__error(EPIPE, "vev_queue_sync_wait: the "
					"queue's producer side is closed%s",
					q->orphaned && !q->closed ?
						" (its loop was freed)" :
						"");
			goto out;
		}
		if (timeout_ms == 0 ||
		    (timeout_ms > 0 && deadline_passed(&deadline)))
			goto out; /* rc is 0 */
		/* The caller's lock is released only once ours is held, so
		 * that a post made under it cannot slip by unseen. */
		q->waiting = true;
		if (lock)
			pthread_mutex_unlock(lock);
		if (timeout_ms > 0)
			pthread_cond_timedwait(&q->cond, &q->lock, &deadline);
		else
			pthread_cond_wait(&q->cond, &q->lock);
		q->waiting = false;
		if (lock) {
			/* Retaken in lock order; the state is checked again
			 * below, whatever happened meanwhile. */
			pthread_mutex_unlock(&q->lock);
			pthread_mutex_lock(lock);
			pthread_mutex_lock(&q->lock);
		}
	}
	rc = process_held(q, status);
out:
	q->sync_busy = false;
	pthread_mutex_unlock(&q->lock);
	return rc;
}

int vev_queue_sync_end(vev_queue *q, int *status)
{
	int rc, last;

	if (!q)
		return vev__error(EINVAL, "vev_queue_sync_end: q is NULL");
	pthread_mutex_lock(&q->lock);
	rc = sync_enter(q, "vev_queue_sync_end");
	if (rc < 0) {
		pthread_mutex_unlock(&q->lock);
		return rc;
	}
	rc = process_held(q, &last);
	/* Posted while the callbacks ran: these go to the loop, behind what
	 * already waits for it, so each producer's order still holds.  Both
	 * rings together never exceed the capacity, so they fit. */
	while (q->held.len > 0)
		ring_push(&q->async, q->cap, ring_pop(&q->held, q->cap));
	if (q->async.len > 0)
		arm_locked(q);
	q->sync = false;
	q->sync_busy = false;
	pthread_mutex_unlock(&q->lock);
	if (status)
		*status = last;
	return rc;
}

/* ---- introspection ------------------------------------------------------ */

int vev_queue_stat(vev_queue *q, enum vev_queue_stat which, uint64_t *value)
{
	if (!q || !value)
		return vev__error(EINVAL, "vev_queue_stat: q or value is NULL");
	if ((unsigned)which >= VEV_QUEUE_STAT_COUNT_)
		return vev__error(EINVAL, "vev_queue_stat: unknown counter %d",
				  (int)which);
	pthread_mutex_lock(&q->lock);
	/* Of a batch in progress, what deliver() reached counts as
	 * delivered, the rest as queued. */
	uint32_t unclaimed = batch_unclaimed(q);
	switch (which) {
	case VEV_QUEUE_STAT_DELIVERED:
		*value = q->stats[which] + (q->batch_len - unclaimed);
		break;
	case VEV_QUEUE_STAT_QUEUED:
		*value = q->async.len + unclaimed;
		break;
	case VEV_QUEUE_STAT_HELD:
		*value = q->held.len;
		break;
	default:
		*value = q->stats[which];
		break;
	}
	pthread_mutex_unlock(&q->lock);
	return 0;
}
