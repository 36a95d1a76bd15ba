/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The slow paths of the futex lock (lock.h). */
#include "lock.h"

#ifdef VEV_FUTEX_LOCK
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Someone holds the lock.  Spin briefly (the loop's critical sections are
 * a few hundred instructions, much less than a sleep and a wake-up), then
 * mark the word contended and sleep until it is released.  A thread that
 * gets the lock this way leaves it marked contended, so that its release
 * wakes the next sleeper; a wake-up that finds the lock taken again sleeps
 * again. */
void vev__lock_wait(struct vev_lock *l)
{
	for (int spin = 0; spin < 100; spin++) {
		int free_word = 0;
		if (atomic_load_explicit(&l->word, memory_order_relaxed) == 0 &&
		    atomic_compare_exchange_weak_explicit(
			    &l->word, &free_word, 1, memory_order_acquire,
			    memory_order_relaxed))
			return;
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#endif
	}
	while (atomic_exchange_explicit(&l->word, 2, memory_order_acquire) != 0)
		syscall(SYS_futex, &l->word, FUTEX_WAIT_PRIVATE, 2, NULL, NULL,
			0);
}

void vev__lock_wake(struct vev_lock *l)
{
	syscall(SYS_futex, &l->word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}
#endif
