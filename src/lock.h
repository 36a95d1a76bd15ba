/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The loop's lock.  Every API call takes it, and an iteration takes it once
 * more around each callback, so its uncontended cost is paid everywhere.
 *
 * On Linux it is a futex word: 0 free, 1 held, 2 held and a thread may be
 * asleep waiting.  Free, taking it is one compare-and-swap and releasing it
 * one exchange, without the type dispatch of a pthread mutex.  While the C
 * library says the process has a single thread, plain stores do: no other
 * thread exists to race with, and the thread that creates a second one
 * publishes the word to it (pthread_create synchronizes), after which every
 * operation is atomic again.  Elsewhere it is a pthread mutex.  Not
 * recursive. */
#ifndef VEVENT_LOCK_H
#define VEVENT_LOCK_H

#ifdef __linux__
#define VEV_FUTEX_LOCK 1
#endif

#ifdef VEV_FUTEX_LOCK
#include <stdatomic.h>
#ifdef VEV_HAVE_SINGLE_THREADED
#include <sys/single_threaded.h>
#define VEV_SINGLE_THREADED() (__libc_single_threaded != 0)
#else
#define VEV_SINGLE_THREADED() 0
#endif

struct vev_lock {
	atomic_int word;
};

void vev__lock_wait(struct vev_lock *l);
void vev__lock_wake(struct vev_lock *l);

static inline int vev__lock_init(struct vev_lock *l)
{
	atomic_init(&l->word, 0);
	return 0;
}

static inline void vev__lock_destroy(struct vev_lock *l)
{
	(void)l;
}

static inline void vev__lock(struct vev_lock *l)
{
	int free_word = 0;

	if (VEV_SINGLE_THREADED())
		atomic_store_explicit(&l->word, 1, memory_order_relaxed);
	else if (!atomic_compare_exchange_strong_explicit(
			 &l->word, &free_word, 1, memory_order_acquire,
			 memory_order_relaxed))
		vev__lock_wait(l);
}

static inline void vev__unlock(struct vev_lock *l)
{
	if (VEV_SINGLE_THREADED())
		atomic_store_explicit(&l->word, 0, memory_order_relaxed);
	else if (atomic_exchange_explicit(&l->word, 0, memory_order_release) ==
		 2)
		vev__lock_wake(l);
}

#else
#include <pthread.h>

struct vev_lock {
	pthread_mutex_t m;
};

static inline int vev__lock_init(struct vev_lock *l)
{
	return pthread_mutex_init(&l->m, NULL);
}

static inline void vev__lock_destroy(struct vev_lock *l)
{
	pthread_mutex_destroy(&l->m);
}

static inline void vev__lock(struct vev_lock *l)
{
	pthread_mutex_lock(&l->m);
}

static inline void vev__unlock(struct vev_lock *l)
{
	pthread_mutex_unlock(&l->m);
}
#endif

#endif
