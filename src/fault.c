/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "alloc.h"
#include "sys.h"

#include <errno.h>

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

/* Counts down to the fallible operation (allocation or system call) that
 * must fail; 0 means disarmed.  Atomic because operations happen on every
 * thread that calls the API.  Operations are counted only between an arm
 * and the disarm that ends it: a disarmed library pays one plain load per
 * operation, not a locked increment of a shared counter on every wait. */
static atomic_ulong fault_countdown;
static atomic_ulong fault_seen;
static atomic_bool fault_active;

static bool inject_failure(void)
{
	if (!atomic_load_explicit(&fault_active, memory_order_relaxed))
		return false;
	atomic_fetch_add_explicit(&fault_seen, 1, memory_order_relaxed);
	unsigned long left = atomic_load_explicit(&fault_countdown,
						  memory_order_relaxed);
	while (left != 0) {
		if (atomic_compare_exchange_weak(&fault_countdown, &left,
						 left - 1))
			return left == 1;
	}
	return false;
}

void vev__fault_arm(unsigned long k)
{
	atomic_store(&fault_active, false);
	atomic_store(&fault_seen, 0);
	atomic_store(&fault_countdown, k);
	atomic_store(&fault_active, k != 0);
}

unsigned long vev__fault_count(void)
{
	return atomic_load(&fault_seen);
}

void *vev__malloc(size_t size)
{
	return inject_failure() ? NULL : malloc(size);
}

void *vev__calloc(size_t n, size_t size)
{
	return inject_failure() ? NULL : calloc(n, size);
}

void *vev__reallocarray(void *ptr, size_t n, size_t size)
{
	if (size != 0 && n > SIZE_MAX / size)
		return NULL;
	return inject_failure() ? NULL : realloc(ptr, n * size);
}

void vev__free(void *ptr)
{
	free(ptr);
}

/* ---- system calls ------------------------------------------------------- */

#define FAULTABLE(call, err)            \
	do {                            \
		if (inject_failure()) { \
			errno = (err);  \
			return -1;      \
		}                       \
		return (call);          \
	} while (0)

#ifdef VEV_HAVE_EPOLL
int vev__sys_epoll_create1(int flags)
{
	FAULTABLE(epoll_create1(flags), EMFILE);
}

int vev__sys_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	FAULTABLE(epoll_ctl(epfd, op, fd, ev), ENOMEM);
}

int vev__sys_epoll_wait(int epfd, struct epoll_event *evs, int n, int ms)
{
	FAULTABLE(epoll_wait(epfd, evs, n, ms), EINVAL);
}
#endif

#ifdef VEV_HAVE_EVENTFD
int vev__sys_eventfd(unsigned int initval, int flags)
{
	FAULTABLE(eventfd(initval, flags), EMFILE);
}
#endif

#ifdef VEV_HAVE_TIMERFD
int vev__sys_timerfd_create(int clockid, int flags)
{
	FAULTABLE(timerfd_create(clockid, flags), EMFILE);
}

int vev__sys_timerfd_settime(int fd, int flags, const struct itimerspec *its)
{
	FAULTABLE(timerfd_settime(fd, flags, its, NULL), ENOMEM);
}
#endif

int vev__sys_pipe(int fds[2])
{
	FAULTABLE(pipe(fds), EMFILE);
}

int vev__sys_poll(struct pollfd *fds, nfds_t n, int ms)
{
	FAULTABLE(poll(fds, n, ms), ENOMEM);
}
