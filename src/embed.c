/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Embedding: one descriptor that another event loop can poll to learn that
 * this loop has work.
 *
 * It is an epoll instance of its own holding three members: the backend's
 * epoll descriptor (readable while a watched descriptor is ready), a timerfd
 * armed at the first timer deadline, and the wake-up descriptor, which is
 * signalled while work exists that no kernel object shows: period-0 timers,
 * synthetic events (always-ready files, ERROR for a closed descriptor) and
 * pending free callbacks.  A separate instance, rather than the backend's
 * own, keeps the number and the open file the same when the backend
 * rebuilds its kernel state: a host loop that registered it with its own
 * epoll keeps a valid registration.
 *
 * The state behind the descriptor is brought up to date (vev__embed_sync)
 * at the end of every iteration and after every change made outside one, so
 * the descriptor is never stale while the host sleeps. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "loop-private.h"
#include "sys.h"

#if defined(VEV_HAVE_EPOLL) && defined(VEV_HAVE_TIMERFD)

enum { MEMBER_KERNEL, MEMBER_TIMER, MEMBER_WAKE };

struct vev_embed {
	int fd;            /* the epoll instance vev_loop_fd() returns */
	int timer_fd;      /* CLOCK_MONOTONIC timerfd */
	int64_t armed;     /* its absolute deadline in ns, -1 if disarmed */
	bool attached;     /* every member is registered in fd */
	unsigned long fork_gen; /* when fd and timer_fd were made */
};

static int add_member(int epfd, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	if (vev__sys_epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == 0 ||
	    errno == EEXIST)
		return 0;
	return -errno;
}

/* Register the members; a failure is retried at the next sync, and until
 * then the wake-up member (tried first) keeps the host coming back. */
static int attach(struct vev_loop *loop, struct vev_embed *e)
{
	int rc = add_member(e->fd, loop->wake_rfd, MEMBER_WAKE);
	if (rc == 0)
		rc = add_member(e->fd, e->timer_fd, MEMBER_TIMER);
	if (rc == 0)
		rc = add_member(e->fd, loop->be->kernel_fd(loop), MEMBER_KERNEL);
	e->attached = rc == 0;
	return rc;
}

static int open_state(int *epfd, int *tfd)
{
	*epfd = vev__sys_epoll_create1(EPOLL_CLOEXEC);
	if (*epfd < 0)
		return -errno;
	*tfd = vev__sys_timerfd_create(CLOCK_MONOTONIC,
				       TFD_CLOEXEC | TFD_NONBLOCK);
	if (*tfd < 0) {
		int err = errno;
		close(*epfd);
		return -err;
	}
	return 0;
}

static int set_timer(struct vev_embed *e, int64_t deadline)
{
	struct itimerspec its = { 0 };

	/* it_value 0 disarms; a deadline is never 0 on the monotonic clock
	 * of a running system, so 1 ns stands in for an instant long past. */
	if (deadline >= 0) {
		int64_t at = deadline > 0 ? deadline : 1;
		its.it_value.tv_sec = at / 1000000000LL;
		its.it_value.tv_nsec = at % 1000000000LL;
	}
	if (vev__sys_timerfd_settime(e->timer_fd, TFD_TIMER_ABSTIME, &its) < 0)
		return -errno;
	e->armed = deadline;
	return 0;
}

/* In a forked child the instance and the timer are still the parent's:
 * arming or changing them would change what the parent's host sees.  The
 * child gets its own, under the same number. */
static int renew_after_fork(struct vev_loop *loop, struct vev_embed *e)
{
	int epfd, tfd;
	int rc = open_state(&epfd, &tfd);
	if (rc < 0)
		return rc;
	if (dup3(epfd, e->fd, O_CLOEXEC) < 0) {
		rc = -errno;
		close(epfd);
		close(tfd);
		return rc;
	}
	close(epfd);
	close(e->timer_fd);
	e->timer_fd = tfd;
	e->armed = -1;
	e->fork_gen = loop->fork_gen;
	attach(loop, e);
	return 0;
}

void vev__embed_sync(struct vev_loop *loop)
{
	struct vev_embed *e = loop->embed;

	if (loop->fork_gen != atomic_load(&vev__fork_generation) &&
	    vev__refresh_after_fork(loop, "vev_loop_fd") < 0)
		return;
	if (e->fork_gen != loop->fork_gen && renew_after_fork(loop, e) < 0)
		return;
	if (!e->attached)
		attach(loop, e);
	if (loop->dirty.len || loop->dirty.overflow)
		vev__handles_apply(loop);
	/* A timerfd that already expired for a deadline still armed stays
	 * readable, which is right: that timer is due. */
	int64_t first = loop->heap_len ? vev__heap_top_deadline(loop) : -1;
	if (first != e->armed && set_timer(e, first) < 0)
		vev__wake_polling(loop); /* retried by the iteration it causes */
	if (loop->zero_head != VEV_NIL || vev__handles_have_synth(loop) ||
	    loop->handle_frees.count || loop->timer_frees.count ||
	    !e->attached)
		vev__wake_polling(loop);
}

/* The backend is about to replace its kernel descriptor: drop it from the
 * instance first, since a copy of it in a forked child would keep it, and
 * its readiness, in our set after we close it. */
void vev__embed_before_rebuild(struct vev_loop *loop)
{
	struct vev_embed *e = loop->embed;

	/* (Not in a forked child: the instance is still the parent's.) */
	if (e && e->fork_gen == atomic_load(&vev__fork_generation)) {
		struct epoll_event ev = { 0 };
		vev__sys_epoll_ctl(e->fd, EPOLL_CTL_DEL,
				   loop->be->kernel_fd(loop), &ev);
		e->attached = false;
	}
}

void vev__embed_fini(struct vev_loop *loop)
{
	struct vev_embed *e = loop->embed;

	if (!e)
		return;
	close(e->fd);
	close(e->timer_fd);
	vev__free(e);
	loop->embed = NULL;
}

int vev_loop_fd(vev_loop *loop)
{
	if (!loop)
		return vev__error(EINVAL, "vev_loop_fd: loop is NULL");
	if (!loop->be->kernel_fd)
		return vev__error(ENOTSUP, "vev_loop_fd: the %s backend has no "
				  "descriptor to embed (use epoll)",
				  loop->be->name);
	vev__lock(&loop->lock);
	int rc = 0;
	if (loop->fork_gen != atomic_load(&vev__fork_generation))
		rc = vev__refresh_after_fork(loop, "vev_loop_fd");
	if (rc == 0 && !loop->embed) {
		struct vev_embed *e = vev__calloc(1, sizeof(*e));
		if (!e) {
			rc = vev__error(ENOMEM, "vev_loop_fd: out of memory");
		} else if ((rc = open_state(&e->fd, &e->timer_fd)) < 0) {
			vev__free(e);
			rc = vev__error(-rc, "vev_loop_fd: %s", strerror(-rc));
		} else {
			e->armed = -1;
			e->fork_gen = loop->fork_gen;
			loop->embed = e;
			rc = attach(loop, e);
			if (rc < 0) {
				vev__embed_fini(loop);
				rc = vev__error(-rc, "vev_loop_fd: epoll_ctl: %s",
						strerror(-rc));
			}
		}
	}
	if (rc == 0) {
		struct vev_embed *e = loop->embed;
		if (e->fork_gen != loop->fork_gen) {
			/* A forked child: the number still names the parent's
			 * instance until the child has one of its own. */
			rc = renew_after_fork(loop, e);
			if (rc < 0)
				rc = vev__error(-rc, "vev_loop_fd: renewing the "
						"descriptor after fork: %s",
						strerror(-rc));
		}
		if (rc == 0) {
			if (!loop->running)
				vev__embed_sync(loop);
			rc = e->fd;
		}
	}
	vev__unlock(&loop->lock);
	return rc;
}

int vev__embed_verify(const struct vev_loop *loop)
{
	const struct vev_embed *e = loop->embed;

	/* A signalled descriptor hides nothing: the host will run an
	 * iteration, which catches up with everything below. */
	if (!e || loop->running || e->fork_gen != loop->fork_gen ||
	    atomic_load(&loop->wake_pending))
		return 0;
	if (loop->dirty.len || loop->dirty.overflow)
		return vev__error(EPROTO, "embedded loop: descriptor changes "
				  "not applied while the host sleeps");
	int64_t first = loop->heap_len ? vev__heap_top_deadline(loop) : -1;
	if (first != e->armed)
		return vev__error(EPROTO, "embedded loop: timerfd armed for "
				  "%lld, first deadline %lld",
				  (long long)e->armed, (long long)first);
	if (loop->zero_head != VEV_NIL || vev__handles_have_synth(loop) ||
	    loop->handle_frees.count || loop->timer_frees.count ||
	    !e->attached)
		return vev__error(EPROTO, "embedded loop: work is pending but "
				  "the descriptor is not signalled");
	return 0;
}

size_t vev__embed_memory(const struct vev_loop *loop)
{
	return loop->embed ? sizeof(struct vev_embed) : 0;
}

#else /* no epoll or no timerfd: no backend offers a descriptor to embed */

void vev__embed_sync(struct vev_loop *loop)
{
}

void vev__embed_before_rebuild(struct vev_loop *loop)
{
}

void vev__embed_fini(struct vev_loop *loop)
{
}

int vev__embed_verify(const struct vev_loop *loop)
{
	return 0;
}

size_t vev__embed_memory(const struct vev_loop *loop)
{
	return 0;
}

int vev_loop_fd(vev_loop *loop)
{
	if (!loop)
		return vev__error(EINVAL, "vev_loop_fd: loop is NULL");
	return vev__error(ENOTSUP, "vev_loop_fd: the %s backend has no "
			  "descriptor to embed", loop->be->name);
}

#endif

int vev_loop_timeout(vev_loop *loop)
{
	if (!loop)
		return vev__error(EINVAL, "vev_loop_timeout: loop is NULL");
	vev__lock(&loop->lock);
	int ms;
	if (loop->zero_head != VEV_NIL || vev__handles_have_synth(loop) ||
	    loop->handle_frees.count || loop->timer_frees.count)
		ms = 0;
	else
		ms = vev__timers_timeout(loop, loop->heap_len ? vev__now_ns() :
								0);
	vev__unlock(&loop->lock);
	return ms;
}
