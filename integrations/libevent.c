/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vevent-libevent: the engine on a struct event_base.
 *
 * libevent 2.1 has no hook that runs before it waits, and its bases are
 * usable from several threads only after evthread_use_pthreads().  So the
 * binding touches the base only from its own callbacks, on the loop thread:
 *  - a persistent read event on an eventfd, written by calls from outside a
 *    pass, applies the pending changes (and checks what it newly armed,
 *    which the base will not report before its next wait);
 *  - one persistent event per descriptor, with the combined mask of its
 *    watches, reports readiness;
 *  - a timer event stands for the earliest timer (0 for "do not block");
 *  - every one of those only activates the dispatch event, which runs after
 *    all of them in the same iteration (libevent appends activations to the
 *    queue it is processing): one pass per iteration.
 * libevent merges ERROR and HANGUP into READ and WRITE, so the pass asks the
 * kernel with poll(2) for the exact bits of what was reported.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#ifdef VEV_HAVE_EVENTFD
#include <sys/eventfd.h>
#endif

#include <event2/event.h>

#include "engine.h"
#include "vevent/vevent-libevent.h"

struct libevent_binding {
	struct event_base *base;
	struct event *wake_ev;     /* reads the wake-up descriptor */
	struct event *timer_ev;    /* the earliest timer */
	struct event *dispatch_ev; /* activated, never added: runs the pass */
	int wake_rfd, wake_wfd;    /* an eventfd (both the same) or a pipe */
	bool edge;                 /* the method supports EV_ET */
};

static const struct eng_host_ops libevent_ops;
static struct eng engine = ENG_INITIALIZER("vev_libevent", &libevent_ops);
static pthread_mutex_t bind_lock = PTHREAD_MUTEX_INITIALIZER;
static struct libevent_binding binding = { .wake_rfd = -1, .wake_wfd = -1 };

/* ---- callbacks of the base ---------------------------------------------- */

static void request_pass(struct libevent_binding *b)
{
	event_active(b->dispatch_ev, EV_TIMEOUT, 0);
}

static void fd_cb(evutil_socket_t fd, short what, void *arg)
{
	eng_fd_ready(&engine, arg);
	request_pass(&binding);
}

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct libevent_binding *b = arg;
	uint64_t buf[8];

	while (read(b->wake_rfd, buf, sizeof(buf)) > 0 &&
	       b->wake_rfd != b->wake_wfd)
		;
	eng_sync(&engine, ENG_SYNC_CHECK_NEW);
	request_pass(b);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	request_pass(arg);
}

static void dispatch_cb(evutil_socket_t fd, short what, void *arg)
{
	eng_pass(&engine);
	/* Applies what the callbacks changed, and arms the timer. */
	eng_sync(&engine, 0);
}

/* ---- the host operations ----------------------------------------------- */

static int libevent_fd_set(struct eng *e, struct eng_fd *rec, unsigned want)
{
	struct libevent_binding *b = e->host;
	struct event *ev = rec->host_data;
	short what = 0;
	bool edge = false;

	if (want & ENG_READABLE)
		what |= EV_READ;
	if (want & ENG_WRITABLE)
		what |= EV_WRITE;
	if (what == 0 && want && b->edge) {
		/* libevent cannot ask for ERROR/HANGUP alone.  Edge-triggered
		 * READ wakes once per arrival of data the watches do not want
		 * (no spinning on it) and once when an error or hangup comes;
		 * the engine then checks that condition itself every pass for
		 * as long as it lasts. */
		what = EV_READ | EV_ET;
		edge = true;
	}
	rec->flags &= ~ENG_FD_EDGE;
	if (ev && event_del(ev) < 0)
		return -EIO;
	if (what == 0)
		return 0; /* stopped; or ERROR/HANGUP only without EV_ET */
	what |= EV_PERSIST;
	if (!ev) {
		ev = event_new(b->base, rec->fd, what, fd_cb, rec);
		if (!ev)
			return -ENOMEM;
		rec->host_data = ev;
	} else if (event_assign(ev, b->base, rec->fd, what, fd_cb, rec) < 0) {
		return -EINVAL;
	}
	/* epoll refuses files without a poll method (EPERM): the engine then
	 * treats them as always ready, as poll(2) does. */
	errno = 0;
	if (event_add(ev, NULL) < 0)
		return errno == EPERM ? -EPERM : -EIO;
	if (edge)
		rec->flags |= ENG_FD_EDGE;
	return 0;
}

static void libevent_fd_release(struct eng *e, struct eng_fd *rec)
{
	event_free(rec->host_data);
}

static void libevent_arm(struct eng *e, int64_t ns)
{
	struct libevent_binding *b = e->host;

	if (ns < 0) {
		event_del(b->timer_ev);
		return;
	}
	/* Microseconds, rounded up: waking before the deadline would only
	 * spin.  The base's cached time may be that of its last wait. */
	int64_t us = (ns + 999) / 1000;
	struct timeval tv = { .tv_sec = (time_t)(us / 1000000),
			      .tv_usec = (suseconds_t)(us % 1000000) };
	event_base_update_cache_time(b->base);
	event_add(b->timer_ev, &tv);
}

static void libevent_wake(struct eng *e)
{
	struct libevent_binding *b = e->host;
	uint64_t one = 1;

	/* A full pipe or counter already guarantees a wake-up. */
	ssize_t n = write(b->wake_wfd, &one,
			  b->wake_rfd == b->wake_wfd ? sizeof(one) : 1);
	(void)n;
}

static const struct eng_host_ops libevent_ops = {
	.fd_set = libevent_fd_set,
	.fd_release = libevent_fd_release,
	.revents = NULL,
	.wake = libevent_wake,
	.apply_at_once = true,
	.arm = libevent_arm,
};

/* ---- the six functions -------------------------------------------------- */

static int le_add_handle(int fd, int events, vev_handle_cb cb, void *opaque,
			 vev_free_cb ff)
{
	int rc = eng_add_handle(&engine, fd, events, cb, opaque, ff);
	return rc < 0 ? -1 : rc;
}

static void le_update_handle(int watch, int events)
{
	eng_update_handle(&engine, watch, events);
}

static int le_remove_handle(int watch)
{
	return eng_remove_handle(&engine, watch) < 0 ? -1 : 0;
}

static int le_add_timeout(int timeout, vev_timer_cb cb, void *opaque,
			  vev_free_cb ff)
{
	int rc = eng_add_timer(&engine, timeout, cb, opaque, ff);
	return rc < 0 ? -1 : rc;
}

static void le_update_timeout(int timer, int timeout)
{
	eng_update_timer(&engine, timer, timeout);
}

static int le_remove_timeout(int timer)
{
	return eng_remove_timer(&engine, timer) < 0 ? -1 : 0;
}

static const struct vev_event_impl libevent_table = {
	.add_handle = le_add_handle,
	.update_handle = le_update_handle,
	.remove_handle = le_remove_handle,
	.add_timeout = le_add_timeout,
	.update_timeout = le_update_timeout,
	.remove_timeout = le_remove_timeout,
};

/* ---- public API --------------------------------------------------------- */

static void teardown(struct libevent_binding *b)
{
	if (b->wake_ev)
		event_free(b->wake_ev);
	if (b->timer_ev)
		event_free(b->timer_ev);
	if (b->dispatch_ev)
		event_free(b->dispatch_ev);
	if (b->wake_rfd >= 0)
		close(b->wake_rfd);
	if (b->wake_wfd >= 0 && b->wake_wfd != b->wake_rfd)
		close(b->wake_wfd);
	*b = (struct libevent_binding){ .wake_rfd = -1, .wake_wfd = -1 };
}

static int open_wake(struct libevent_binding *b)
{
#ifdef VEV_HAVE_EVENTFD
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd >= 0) {
		b->wake_rfd = b->wake_wfd = fd;
		return 0;
	}
#endif
	int p[2];
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		return -errno;
	b->wake_rfd = p[0];
	b->wake_wfd = p[1];
	return 0;
}

int vev_libevent_bind(struct event_base *base,
		      const struct vev_event_impl **impl)
{
	struct libevent_binding *b = &binding;
	int rc = 0;

	if (!base || !impl)
		return eng_fail(&engine, EINVAL, "bind: %s is NULL",
				base ? "impl" : "base");
	pthread_mutex_lock(&bind_lock);
	if (b->base) {
		if (b->base != base)
			rc = eng_fail(&engine, EBUSY, "bind: already bound to "
				      "another event base");
		else
			*impl = &libevent_table;
		goto out;
	}
	rc = open_wake(b);
	if (rc < 0) {
		rc = eng_fail(&engine, -rc, "bind: no wake-up descriptor: %s",
			      strerror(-rc));
		goto out;
	}
	b->base = base;
	b->wake_ev = event_new(base, b->wake_rfd, EV_READ | EV_PERSIST,
			       wake_cb, b);
	b->timer_ev = event_new(base, -1, 0, timer_cb, b);
	b->dispatch_ev = event_new(base, -1, 0, dispatch_cb, b);
	if (!b->wake_ev || !b->timer_ev || !b->dispatch_ev ||
	    event_add(b->wake_ev, NULL) < 0) {
		teardown(b);
		rc = eng_fail(&engine, ENOMEM, "bind: cannot create the "
			      "binding's events");
		goto out;
	}
	b->edge = (event_base_get_features(base) & EV_FEATURE_ET) != 0;
	rc = eng_bind(&engine, b);
	if (rc < 0) { /* cannot happen: bind_lock orders binds */
		teardown(b);
		rc = eng_fail(&engine, -rc, "bind: already bound");
		goto out;
	}
	*impl = &libevent_table;
out:
	pthread_mutex_unlock(&bind_lock);
	return rc;
}

int vev_libevent_unbind(void)
{
	int rc = 0;

	pthread_mutex_lock(&bind_lock);
	if (!binding.base) {
		rc = eng_fail(&engine, ENOENT, "unbind: not bound");
		goto out;
	}
	rc = eng_unbind(&engine);
	if (rc < 0) {
		rc = eng_fail(&engine, -rc, "unbind: called from a callback "
			      "of the integration");
		goto out;
	}
	teardown(&binding);
out:
	pthread_mutex_unlock(&bind_lock);
	return rc;
}

const char *vev_libevent_last_error(void)
{
	return eng_last_error();
}

int vev_libevent_stat(enum vev_stat which, uint64_t *value)
{
	return eng_stat(&engine, which, value);
}

int vev_libevent_verify(void)
{
	return eng_verify(&engine);
}
