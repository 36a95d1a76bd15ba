/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The poll(2) backend: a pollfd array kept in step with the per-descriptor
 * records (entry 0 is the wake-up descriptor), so nothing is rebuilt per
 * iteration; only the kernel's scan of the array is linear. */
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "loop-private.h"
#include "sys.h"

struct poll_state {
	struct pollfd *pfds;
	uint32_t len, cap;
	uint32_t *pos; /* by fd: index in pfds, 0 = absent */
	uint32_t pos_len;
	int nready;
};

static struct poll_state *state(const struct vev_loop *loop)
{
	return loop->be_data;
}

static short to_poll(unsigned want)
{
	short ev = 0;
	if (want & VEV_READABLE)
		ev |= POLLIN;
	if (want & VEV_WRITABLE)
		ev |= POLLOUT;
	return ev;
}

static unsigned from_poll(short ev)
{
	unsigned out = 0;
	if (ev & POLLIN)
		out |= VEV_READABLE;
	if (ev & POLLOUT)
		out |= VEV_WRITABLE;
	if (ev & POLLERR)
		out |= VEV_ERROR;
	if (ev & POLLHUP)
		out |= VEV_HANGUP;
	if (ev & POLLNVAL)
		out |= VEV_ERROR | VEV__NVAL;
	return out;
}

static int poll_init(struct vev_loop *loop)
{
	struct poll_state *s = vev__calloc(1, sizeof(*s));
	if (!s)
		return vev__error(ENOMEM, "vev_loop_new: out of memory");
	s->cap = 16;
	s->pfds = vev__reallocarray(NULL, s->cap, sizeof(*s->pfds));
	if (!s->pfds) {
		vev__free(s);
		return vev__error(ENOMEM, "vev_loop_new: out of memory");
	}
	s->pfds[0] = (struct pollfd){ .fd = loop->wake_rfd, .events = POLLIN };
	s->len = 1;
	loop->be_data = s;
	return 0;
}

static void poll_fini(struct vev_loop *loop)
{
	struct poll_state *s = state(loop);
	vev__free(s->pfds);
	vev__free(s->pos);
	vev__free(s);
	loop->be_data = NULL;
}

static int poll_set(struct vev_loop *loop, int fd, unsigned old,
		    unsigned want)
{
	struct poll_state *s = state(loop);

	if (old == 0) {
		if ((uint32_t)fd >= s->pos_len) {
			uint32_t n = s->pos_len * 2 > (uint32_t)fd + 1 ?
					     s->pos_len * 2 :
					     (uint32_t)fd + 64;
			uint32_t *p = vev__reallocarray(s->pos, n, sizeof(*p));
			if (!p)
				return -ENOMEM;
			memset(p + s->pos_len, 0,
			       (n - s->pos_len) * sizeof(*p));
			s->pos = p;
			s->pos_len = n;
		}
		if (s->len == s->cap) {
			struct pollfd *p = vev__reallocarray(s->pfds, s->cap * 2,
							     sizeof(*p));
			if (!p)
				return -ENOMEM;
			s->pfds = p;
			s->cap *= 2;
		}
		s->pos[fd] = s->len;
		s->pfds[s->len++] = (struct pollfd){ .fd = fd,
						     .events = to_poll(want) };
		return 0;
	}
	uint32_t i = s->pos[fd];
	if (want != 0) {
		s->pfds[i].events = to_poll(want);
		return 0;
	}
	/* Swap the last entry into the hole. */
	struct pollfd last = s->pfds[--s->len];
	if (i != s->len) {
		s->pfds[i] = last;
		s->pos[last.fd] = i;
	}
	s->pos[fd] = 0;
	return 0;
}

static int poll_rebuild(struct vev_loop *loop)
{
	struct poll_state *s = state(loop);

	for (uint32_t i = 1; i < s->len; i++)
		s->pos[s->pfds[i].fd] = 0;
	s->len = 1;
	s->pfds[0].fd = loop->wake_rfd;
	s->nready = 0;
	return 0;
}

static int poll_wait(struct vev_loop *loop, int timeout_ms)
{
	struct poll_state *s = state(loop);
	int n = vev__sys_poll(s->pfds, s->len, timeout_ms);
	if (n < 0) {
		s->nready = 0;
		return -errno;
	}
	s->nready = n;
	return 0;
}

static void poll_collect(struct vev_loop *loop)
{
	struct poll_state *s = state(loop);

	if (s->nready == 0)
		return;
	if (s->pfds[0].revents) {
		loop->woken = true;
		s->nready--;
	}
	for (uint32_t i = 1; i < s->len && s->nready > 0; i++) {
		if (!s->pfds[i].revents)
			continue;
		s->nready--;
		int fd = s->pfds[i].fd;
		vev__fd_ready(loop, fd, from_poll(s->pfds[i].revents));
		/* Dropped as stale: the last entry, not seen yet, was moved
		 * into this slot. */
		if (i < s->len && s->pfds[i].fd != fd)
			i--;
	}
	s->nready = 0;
}

static size_t poll_memory(const struct vev_loop *loop)
{
	const struct poll_state *s = state(loop);
	return sizeof(*s) + s->cap * sizeof(struct pollfd) +
	       s->pos_len * sizeof(uint32_t);
}

const struct vev_backend vev__backend_poll = {
	.name = "poll",
	.init = poll_init,
	.fini = poll_fini,
	.set = poll_set,
	.modify_checks_file = false,
	.set_from_any_thread = false,
	.rebuild = poll_rebuild,
	.wait = poll_wait,
	.collect = poll_collect,
	.memory = poll_memory,
};
