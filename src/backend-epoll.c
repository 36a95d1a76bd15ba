/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The epoll(7) backend: one kernel registration per descriptor carrying the
 * combined mask of its watches, level-triggered. */
#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "loop-private.h"
#include "sys.h"

#define WAKE_TAG UINT64_MAX
#define EVENTS_MIN 64
#define EVENTS_MAX 4096

struct epoll_state {
	int epfd;
	int nready;
	int cap;
	struct epoll_event *events;
};

static struct epoll_state *state(const struct vev_loop *loop)
{
	return loop->be_data;
}

static uint32_t to_epoll(unsigned want)
{
	uint32_t ev = 0;
	if (want & VEV_READABLE)
		ev |= EPOLLIN;
	if (want & VEV_WRITABLE)
		ev |= EPOLLOUT;
	return ev; /* EPOLLERR and EPOLLHUP are always reported */
}

static unsigned from_epoll(uint32_t ev)
{
	unsigned out = 0;
	if (ev & EPOLLIN)
		out |= VEV_READABLE;
	if (ev & EPOLLOUT)
		out |= VEV_WRITABLE;
	if (ev & EPOLLERR)
		out |= VEV_ERROR;
	if (ev & EPOLLHUP)
		out |= VEV_HANGUP;
	return out;
}

static int open_epoll(int wake_fd)
{
	int epfd = vev__sys_epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		return -errno;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = WAKE_TAG };
	if (vev__sys_epoll_ctl(epfd, EPOLL_CTL_ADD, wake_fd, &ev) < 0) {
		int err = errno;
		close(epfd);
		return -err;
	}
	return epfd;
}

static int epoll_rebuild(struct vev_loop *loop)
{
	struct epoll_state *s = state(loop);
	int epfd = open_epoll(loop->wake_rfd);
	if (epfd < 0)
		return epfd;
	/* Closing our descriptor for the old instance takes every stale
	 * registration with it (in a forked child, the parent keeps its own). */
	close(s->epfd);
	s->epfd = epfd;
	s->nready = 0;
	return 0;
}

static int epoll_init(struct vev_loop *loop)
{
	struct epoll_state *s = vev__calloc(1, sizeof(*s));
	if (!s)
		return vev__error(ENOMEM, "vev_loop_new: out of memory");
	s->cap = EVENTS_MIN;
	s->events = vev__reallocarray(NULL, (size_t)s->cap, sizeof(*s->events));
	if (!s->events) {
		vev__free(s);
		return vev__error(ENOMEM, "vev_loop_new: out of memory");
	}
	s->epfd = open_epoll(loop->wake_rfd);
	if (s->epfd < 0) {
		int err = -s->epfd;
		vev__free(s->events);
		vev__free(s);
		return vev__error(err, "vev_loop_new: epoll: %s", strerror(err));
	}
	loop->be_data = s;
	return 0;
}

static void epoll_fini(struct vev_loop *loop)
{
	struct epoll_state *s = state(loop);
	close(s->epfd);
	vev__free(s->events);
	vev__free(s);
	loop->be_data = NULL;
}

static int epoll_set(struct vev_loop *loop, int fd, unsigned old,
		     unsigned want)
{
	struct epoll_state *s = state(loop);
	struct epoll_event ev = { .events = to_epoll(want), .data.u64 = (uint32_t)fd };
	int op = old == 0 ? EPOLL_CTL_ADD : want == 0 ? EPOLL_CTL_DEL : EPOLL_CTL_MOD;

	if (vev__sys_epoll_ctl(s->epfd, op, fd, &ev) == 0)
		return 0;
	int err = errno;
	/* A registration we believe in may be gone, or one we do not know of
	 * may exist (the number was closed and reopened): retry the other
	 * way round before calling the file gone. */
	if (op == EPOLL_CTL_MOD && err == ENOENT)
		return -ENOENT;
	if (op == EPOLL_CTL_ADD && err == EEXIST &&
	    vev__sys_epoll_ctl(s->epfd, EPOLL_CTL_MOD, fd, &ev) == 0)
		return 0;
	if (op == EPOLL_CTL_DEL && (err == EBADF || err == ENOENT))
		return 0; /* closed before we got to remove it: nothing left */
	return -err;
}

static int epoll_wait_(struct vev_loop *loop, int timeout_ms)
{
	struct epoll_state *s = state(loop);
	int n = vev__sys_epoll_wait(s->epfd, s->events, s->cap, timeout_ms);
	if (n < 0) {
		s->nready = 0;
		return -errno;
	}
	s->nready = n;
	return 0;
}

static void epoll_collect(struct vev_loop *loop)
{
	struct epoll_state *s = state(loop);

	for (int i = 0; i < s->nready; i++) {
		struct epoll_event *ev = &s->events[i];
		if (ev->data.u64 == WAKE_TAG)
			loop->woken = true;
		else
			vev__fd_ready(loop, (int)ev->data.u64,
				      from_epoll(ev->events));
	}
	/* A full array means more may be ready; they stay ready (level-
	 * triggered), but a larger array serves them in one iteration. */
	if (s->nready == s->cap && s->cap < EVENTS_MAX) {
		struct epoll_event *e = vev__reallocarray(
			s->events, (size_t)s->cap * 2, sizeof(*e));
		if (e) {
			s->events = e;
			s->cap *= 2;
		}
	}
	s->nready = 0;
}

static size_t epoll_memory(const struct vev_loop *loop)
{
	return sizeof(struct epoll_state) +
	       (size_t)state(loop)->cap * sizeof(struct epoll_event);
}

static int epoll_kernel_fd(const struct vev_loop *loop)
{
	return state(loop)->epfd;
}

const struct vev_backend vev__backend_epoll = {
	.name = "epoll",
	.init = epoll_init,
	.fini = epoll_fini,
	.set = epoll_set,
	.modify_checks_file = true,
	.set_from_any_thread = true,
	.rebuild = epoll_rebuild,
	.wait = epoll_wait_,
	.collect = epoll_collect,
	.memory = epoll_memory,
	.kernel_fd = epoll_kernel_fd,
};
