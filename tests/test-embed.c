/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Embedding: vev_loop_fd() and vev_loop_timeout() driven by a host loop made
 * of plain poll(2) that never passes a timeout of its own, plus
 * vev_loop_clear().  (The whole contract also runs on such a host: see
 * embed/epoll/... from test-contract.c.) */
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/epoll.h>
#include <sys/wait.h>

#define TEST_HARNESS_MAIN
#include "alloc.h"
#include "harness.h"
#include "loop-private.h"
#include "vevent/vevent.h"

struct rec {
	int id;
	int calls;
	int last;
	int freed;
	pthread_t thread; /* of the last callback or free callback */
	int64_t fired_ns;
};

static void on_handle(int watch, int fd, int events, void *opaque)
{
	struct rec *r = opaque;
	r->calls++;
	r->last = events;
	r->thread = pthread_self();
}

static void on_timer(int timer, void *opaque)
{
	struct rec *r = opaque;
	r->calls++;
	r->thread = pthread_self();
	r->fired_ns = vev__now_ns();
}

static void on_free(void *opaque)
{
	struct rec *r = opaque;
	r->freed++;
	r->thread = pthread_self();
}

static vev_loop *new_embedded(int *fd)
{
	vev_loop *loop;
	CHECK_EQ(vev_loop_new(&loop, VEV_LOOP_EPOLL), 0);
	test_subject = "embedded epoll";
	*fd = vev_loop_fd(loop);
	CHECK(*fd >= 0);
	return loop;
}

static void finish(vev_loop *loop)
{
	CHECK_EQ(vev_loop_verify(loop), 0);
	CHECK_EQ(vev_loop_free(loop), 0);
}

/* Whether the host would wake up now. */
static bool readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	int n = poll(&p, 1, 0);
	CHECK(n >= 0);
	return n == 1 && (p.revents & POLLIN);
}

/* One round of the host: block until the descriptor is readable (no
 * timeout: the harness's watchdog ends a hang), then one iteration. */
static atomic_bool host_waiting;

static int host_round(vev_loop *loop, int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	atomic_store(&host_waiting, true);
	int n;
	do
		n = poll(&p, 1, -1);
	while (n < 0 && errno == EINTR);
	atomic_store(&host_waiting, false);
	CHECK_EQ(n, 1);
	int rc = vev_run_once(loop, VEV_NO_WAIT);
	CHECK(rc >= 0);
	CHECK_EQ(vev_loop_verify(loop), 0);
	return rc;
}

/* Rounds until `r` has `calls` callbacks, failing past `max` rounds. */
static void rounds_until_at(int line, vev_loop *loop, int fd, struct rec *r,
			    int calls, int max)
{
	for (int i = 0; r->calls < calls; i++) {
		if (i >= max) {
			fprintf(stderr, "line %d: %d calls after %d rounds\n",
				line, r->calls, i);
			test_failed();
		}
		host_round(loop, fd);
	}
}
#define rounds_until(...) rounds_until_at(__LINE__, __VA_ARGS__)

static uint64_t stat_of(vev_loop *loop, enum vev_stat which)
{
	uint64_t v = 0;
	CHECK_EQ(vev_loop_stat(loop, which, &v), 0);
	return v;
}

static int count_fds(void)
{
	int n = 0;
	for (int fd = 0; fd < 1024; fd++)
		n += fcntl(fd, F_GETFD) >= 0;
	return n;
}

/* ---- the descriptor ----------------------------------------------------- */

static void errors_and_poll_backend(void)
{
	vev_loop *loop;
	CHECK_EQ(vev_loop_fd(NULL), -EINVAL);
	CHECK_EQ(vev_loop_timeout(NULL), -EINVAL);
	CHECK_EQ(vev_loop_clear(NULL), -EINVAL);
	CHECK_EQ(vev_loop_new(&loop, VEV_LOOP_POLL), 0);
	test_subject = "poll";
	CHECK_EQ(vev_loop_fd(loop), -ENOTSUP);
	CHECK(strstr(vev_last_error(), "poll backend") != NULL);
	/* Refused, and nothing changed: the loop works as before. */
	struct rec t = { 0 };
	CHECK(vev_add_timer(loop, 0, on_timer, &t, on_free) > 0);
	CHECK_EQ(vev_run_once(loop, 0), 1);
	finish(loop);
	CHECK_EQ(t.freed, 1);
}

/* Same number every time, close-on-exec, and nothing at all (no
 * descriptor, no state) for a loop that never asks for it. */
static void descriptor_is_stable_and_costs_nothing_unasked(void)
{
	int before = count_fds();
	vev_loop *plain;
	CHECK_EQ(vev_loop_new(&plain, VEV_LOOP_EPOLL), 0);
	struct rec t = { 0 };
	CHECK(vev_add_timer(plain, 0, on_timer, &t, NULL) > 0);
	CHECK_EQ(vev_run_once(plain, 0), 1);
	CHECK(plain->embed == NULL);
	int plain_fds = count_fds() - before;
	CHECK_EQ(plain_fds, 2); /* the epoll instance and the wake-up eventfd */

	int fd;
	vev_loop *loop = new_embedded(&fd);
	CHECK_EQ(count_fds() - before, 2 * plain_fds + 2);
	CHECK_EQ(vev_loop_fd(loop), fd);
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	CHECK(!readable(fd));
	finish(loop);
	finish(plain);
	CHECK_EQ(count_fds(), before);
}

/* Nothing registered, a disabled timer, an idle watch: quiet.  Data on
 * the watched pipe: readable until consumed. */
static void quiet_until_there_is_work(void)
{
	int fd, p[2];
	struct rec w = { 0 }, off = { 0 };
	vev_loop *loop = new_embedded(&fd);
	test_pipe(p);
	CHECK(!readable(fd));
	off.id = vev_add_timer(loop, -1, on_timer, &off, on_free);
	w.id = vev_add_handle(loop, p[0], VEV_READABLE, on_handle, &w, on_free);
	CHECK(!readable(fd));
	test_write1(p[1]);
	CHECK(readable(fd));
	CHECK_EQ(host_round(loop, fd), 1);
	CHECK_EQ(w.last, VEV_READABLE);
	CHECK(readable(fd)); /* level-triggered: still unread */
	test_drain(p[0]);
	CHECK_EQ(vev_run_once(loop, VEV_NO_WAIT), 0);
	CHECK(!readable(fd));
	CHECK_EQ(vev_loop_timeout(loop), -1);
	CHECK_EQ(vev_remove_handle(loop, w.id), 0);
	CHECK_EQ(vev_remove_timer(loop, off.id), 0);
	CHECK(readable(fd)); /* two free callbacks are due */
	CHECK_EQ(vev_loop_timeout(loop), 0);
	CHECK_EQ(host_round(loop, fd), 0);
	CHECK_EQ(w.freed + off.freed, 2);
	CHECK(!readable(fd));
	finish(loop);
	close(p[0]);
	close(p[1]);
}

static void period_zero_timer_keeps_the_host_awake(void)
{
	int fd;
	struct rec t = { 0 };
	vev_loop *loop = new_embedded(&fd);
	t.id = vev_add_timer(loop, 0, on_timer, &t, on_free);
	CHECK_EQ(vev_loop_timeout(loop), 0);
	for (int i = 1; i <= 5; i++) {
		CHECK(readable(fd));
		CHECK_EQ(host_round(loop, fd), 1);
		CHECK_EQ(t.calls, i);
	}
	vev_update_timer(loop, t.id, -1);
	/* The change itself may cost the host one empty round, no more. */
	if (readable(fd))
		CHECK_EQ(host_round(loop, fd), 0);
	CHECK(!readable(fd));
	CHECK_EQ(t.calls, 5);
	finish(loop);
	CHECK_EQ(t.freed, 1);
}

/* Timers of mixed periods reach a host that only ever blocks without a
 * timeout: each on time (never early) and each exactly once. */
#define NTIMERS 24
static void timers_on_time_without_a_host_timeout(void)
{
	int fd;
	static struct rec t[NTIMERS];
	int64_t added[NTIMERS];
	vev_loop *loop = new_embedded(&fd);
	for (int i = 0; i < NTIMERS; i++) {
		added[i] = vev__now_ns();
		t[i].id = vev_add_timer(loop, 1 + (i * 7) % 60, on_timer, &t[i],
					on_free);
	}
	int done = 0;
	for (int round = 0; done < NTIMERS; round++) {
		CHECK(round < 10 * NTIMERS);
		host_round(loop, fd);
		done = 0;
		for (int i = 0; i < NTIMERS; i++) {
			if (t[i].calls == 1 && t[i].id > 0) {
				/* Each fires once: disable on first fire. */
				vev_update_timer(loop, t[i].id, -1);
				t[i].id = -t[i].id;
			}
			done += t[i].calls > 0;
		}
	}
	for (int i = 0; i < NTIMERS; i++) {
		int64_t period = (1 + (i * 7) % 60) * 1000000LL;
		CHECK_EQ(t[i].calls, 1);
		CHECK(t[i].fired_ns - added[i] >= period);
		/* On time: a wake-up, not a stray host timeout (there is
		 * none); generous for a loaded machine. */
		CHECK(t[i].fired_ns - added[i] < period + 500 * 1000000LL);
	}
	/* Updating restarts the countdown, through the descriptor too. */
	int id = -t[0].id;
	int64_t start = vev__now_ns();
	vev_update_timer(loop, id, 30);
	CHECK(vev_loop_timeout(loop) > 0 && vev_loop_timeout(loop) <= 30);
	rounds_until(loop, fd, &t[0], 2, 20);
	CHECK(t[0].fired_ns - start >= 30 * 1000000LL);
	finish(loop);
	for (int i = 0; i < NTIMERS; i++)
		CHECK_EQ(t[i].freed, 1);
}

static void regular_file_and_closed_descriptor(void)
{
	int fd, p[2];
	struct rec f = { 0 }, c = { 0 };
	FILE *tmp = tmpfile();
	CHECK(tmp != NULL);
	vev_loop *loop = new_embedded(&fd);
	f.id = vev_add_handle(loop, fileno(tmp), VEV_READABLE | VEV_WRITABLE,
			      on_handle, &f, on_free);
	/* Always ready, as poll(2) says: the host never blocks on it. */
	for (int i = 1; i <= 3; i++) {
		CHECK(readable(fd));
		host_round(loop, fd);
		CHECK_EQ(f.calls, i);
		CHECK_EQ(f.last, VEV_READABLE | VEV_WRITABLE);
	}
	CHECK_EQ(vev_remove_handle(loop, f.id), 0);
	host_round(loop, fd);
	CHECK(!readable(fd));

	/* A closed descriptor: the update that reveals it makes the host
	 * wake up for the ERROR, once. */
	test_pipe(p);
	c.id = vev_add_handle(loop, p[0], VEV_READABLE, on_handle, &c, on_free);
	CHECK(!readable(fd));
	close(p[0]);
	close(p[1]);
	vev_update_handle(loop, c.id, VEV_READABLE | VEV_WRITABLE);
	CHECK(readable(fd));
	rounds_until(loop, fd, &c, 1, 3);
	CHECK_EQ(c.last, VEV_ERROR);
	if (readable(fd))
		host_round(loop, fd);
	CHECK(!readable(fd)); /* no spin */
	CHECK_EQ(c.calls, 1);
	finish(loop);
	CHECK_EQ(c.freed + f.freed, 2);
	fclose(tmp);
}

/* ---- other threads ------------------------------------------------------ */

struct remote {
	vev_loop *loop;
	int p[2];      /* a pipe with data in it */
	struct rec added, updated, removed, zero;
	atomic_int step;     /* the host has finished this many steps */
	atomic_int added_id; /* published by the other thread after its add */
};

static void wait_host_blocked(struct remote *x, int step)
{
	while (atomic_load(&x->step) < step || !atomic_load(&host_waiting))
		sched_yield();
}

/* Every change, made while the host sleeps in poll(-1), wakes it. */
static void *changer(void *arg)
{
	struct remote *x = arg;

	wait_host_blocked(x, 1);
	atomic_store(&x->added_id,
		     vev_add_handle(x->loop, x->p[0], VEV_READABLE, on_handle,
				    &x->added, on_free));
	wait_host_blocked(x, 2);
	vev_update_handle(x->loop, x->updated.id, VEV_READABLE);
	wait_host_blocked(x, 3);
	vev_remove_timer(x->loop, x->removed.id);
	wait_host_blocked(x, 4);
	vev_add_timer(x->loop, 0, on_timer, &x->zero, on_free);
	return NULL;
}

static void changes_from_another_thread_wake_the_host(void)
{
	int fd;
	pthread_t th;
	static struct remote x;
	x.loop = new_embedded(&fd);
	test_pipe(x.p);
	test_write1(x.p[1]);
	/* Registered, not polled: the pipe is ready but this must not fire
	 * until the other thread asks for READABLE. */
	x.updated.id = vev_add_handle(x.loop, x.p[0], 0, on_handle, &x.updated,
				      on_free);
	x.removed.id = vev_add_timer(x.loop, -1, on_timer, &x.removed, on_free);
	CHECK(!readable(fd));
	atomic_store(&x.step, 1);
	CHECK_EQ(pthread_create(&th, NULL, changer, &x), 0);

	rounds_until(x.loop, fd, &x.added, 1, 3);
	CHECK_EQ(x.updated.calls, 0);
	/* The callback may run before vev_add_handle() returns there. */
	while (atomic_load(&x.added_id) == 0)
		sched_yield();
	CHECK(atomic_load(&x.added_id) > 0);
	CHECK_EQ(vev_update_handle(x.loop, atomic_load(&x.added_id), 0), 0);
	atomic_store(&x.step, 2);
	rounds_until(x.loop, fd, &x.updated, 1, 3);
	CHECK_EQ(x.updated.last, VEV_READABLE);
	CHECK_EQ(vev_update_handle(x.loop, x.updated.id, 0), 0);
	atomic_store(&x.step, 3);
	for (int i = 0; x.removed.freed == 0; i++) {
		CHECK(i < 3);
		host_round(x.loop, fd);
	}
	CHECK(pthread_equal(x.removed.thread, pthread_self()));
	atomic_store(&x.step, 4);
	rounds_until(x.loop, fd, &x.zero, 1, 3);
	CHECK(pthread_equal(x.zero.thread, pthread_self()));
	pthread_join(th, NULL);
	finish(x.loop);
	CHECK_EQ(x.added.freed + x.updated.freed + x.zero.freed, 3);
	close(x.p[0]);
	close(x.p[1]);
}

/* ---- quit and fork ------------------------------------------------------ */

static void quit_wakes_the_host_once(void)
{
	int fd;
	struct rec t = { 0 };
	vev_loop *loop = new_embedded(&fd);
	CHECK(!readable(fd));
	CHECK_EQ(vev_quit(loop), 0);
	CHECK(readable(fd));
	CHECK_EQ(host_round(loop, fd), 0);
	CHECK(!readable(fd)); /* a host that ignores quit does not spin */
	/* The request itself stays for vev_run(), which it ends. */
	t.id = vev_add_timer(loop, 0, on_timer, &t, on_free);
	CHECK_EQ(vev_run(loop), 0);
	CHECK_EQ(t.calls, 1);
	finish(loop);
}

/* A forked child gets its own descriptor under the same number; what it
 * does there never shows on the parent's. */
static void fork_child_gets_its_own_descriptor(void)
{
	int fd, p[2];
	struct rec w = { 0 };
	vev_loop *loop = new_embedded(&fd);
	test_pipe(p);
	w.id = vev_add_handle(loop, p[0], VEV_READABLE, on_handle, &w, on_free);
	fflush(NULL);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct rec t = { 0 };
		int ok = vev_loop_fd(loop) == fd &&
			 vev_add_timer(loop, 0, on_timer, &t, NULL) > 0 &&
			 readable(fd) && vev_run_once(loop, VEV_NO_WAIT) == 1 &&
			 t.calls == 1 && vev_update_handle(loop, w.id, 0) == 0 &&
			 vev_loop_verify(loop) == 0;
		_exit(ok ? 0 : 3);
	}
	int status;
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status));
	CHECK_EQ(WEXITSTATUS(status), 0);
	CHECK(!readable(fd));
	test_write1(p[1]);
	CHECK(readable(fd));
	CHECK_EQ(host_round(loop, fd), 1);
	CHECK_EQ(w.last, VEV_READABLE);
	finish(loop);
	close(p[0]);
	close(p[1]);
}

/* A host that registered the descriptor with its own epoll once keeps a
 * working registration when the loop rebuilds its kernel state (here to
 * drop a registration for a file closed under its number while a copy
 * keeps it open). */
static void host_epoll_registration_survives_a_rebuild(void)
{
	int fd, p[2], q[2];
	struct rec stale = { 0 }, fresh = { 0 };
	vev_loop *loop = new_embedded(&fd);
	int host = epoll_create1(EPOLL_CLOEXEC);
	CHECK(host >= 0);
	struct epoll_event ev = { .events = EPOLLIN };
	CHECK_EQ(epoll_ctl(host, EPOLL_CTL_ADD, fd, &ev), 0);

	test_pipe(p);
	test_write1(p[1]);
	stale.id = vev_add_handle(loop, p[0], VEV_READABLE, on_handle, &stale,
				  on_free);
	int copy = dup(p[0]);
	CHECK(copy >= 0);
	host_round(loop, fd); /* registered and reported once */
	close(p[0]);          /* the copy keeps the file and its report */
	CHECK_EQ(stale.calls, 1);
	for (int i = 0; stale.last != VEV_ERROR; i++) {
		CHECK(i < 4);
		host_round(loop, fd);
	}
	/* Until the rebuild, the leftover report is what wakes the host;
	 * after it, nothing does. */
	for (int i = 0; readable(fd); i++) {
		CHECK(i < 4);
		host_round(loop, fd);
	}
	CHECK(loop->rebuild == false);
	CHECK_EQ(vev_loop_fd(loop), fd);
	CHECK_EQ(epoll_wait(host, &ev, 1, 0), 0);

	test_pipe(q);
	fresh.id = vev_add_handle(loop, q[0], VEV_READABLE, on_handle, &fresh,
				  on_free);
	test_write1(q[1]);
	CHECK_EQ(epoll_wait(host, &ev, 1, 1000), 1);
	CHECK_EQ(host_round(loop, fd), 1);
	CHECK_EQ(fresh.last, VEV_READABLE);
	finish(loop);
	close(host);
	close(copy);
	close(p[1]);
	close(q[0]);
	close(q[1]);
}

/* ---- vev_loop_clear() ---------------------------------------------------- */

static vev_loop *clear_target;
static int clear_result, late_result;

static void clear_from_callback(int timer, void *opaque)
{
	clear_result = vev_loop_clear(clear_target);
}

static void add_from_free_callback(void *opaque)
{
	on_free(opaque);
	late_result = vev_add_timer(clear_target, 0, on_timer, NULL, NULL);
}

static void clear_empties_and_keeps_the_loop(void)
{
	int fd, p[2];
	struct rec w = { 0 }, t = { 0 }, late = { 0 }, again = { 0 }, c = { 0 };
	vev_loop *loop = new_embedded(&fd);
	clear_target = loop;
	test_pipe(p);
	test_write1(p[1]);
	w.id = vev_add_handle(loop, p[0], VEV_READABLE, on_handle, &w, on_free);
	t.id = vev_add_timer(loop, 0, on_timer, &t, add_from_free_callback);
	int gone = vev_add_timer(loop, 1000, on_timer, &late, on_free);
	CHECK_EQ(vev_remove_timer(loop, gone), 0);

	/* From a callback: refused, nothing removed. */
	c.id = vev_add_timer(loop, 0, clear_from_callback, &c, on_free);
	CHECK_EQ(vev_run_once(loop, VEV_NO_WAIT), 3);
	CHECK_EQ(clear_result, -EBUSY);
	CHECK(strstr(vev_last_error(), "callback") != NULL);
	CHECK_EQ(late.freed, 1);

	CHECK_EQ(vev_loop_clear(loop), 3);
	CHECK_EQ(w.freed + t.freed + c.freed, 3);
	CHECK(pthread_equal(w.thread, pthread_self()));
	CHECK_EQ(late_result, -ESHUTDOWN);
	CHECK(strstr(vev_last_error(), "being cleared") != NULL);
	CHECK_EQ(stat_of(loop, VEV_STAT_HANDLES) +
			 stat_of(loop, VEV_STAT_TIMERS),
		 0);
	/* The ready pipe is no longer watched: at most one empty round for
	 * what the clear itself changed. */
	if (readable(fd))
		CHECK_EQ(host_round(loop, fd), 0);
	CHECK(!readable(fd));
	CHECK_EQ(vev_loop_verify(loop), 0);

	/* Still usable; ids go on. */
	again.id = vev_add_handle(loop, p[0], VEV_READABLE, on_handle, &again,
				  on_free);
	CHECK_EQ(again.id, w.id + 1);
	CHECK_EQ(vev_add_timer(loop, -1, on_timer, &late, NULL), c.id + 1);
	CHECK(readable(fd));
	CHECK_EQ(host_round(loop, fd), 1);
	finish(loop);
	CHECK_EQ(again.freed, 1);
	close(p[0]);
	close(p[1]);
}

/* ---- faults -------------------------------------------------------------- */

/* Every fallible operation of an embedded loop's life fails in turn: the
 * call that met it fails cleanly or the loop recovers, and afterwards the
 * descriptor still tells the host everything. */
static void faults_at_every_site_are_clean(void)
{
	int p[2];
	test_pipe(p);
	unsigned long k;
	for (k = 1;; k++) {
		struct rec w = { 0 }, t = { 0 }, z = { 0 };
		vev_loop *loop = NULL;
		CHECK_EQ(vev_loop_new(&loop, VEV_LOOP_EPOLL), 0);
		vev__fault_arm(k);
		int fd = vev_loop_fd(loop);
		CHECK(fd >= 0 || fd == -ENOMEM || fd == -EMFILE);
		w.id = vev_add_handle(loop, p[0], VEV_READABLE, on_handle, &w,
				      on_free);
		t.id = vev_add_timer(loop, 5, on_timer, &t, on_free);
		vev_run_once(loop, VEV_NO_WAIT);
		if (w.id > 0)
			vev_remove_handle(loop, w.id);
		vev_run_once(loop, VEV_NO_WAIT);
		unsigned long seen = vev__fault_count();
		vev__fault_arm(0);
		if (fd < 0)
			fd = vev_loop_fd(loop);
		CHECK(fd >= 0);
		/* Whatever failed, the host is told about new work. */
		z.id = vev_add_timer(loop, 0, on_timer, &z, on_free);
		CHECK(z.id > 0);
		for (int i = 0; z.calls == 0; i++) {
			CHECK(i < 4);
			host_round(loop, fd);
		}
		finish(loop);
		CHECK_EQ(z.freed, 1);
		CHECK_EQ(w.freed, w.id > 0);
		CHECK_EQ(t.freed, t.id > 0);
		if (seen < k)
			break;
	}
	printf("faults injected: %lu sites\n", k - 1);
	close(p[0]);
	close(p[1]);
}

const struct test tests[] = {
	{ "errors_and_poll_backend", errors_and_poll_backend },
	{ "descriptor_is_stable_and_costs_nothing_unasked",
	  descriptor_is_stable_and_costs_nothing_unasked },
	{ "quiet_until_there_is_work", quiet_until_there_is_work },
	{ "period_zero_timer_keeps_the_host_awake",
	  period_zero_timer_keeps_the_host_awake },
	{ "timers_on_time_without_a_host_timeout",
	  timers_on_time_without_a_host_timeout },
	{ "regular_file_and_closed_descriptor",
	  regular_file_and_closed_descriptor },
	{ "changes_from_another_thread_wake_the_host",
	  changes_from_another_thread_wake_the_host },
	{ "quit_wakes_the_host_once", quit_wakes_the_host_once },
	{ "fork_child_gets_its_own_descriptor",
	  fork_child_gets_its_own_descriptor },
	{ "host_epoll_registration_survives_a_rebuild",
	  host_epoll_registration_survives_a_rebuild },
	{ "clear_empties_and_keeps_the_loop", clear_empties_and_keeps_the_loop },
	{ "faults_at_every_site_are_clean", faults_at_every_site_are_clean },
	{ NULL, NULL },
};
