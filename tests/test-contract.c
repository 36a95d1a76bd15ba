/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The contract of docs/design.md, one test per rule, and the scenarios
 * of libvirt's own event test.  Written once against `struct impl`; built
 * once per implementation and run once per backend. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define TEST_HARNESS_MAIN
#include "harness.h"
#include "impl.h"

static const struct impl *I;
static pthread_t loop_thread;

/* ---- recording callbacks ------------------------------------------------ */

struct rec;
typedef void (*action_fn)(struct rec *r);

struct rec {
	int id;          /* watch or timer id */
	bool is_timer;
	int fd;
	int calls;
	int events;      /* events of the last call */
	int all_events;  /* OR of all calls */
	int order;       /* global sequence number of the last call */
	int freed;
	bool removed;    /* a remove call succeeded */
	int64_t last_ns;
	action_fn action;
	int arg;         /* for actions */
	struct rec *other;
};

#define MAX_RECS 2048
static struct rec recs[MAX_RECS];
static int nrecs;
static int sequence;
static int callback_depth;
static bool in_remove;

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static struct rec *new_rec(void)
{
	CHECK(nrecs < MAX_RECS);
	struct rec *r = &recs[nrecs++];
	memset(r, 0, sizeof(*r));
	r->id = -1;
	return r;
}

static void handle_cb(int watch, int fd, int events, void *opaque)
{
	struct rec *r = opaque;

	CHECK(pthread_equal(pthread_self(), loop_thread));
	CHECK_EQ(watch, r->id);
	CHECK_EQ(fd, r->fd);
	CHECK_EQ(r->freed, 0);
	callback_depth++;
	r->calls++;
	r->events = events;
	r->all_events |= events;
	r->order = ++sequence;
	r->last_ns = now_ns();
	if (r->action)
		r->action(r);
	callback_depth--;
}

static void timer_cb(int timer, void *opaque)
{
	struct rec *r = opaque;

	CHECK(pthread_equal(pthread_self(), loop_thread));
	CHECK_EQ(timer, r->id);
	CHECK_EQ(r->freed, 0);
	callback_depth++;
	r->calls++;
	r->order = ++sequence;
	r->last_ns = now_ns();
	if (r->action)
		r->action(r);
	callback_depth--;
}

/* Rule 7: never inside remove, never on a callback's stack, loop thread. */
static void free_cb(void *opaque)
{
	struct rec *r = opaque;

	CHECK(!in_remove);
	CHECK_EQ(callback_depth, 0);
	CHECK(pthread_equal(pthread_self(), loop_thread));
	r->freed++;
}

static struct rec *watch(int fd, int events)
{
	struct rec *r = new_rec();
	r->fd = fd;
	r->id = I->add_handle(fd, events, handle_cb, r, free_cb);
	CHECK(r->id > 0);
	return r;
}

static struct rec *timer(int timeout)
{
	struct rec *r = new_rec();
	r->is_timer = true;
	r->id = I->add_timeout(timeout, timer_cb, r, free_cb);
	CHECK(r->id > 0);
	return r;
}

static int unwatch(struct rec *r)
{
	in_remove = true;
	int rc = r->is_timer ? I->remove_timeout(r->id) : I->remove_handle(r->id);
	in_remove = false;
	if (rc == 0)
		r->removed = true;
	return rc;
}

static void run_nowait(int n)
{
	for (int i = 0; i < n; i++)
		CHECK(I->run_once(0) >= 0);
}

static void setup(void)
{
	loop_thread = pthread_self();
	I = impl_setup();
	test_subject = I->name;
}

/* Every test ends here: all removed, every free callback ran exactly once,
 * the loop is empty and its invariants hold. */
static void finish(void)
{
	CHECK_EQ(I->verify(), 0);
	for (int i = 0; i < nrecs; i++)
		if (recs[i].id > 0 && !recs[i].removed && recs[i].freed == 0)
			CHECK_EQ(unwatch(&recs[i]), 0);
	run_nowait(1);
	CHECK_EQ(I->live(), 0);
	CHECK_EQ(I->pending_frees(), 0);
	for (int i = 0; i < nrecs; i++)
		if (recs[i].id > 0)
			CHECK_EQ(recs[i].freed, 1);
	CHECK_EQ(I->verify(), 0);
}

static bool is_poll_backend(void)
{
	return I->backend && I->backend() && strcmp(I->backend(), "poll") == 0;
}

/* Spin (yielding) until the loop thread is blocked in its wait. */
static void wait_until_polling(void)
{
	while (!I->is_polling())
		sched_yield();
}

/* ---- rule 1: ids -------------------------------------------------------- */

static void rule01_ids(void)
{
	int p[2];
	setup();
	test_pipe(p);
	struct rec *a = watch(p[0], VIR_EVENT_HANDLE_READABLE);
	struct rec *b = watch(p[0], VIR_EVENT_HANDLE_READABLE);
	struct rec *t1 = timer(-1);
	struct rec *t2 = timer(-1);
	CHECK_EQ(a->id, 1);
	CHECK_EQ(b->id, 2);
	CHECK_EQ(t1->id, 1); /* a separate id space */
	CHECK_EQ(t2->id, 2);
	CHECK_EQ(unwatch(b), 0);
	CHECK_EQ(unwatch(t2), 0);
	/* Never reused, even after removal. */
	CHECK_EQ(watch(p[1], VIR_EVENT_HANDLE_WRITABLE)->id, 3);
	CHECK_EQ(timer(-1)->id, 3);
	/* A failed add consumes no id. */
	CHECK_EQ(I->add_handle(-1, 0, handle_cb, NULL, NULL), -1);
	CHECK_EQ(watch(p[0], 0)->id, 4);
	finish();
}

/* ---- rule 2: add -------------------------------------------------------- */

static void rule02_add_rejects_bad_fd(void)
{
	int p[2];
	setup();
	test_pipe(p);
	close(p[1]);
	int closed = p[1];
	CHECK_EQ(I->add_handle(-1, VIR_EVENT_HANDLE_READABLE, handle_cb, NULL,
			       free_cb), -1);
	CHECK(strlen(I->last_error()) > 0);
	CHECK_EQ(I->add_handle(closed, VIR_EVENT_HANDLE_READABLE, handle_cb,
			       NULL, free_cb), -1);
	CHECK(strstr(I->last_error(), "not an open") != NULL);
	CHECK_EQ(I->add_handle(999999, VIR_EVENT_HANDLE_READABLE, handle_cb,
			       NULL, free_cb), -1);
	CHECK_EQ(I->live(), 0); /* nothing changed */
	close(p[0]);
	finish();
}

static void rule02_add_rejects_null_callback(void)
{
	int p[2];
	setup();
	test_pipe(p);
	CHECK_EQ(I->add_handle(p[0], VIR_EVENT_HANDLE_READABLE, NULL, NULL,
			       free_cb), -1);
	CHECK(strstr(I->last_error(), "callback") != NULL);
	CHECK_EQ(I->add_timeout(0, NULL, NULL, free_cb), -1);
	CHECK(strstr(I->last_error(), "callback") != NULL);
	CHECK_EQ(I->live(), 0);
	finish();
}

static void rule02_unknown_bits_ignored(void)
{
	int p[2];
	setup();
	test_pipe(p);
	test_write1(p[1]);
	struct rec *r = watch(p[0], VIR_EVENT_HANDLE_READABLE | 0x7f0);
	run_nowait(1);
	CHECK_EQ(r->calls, 1);
	CHECK_EQ(r->events, VIR_EVENT_HANDLE_READABLE);
	finish();
}

static void rule02_zero_events_not_polled(void)
{
	int s[2];
	setup();
	test_socketpair(s);
	test_write1(s[1]);
	struct rec *r = watch(s[0], 0);
	run_nowait(3);
	CHECK_EQ(r->calls, 0);
	/* Not even ERROR/HANGUP reach a watch that polls nothing. */
	close(s[1]);
	run_nowait(2);
	CHECK_EQ(r->calls, 0);
	I->update_handle(r->id, VIR_EVENT_HANDLE_READABLE);
	run_nowait(1);
	CHECK_EQ(r->calls, 1);
	CHECK_EQ(r->events, VIR_EVENT_HANDLE_READABLE | VIR_EVENT_HANDLE_HANGUP);
	I->update_handle(r->id, 0);
	run_nowait(2);
	CHECK_EQ(r->calls, 1);
	finish();
}

/* ---- rule 3: level-triggered events ------------------------------------ */

static void stop_on_timer(struct rec *r);

static void rule03_level_triggered(void)
{
	int p[2];
	setup();
	test_pipe(p);
	struct rec *r = watch(p[0], VIR_EVENT_HANDLE_READABLE);
	run_nowait(2);
	CHECK_EQ(r->calls, 0);
	test_write1(p[1]);
	run_nowait(3); /* still unread: once per iteration */
	CHECK_EQ(r->calls, 3);
	CHECK_EQ(r->events, VIR_EVENT_HANDLE_READABLE);
	test_drain(p[0]);
	run_nowait(2);
	CHECK_EQ(r->calls, 3);
	finish();
}

static void rule03_bits_ored_and_only_asked(void)
{
	int s[2];
	setup();
	test_socketpair(s);
	test_write1(s[1]);
	struct rec *both = watch(s[0], VIR_EVENT_HANDLE_READABLE |
					       VIR_EVENT_HANDLE_WRITABLE);
	struct rec *rd = watch(s[0], VIR_EVENT_HANDLE_READABLE);
	struct rec *wr = watch(s[0], VIR_EVENT_HANDLE_WRITABLE);
	run_nowait(1);
	CHECK_EQ(both->calls, 1); /* one call with all pending bits */
	CHECK_EQ(both->events,
		 VIR_EVENT_HANDLE_READABLE | VIR_EVENT_HANDLE_WRITABLE);
	CHECK_EQ(rd->events, VIR_EVENT_HANDLE_READABLE);
	CHECK_EQ(wr->events, VIR_EVENT_HANDLE_WRITABLE);
	finish();
}

static void rule03_pipe_writer_closed_hangup(void)
{
	int p[2];
	setup();
	test_pipe(p);
	/* A watch asking only for WRITABLE still hears HANGUP. */
	struct rec *r = watch(p[0], VIR_EVENT_HANDLE_READABLE);
	struct rec *w = watch(p[0], VIR_EVENT_HANDLE_WRITABLE);
	close(p[1]);
	run_nowait(1);
	CHECK_EQ(r->calls, 1);
	CHECK_EQ(r->events, VIR_EVENT_HANDLE_HANGUP);
	CHECK_EQ(w->calls, 1);
	CHECK_EQ(w->events, VIR_EVENT_HANDLE_HANGUP);
	finish();
}

/* ERROR and HANGUP alone are polled for: they are reported, level-triggered
 * like any condition, and data the watch does not want neither fires nor
 * keeps the loop from blocking. */
static void rule03_error_hangup_only(void)
{
	int p[2];
	setup();
	test_pipe(p);
	test_write1(p[1]);
	struct rec *r = watch(p[0], VIR_EVENT_HANDLE_ERROR |
					    VIR_EVENT_HANDLE_HANGUP);
	struct rec *t = timer(30);
	t->action = stop_on_timer;
	int iterations = 0;
	while (!t->arg) {
		CHECK(I->run_once(-1) >= 0);
		CHECK(++iterations <= 5); /* not spinning on the data */
	}
	CHECK_EQ(r->calls, 0);
	close(p[1]);
	run_nowait(2);
	CHECK_EQ(r->calls, 2);
	CHECK_EQ(r->events, VIR_EVENT_HANDLE_HANGUP);
	finish();
}

static void rule03_socket_peer_closed(void)
{
	int s[2];
	setup();
	test_socketpair(s);
	struct rec *r = watch(s[0], VIR_EVENT_HANDLE_READABLE);
	close(s[1]);
	run_nowait(1);
	CHECK_EQ(r->calls, 1);
	CHECK_EQ(r->events, VIR_EVENT_HANDLE_READABLE | VIR_EVENT_HANDLE_HANGUP);
	finish();
}

/* ---- rule 4: one fd, several watches ----------------------------------- */

static void rule04_same_fd_several_watches(void)
{
	int s[2];
	setup();
	test_socketpair(s);
	struct rec *a = watch(s[0], VIR_EVENT_HANDLE_READABLE);
	struct rec *b = watch(s[0], VIR_EVENT_HANDLE_READABLE |
					    VIR_EVENT_HANDLE_WRITABLE);
	struct rec *c = watch(s[0], VIR_EVENT_HANDLE_WRITABLE);
	run_nowait(1);
	CHECK_EQ(a->calls, 0);
	CHECK_EQ(b->events, VIR_EVENT_HANDLE_WRITABLE);
	CHECK_EQ(c->events, VIR_EVENT_HANDLE_WRITABLE);
	test_write1(s[1]);
	run_nowait(1);
	CHECK_EQ(a->calls, 1);
	CHECK_EQ(a->events, VIR_EVENT_HANDLE_READABLE);
	CHECK_EQ(b->events, VIR_EVENT_HANDLE_READABLE | VIR_EVENT_HANDLE_WRITABLE);
	CHECK_EQ(c->calls, 2);
	/* Removing one leaves the others' masks intact. */
	CHECK_EQ(unwatch(b), 0);
	I->update_handle(c->id, 0);
	run_nowait(1);
	CHECK_EQ(a->calls, 2);
	CHECK_EQ(c->calls, 2);
	CHECK_EQ(b->calls, 2);
	finish();
}

/* ---- rule 5: descriptors closed while watched -------------------------- */

static void stop_on_timer(struct rec *r)
{
	r->arg = 1;
}

static void rule05_closed_fd_never_spins(void)
{
	int p[2];
	setup();
	test_pipe(p);
	struct rec *r = watch(p[0], VIR_EVENT_HANDLE_READABLE);
	run_nowait(1);
	close(p[0]);
	struct rec *t = timer(60);
	t->action = stop_on_timer;
	int iterations = 0;
	while (!t->arg) {
		CHECK(I->run_once(-1) >= 0);
		iterations++;
		/* A spinning loop would run thousands before 60 ms pass. */
		CHECK(iterations <= 5);
	}
	/* ERROR at most once: where the backend can know (poll says
	 * POLLNVAL) exactly once; epoll forgets closed files silently. */
	CHECK(r->calls <= 1);
	if (is_poll_backend())
		CHECK_EQ(r->calls, 1);
	if (r->calls)
		CHECK_EQ(r->events, VIR_EVENT_HANDLE_ERROR);
	CHECK_EQ(unwatch(r), 0);
	close(p[1]);
	finish();
}

static void rule05_closed_fd_reused_by_new_watch(void)
{
	int p[2], q[2];
	setup();
	test_pipe(p);
	struct rec *old = watch(p[0], VIR_EVENT_HANDLE_READABLE);
	run_nowait(1);
	int num = p[0];
	close(p[0]);
	close(p[1]);
	test_pipe(q); /* takes the lowest numbers: the old read end's */
	CHECK_EQ(q[0], num);
	struct rec *fresh = watch(q[0], VIR_EVENT_HANDLE_READABLE);
	test_write1(q[1]);
	run_nowait(2);
	CHECK_EQ(fresh->calls, 2);
	/* The old watch never reports the new file's data. */
	CHECK(!(old->all_events & VIR_EVENT_HANDLE_READABLE));
	CHECK(old->calls <= 1);
	finish();
}

/* ---- rule 6: timers ----------------------------------------------------- */

static void rule06_timer_zero_every_iteration(void)
{
	setup();
	struct rec *t = timer(0);
	for (int i = 1; i <= 3; i++) {
		/* Would block forever if a 0 timer let the wait block. */
		CHECK(I->run_once(-1) >= 0);
		CHECK_EQ(t->calls, i);
	}
	finish();
}

static void rule06_timer_negative_disabled(void)
{
	setup();
	struct rec *a = timer(-1);
	struct rec *b = timer(-1000);
	struct rec *c = timer(0);
	run_nowait(2);
	CHECK_EQ(a->calls, 0);
	CHECK_EQ(b->calls, 0);
	CHECK_EQ(c->calls, 2);
	I->update_timeout(c->id, -7);
	run_nowait(2);
	CHECK_EQ(c->calls, 2);
	I->update_timeout(a->id, 0);
	run_nowait(1);
	CHECK_EQ(a->calls, 1);
	finish();
}

static void rule06_timer_period_never_early(void)
{
	setup();
	/* Each fire is due a period after the dispatch of the one before, and
	 * that dispatch happened after `dispatched_after` (taken before the
	 * iteration that made it): a strict lower bound, whatever the delay
	 * between dispatch and the callback's own clock reading. */
	int64_t dispatched_after = now_ns();
	struct rec *t = timer(25);
	for (int i = 0; i < 4; i++) {
		int before = t->calls;
		int64_t started;
		do {
			started = now_ns();
			CHECK(I->run_once(-1) >= 0);
		} while (t->calls == before);
		CHECK(t->last_ns - dispatched_after >= 25 * 1000000LL);
		dispatched_after = started;
	}
	finish();
}

static void sleep_in_first_call(struct rec *r)
{
	if (r->calls == 1) {
		/* A slow callback, not a wait: the loop must not make up
		 * for the periods it missed meanwhile. */
		struct timespec ts = { 0, 120 * 1000000L };
		nanosleep(&ts, NULL);
	}
}

static void rule06_timer_no_catch_up_burst(void)
{
	setup();
	struct rec *t = timer(20);
	t->action = sleep_in_first_call;
	int64_t at[4];
	for (int i = 0; i < 4; i++) {
		while (t->calls == i)
			CHECK(I->run_once(-1) >= 0);
		at[i] = t->last_ns;
	}
	/* Re-armed from dispatch: the call after the slow one comes at once,
	 * then the period holds again, with no burst of missed fires. */
	CHECK(at[2] - at[1] >= 20 * 1000000LL);
	CHECK(at[3] - at[2] >= 20 * 1000000LL);
	finish();
}

static void rule06_timer_update_restarts(void)
{
	setup();
	struct rec *t = timer(80);
	CHECK_EQ(I->run_once(30), 0);
	CHECK_EQ(t->calls, 0);
	int64_t t1 = now_ns();
	I->update_timeout(t->id, 80); /* same period: countdown restarts */
	while (t->calls == 0)
		CHECK(I->run_once(-1) >= 0);
	CHECK(t->last_ns - t1 >= 80 * 1000000LL);
	finish();
}

/* ---- rule 7: free callbacks -------------------------------------------- */

static void remove_self(struct rec *r)
{
	CHECK_EQ(unwatch(r), 0);
}

static void rule07_free_callback_rules(void)
{
	int p[2];
	setup();
	test_pipe(p);
	test_write1(p[1]);
	struct rec *h = watch(p[0], VIR_EVENT_HANDLE_READABLE);
	struct rec *t = timer(0);
	h->action = remove_self;
	t->action = remove_self;
	/* free_cb checks: not inside remove, not under a callback, loop
	 * thread.  Run by the end of the iteration of the removal or the
	 * next one at the latest. */
	run_nowait(1);
	CHECK_EQ(h->calls, 1);
	CHECK_EQ(t->calls, 1);
	run_nowait(1);
	CHECK_EQ(h->freed, 1);
	CHECK_EQ(t->freed, 1);
	struct rec *u = timer(-1);
	CHECK_EQ(unwatch(u), 0);
	CHECK_EQ(u->freed, 0); /* never inside the remove call */
	run_nowait(1);
	CHECK_EQ(u->freed, 1);
	finish();
}

static void rule07_timer_free_not_starved(void)
{
	int p[2];
	setup();
	test_pipe(p);
	test_write1(p[1]);
	/* Something is always ready, so no iteration ever blocks. */
	watch(p[0], VIR_EVENT_HANDLE_READABLE);
	timer(0);
	struct rec *victim = timer(1000);
	run_nowait(1);
	CHECK_EQ(unwatch(victim), 0);
	run_nowait(1);
	CHECK_EQ(victim->freed, 1);
	finish();
}

/* ---- rule 8: changes during dispatch ----------------------------------- */

static void remove_other(struct rec *r)
{
	CHECK_EQ(unwatch(r->other), 0);
}

static void disable_other_timer(struct rec *r)
{
	I->update_timeout(r->other->id, -1);
}

static void disable_other_handle(struct rec *r)
{
	I->update_handle(r->other->id, 0);
}

static void rule08_removed_before_turn(void)
{
	int p[2], q[2];
	setup();
	test_pipe(p);
	test_pipe(q);
	test_write1(p[1]);
	test_write1(q[1]);
	struct rec *a = watch(p[0], VIR_EVENT_HANDLE_READABLE);
	struct rec *b = watch(q[0], VIR_EVENT_HANDLE_READABLE);
	a->action = remove_other;
	a->other = b;
	struct rec *ta = timer(0);
	struct rec *tb = timer(0);
	ta->action = remove_other;
	ta->other = tb;
	run_nowait(1);
	CHECK_EQ(a->calls, 1);
	CHECK_EQ(b->calls, 0);
	CHECK_EQ(ta->calls, 1);
	CHECK_EQ(tb->calls, 0);
	finish();
}

static void rule08_disabled_before_turn(void)
{
	int p[2], q[2];
	setup();
	test_pipe(p);
	test_pipe(q);
	test_write1(p[1]);
	test_write1(q[1]);
	struct rec *a = watch(p[0], VIR_EVENT_HANDLE_READABLE);
	struct rec *b = watch(q[0], VIR_EVENT_HANDLE_READABLE);
	a->action = disable_other_handle;
	a->other = b;
	struct rec *ta = timer(0);
	struct rec *tb = timer(0);
	ta->action = disable_other_timer;
	ta->other = tb;
	run_nowait(1);
	CHECK_EQ(b->calls, 0);
	CHECK_EQ(tb->calls, 0);
	a->action = NULL;
	ta->action = NULL;
	run_nowait(1);
	CHECK_EQ(b->calls, 0);
	CHECK_EQ(tb->calls, 0);
	finish();
}

static int added_fd;
static void add_ready_watch_and_timer(struct rec *r)
{
	if (r->calls > 1)
		return;
	r->other = watch(added_fd, VIR_EVENT_HANDLE_READABLE);
	r->arg = (int)(timer(0) - recs);
}

static void rule08_added_during_dispatch(void)
{
	int p[2], q[2];
	setup();
	test_pipe(p);
	test_pipe(q);
	test_write1(p[1]);
	test_write1(q[1]);
	added_fd = q[0];
	struct rec *a = watch(p[0], VIR_EVENT_HANDLE_READABLE);
	a->action = add_ready_watch_and_timer;
	run_nowait(1);
	struct rec *w = a->other, *t = &recs[a->arg];
	CHECK_EQ(w->calls, 0);
	CHECK_EQ(t->calls, 0);
	run_nowait(1);
	CHECK_EQ(w->calls, 1);
	CHECK_EQ(t->calls, 1);
	finish();
}

/* ---- rule 9: threads ---------------------------------------------------- */

struct thread_job {
	void (*fn)(struct thread_job *);
	struct rec *r;
	int fd;
	atomic_int result; /* polled by the loop thread while the job runs */
	bool wait_for_poll;
};

static void *thread_main(void *arg)
{
	struct thread_job *job = arg;
	if (job->wait_for_poll)
		wait_until_polling();
	job->fn(job);
	return NULL;
}

static void in_thread(struct thread_job *job, pthread_t *t)
{
	CHECK(pthread_create(t, NULL, thread_main, job) == 0);
}

/* The worker stores ids after add returns, so these may run before the id
 * is known; they check only what the loop thread owns. */
static void churn_handle_cb(int watch, int fd, int events, void *opaque)
{
	struct rec *r = opaque;
	CHECK(pthread_equal(pthread_self(), loop_thread));
	CHECK_EQ(r->freed, 0);
	r->calls++;
}

static void churn_timer_cb(int timer, void *opaque)
{
	churn_handle_cb(timer, -1, 0, opaque);
}

/* job->r is allocated by the caller: only the loop thread touches recs. */
static void job_add_zero_timer(struct thread_job *job)
{
	job->r->is_timer = true;
	job->r->id = I->add_timeout(0, churn_timer_cb, job->r, free_cb);
	job->result = job->r->id;
}

static void job_remove(struct thread_job *job)
{
	job->result = job->r->is_timer ? I->remove_timeout(job->r->id) :
					 I->remove_handle(job->r->id);
}

static void rule09_other_thread_add_wakes_loop(void)
{
	pthread_t t;
	setup();
	struct thread_job job = { .fn = job_add_zero_timer, .r = new_rec(),
				  .wait_for_poll = true };
	in_thread(&job, &t);
	/* Nothing registered: blocks until the other thread adds. */
	while (job.r->calls == 0)
		CHECK(I->run_once(-1) >= 0);
	pthread_join(t, NULL);
	CHECK(job.result > 0);
	finish();
}

static void spawn_and_join_adder(struct rec *r)
{
	/* If a lock were held during callbacks this would deadlock (and the
	 * watchdog would fail the test). */
	pthread_t t;
	struct thread_job job = { .fn = job_add_zero_timer, .r = new_rec() };
	in_thread(&job, &t);
	pthread_join(t, NULL);
	CHECK(job.result > 0);
	r->other = job.r;
	CHECK_EQ(unwatch(r), 0);
}

static void rule09_no_lock_held_in_callbacks(void)
{
	setup();
	struct rec *t = timer(0);
	t->action = spawn_and_join_adder;
	run_nowait(1);
	CHECK_EQ(t->calls, 1);
	run_nowait(1);
	CHECK_EQ(t->other->calls, 1);
	finish();
}

static void job_churn(struct thread_job *job)
{
	/* Add, update and remove while the loop runs in the main thread. */
	for (int i = 0; i < 200; i++) {
		int id = I->add_timeout(i % 3 == 0 ? 0 : i % 3 == 1 ? 1 : -1,
					churn_timer_cb, job->r + i, free_cb);
		CHECK(id > 0);
		job->r[i].id = id;
		job->r[i].is_timer = true;
		I->update_timeout(id, i % 2 ? 0 : 5);
		if (i % 4 != 3) {
			CHECK_EQ(I->remove_timeout(id), 0);
			job->r[i].removed = true;
		}
		int w = I->add_handle(job->fd, VIR_EVENT_HANDLE_WRITABLE,
				      churn_handle_cb, job->r + 200 + i, free_cb);
		CHECK(w > 0);
		job->r[200 + i].id = w;
		job->r[200 + i].fd = job->fd;
		if (i % 5 != 0) {
			CHECK_EQ(I->remove_handle(w), 0);
			job->r[200 + i].removed = true;
		}
	}
	job->result = 1;
}

static void rule09_threads_add_update_remove_while_running(void)
{
	int s[2];
	pthread_t t[2];
	setup();
	test_socketpair(s);
	struct thread_job jobs[2];
	CHECK(nrecs + 800 <= MAX_RECS);
	for (int j = 0; j < 2; j++) {
		jobs[j] = (struct thread_job){ .fn = job_churn, .fd = s[j],
					       .r = &recs[nrecs] };
		nrecs += 400;
		for (int i = 0; i < 400; i++)
			jobs[j].r[i].id = -1;
	}
	for (int j = 0; j < 2; j++)
		in_thread(&jobs[j], &t[j]);
	struct rec *tick = timer(1);
	while (!(jobs[0].result && jobs[1].result))
		CHECK(I->run_once(-1) >= 0);
	pthread_join(t[0], NULL);
	pthread_join(t[1], NULL);
	(void)tick;
	finish();
}

/* ---- rule 10: run ------------------------------------------------------- */

static void rule10_run_blocks_until_something_is_added(void)
{
	pthread_t t;
	setup();
	struct thread_job job = { .fn = job_add_zero_timer, .r = new_rec(),
				  .wait_for_poll = true };
	in_thread(&job, &t);
	CHECK(I->run_once(-1) >= 0); /* returns once the add woke it */
	pthread_join(t, NULL);
	CHECK(job.result > 0);
	finish();
}

/* ---- rule 13: unknown ids ------------------------------------------------ */

static void rule13_unknown_ids(void)
{
	int p[2];
	setup();
	test_pipe(p);
	CHECK_EQ(I->remove_handle(1), -1);
	CHECK_EQ(I->remove_timeout(1), -1);
	CHECK_EQ(I->remove_handle(0), -1);
	CHECK_EQ(I->remove_handle(-5), -1);
	struct rec *r = watch(p[0], VIR_EVENT_HANDLE_READABLE);
	struct rec *t = timer(-1);
	CHECK_EQ(unwatch(r), 0);
	CHECK_EQ(unwatch(t), 0);
	CHECK_EQ(I->remove_handle(r->id), -1);
	CHECK_EQ(I->remove_timeout(t->id), -1);
	/* Updates of unknown ids are harmless. */
	I->update_handle(r->id, VIR_EVENT_HANDLE_READABLE);
	I->update_handle(12345, VIR_EVENT_HANDLE_READABLE);
	I->update_timeout(t->id, 0);
	I->update_timeout(-1, 0);
	run_nowait(1);
	CHECK_EQ(r->calls + t->calls, 0);
	finish();
}

/* ---- libvirt's event test scenarios ------------------------------------ */

#define NPIPES 10

static void lv_trigger_one_of_many(void)
{
	int p[NPIPES][2];
	struct rec *w[NPIPES];
	setup();
	for (int i = 0; i < NPIPES; i++) {
		test_pipe(p[i]);
		w[i] = watch(p[i][0], VIR_EVENT_HANDLE_READABLE);
	}
	test_write1(p[4][1]);
	run_nowait(1);
	for (int i = 0; i < NPIPES; i++)
		CHECK_EQ(w[i]->calls, i == 4);
	finish();
}

static void lv_remove_before_poll(void)
{
	int p[2];
	setup();
	test_pipe(p);
	struct rec *w = watch(p[0], VIR_EVENT_HANDLE_READABLE);
	test_write1(p[1]);
	CHECK_EQ(unwatch(w), 0);
	run_nowait(1);
	CHECK_EQ(w->calls, 0);
	finish();
}

static void lv_remove_from_thread_while_blocked(void)
{
	int p[2];
	pthread_t t;
	setup();
	test_pipe(p);
	struct rec *w = watch(p[0], VIR_EVENT_HANDLE_READABLE);
	struct thread_job job = { .fn = job_remove, .r = w,
				  .wait_for_poll = true };
	in_thread(&job, &t);
	/* The removal ends the blocked iteration, with no callback. */
	CHECK_EQ(I->run_once(-1), 0);
	pthread_join(t, NULL);
	CHECK_EQ(job.result, 0);
	CHECK_EQ(w->calls, 0);
	finish();
}

static void lv_remove_later_ready_in_dispatch(void)
{
	int p[NPIPES][2];
	struct rec *w[NPIPES];
	setup();
	for (int i = 0; i < NPIPES; i++) {
		test_pipe(p[i]);
		test_write1(p[i][1]);
		w[i] = watch(p[i][0], VIR_EVENT_HANDLE_READABLE);
	}
	w[2]->action = remove_other;
	w[2]->other = w[7];
	run_nowait(1);
	for (int i = 0; i < NPIPES; i++)
		CHECK_EQ(w[i]->calls, i != 7);
	finish();
}

static void lv_remove_self_in_dispatch(void)
{
	int p[2];
	setup();
	test_pipe(p);
	test_write1(p[1]);
	struct rec *w = watch(p[0], VIR_EVENT_HANDLE_READABLE);
	w->action = remove_self;
	run_nowait(3);
	CHECK_EQ(w->calls, 1);
	finish();
}

static void lv_timer_trigger_one_of_many(void)
{
	struct rec *t[NPIPES];
	setup();
	for (int i = 0; i < NPIPES; i++)
		t[i] = timer(-1);
	I->update_timeout(t[6]->id, 0);
	run_nowait(1);
	for (int i = 0; i < NPIPES; i++)
		CHECK_EQ(t[i]->calls, i == 6);
	finish();
}

static void lv_timer_remove_before_run(void)
{
	setup();
	struct rec *t = timer(0);
	CHECK_EQ(unwatch(t), 0);
	run_nowait(1);
	CHECK_EQ(t->calls, 0);
	finish();
}

static void lv_timer_remove_from_thread_while_blocked(void)
{
	pthread_t th;
	setup();
	struct rec *t = timer(5000);
	struct thread_job job = { .fn = job_remove, .r = t,
				  .wait_for_poll = true };
	in_thread(&job, &th);
	CHECK_EQ(I->run_once(-1), 0);
	pthread_join(th, NULL);
	CHECK_EQ(job.result, 0);
	CHECK_EQ(t->calls, 0);
	finish();
}

static void lv_timer_remove_later_due_in_dispatch(void)
{
	struct rec *t[NPIPES];
	setup();
	for (int i = 0; i < NPIPES; i++)
		t[i] = timer(0);
	t[1]->action = remove_other;
	t[1]->other = t[8];
	run_nowait(1);
	for (int i = 0; i < NPIPES; i++)
		CHECK_EQ(t[i]->calls, i != 8);
	finish();
}

static void lv_timer_remove_self_in_dispatch(void)
{
	setup();
	struct rec *t = timer(0);
	t->action = remove_self;
	run_nowait(3);
	CHECK_EQ(t->calls, 1);
	finish();
}

static void lv_last_of_many_after_removals(void)
{
	int p[NPIPES][2];
	struct rec *w[NPIPES];
	setup();
	for (int i = 0; i < NPIPES; i++) {
		test_pipe(p[i]);
		w[i] = watch(p[i][0], VIR_EVENT_HANDLE_READABLE);
	}
	for (int i = 0; i < NPIPES - 1; i++)
		CHECK_EQ(unwatch(w[i]), 0);
	test_write1(p[NPIPES - 1][1]);
	run_nowait(1);
	CHECK_EQ(w[NPIPES - 1]->calls, 1);
	finish();
}

static void lv_same_fd_twice_one_with_zero(void)
{
	int p[2];
	setup();
	test_pipe(p);
	test_write1(p[1]);
	struct rec *a = watch(p[0], VIR_EVENT_HANDLE_READABLE);
	struct rec *b = watch(p[0], 0);
	run_nowait(1);
	CHECK_EQ(a->calls, 1);
	CHECK_EQ(b->calls, 0);
	I->update_handle(b->id, VIR_EVENT_HANDLE_READABLE);
	run_nowait(1);
	CHECK_EQ(a->calls, 2);
	CHECK_EQ(b->calls, 1);
	finish();
}

const struct test tests[] = {
	{ "rule01_ids", rule01_ids },
	{ "rule02_add_rejects_bad_fd", rule02_add_rejects_bad_fd },
	{ "rule02_add_rejects_null_callback", rule02_add_rejects_null_callback },
	{ "rule02_unknown_bits_ignored", rule02_unknown_bits_ignored },
	{ "rule02_zero_events_not_polled", rule02_zero_events_not_polled },
	{ "rule03_level_triggered", rule03_level_triggered },
	{ "rule03_bits_ored_and_only_asked", rule03_bits_ored_and_only_asked },
	{ "rule03_pipe_writer_closed_hangup", rule03_pipe_writer_closed_hangup },
	{ "rule03_error_hangup_only", rule03_error_hangup_only },
	{ "rule03_socket_peer_closed", rule03_socket_peer_closed },
	{ "rule04_same_fd_several_watches", rule04_same_fd_several_watches },
	{ "rule05_closed_fd_never_spins", rule05_closed_fd_never_spins },
	{ "rule05_closed_fd_reused_by_new_watch",
	  rule05_closed_fd_reused_by_new_watch },
	{ "rule06_timer_zero_every_iteration", rule06_timer_zero_every_iteration },
	{ "rule06_timer_negative_disabled", rule06_timer_negative_disabled },
	{ "rule06_timer_period_never_early", rule06_timer_period_never_early },
	{ "rule06_timer_no_catch_up_burst", rule06_timer_no_catch_up_burst },
	{ "rule06_timer_update_restarts", rule06_timer_update_restarts },
	{ "rule07_free_callback_rules", rule07_free_callback_rules },
	{ "rule07_timer_free_not_starved", rule07_timer_free_not_starved },
	{ "rule08_removed_before_turn", rule08_removed_before_turn },
	{ "rule08_disabled_before_turn", rule08_disabled_before_turn },
	{ "rule08_added_during_dispatch", rule08_added_during_dispatch },
	{ "rule09_other_thread_add_wakes_loop", rule09_other_thread_add_wakes_loop },
	{ "rule09_no_lock_held_in_callbacks", rule09_no_lock_held_in_callbacks },
	{ "rule09_threads_add_update_remove_while_running",
	  rule09_threads_add_update_remove_while_running },
	{ "rule10_run_blocks_until_something_is_added",
	  rule10_run_blocks_until_something_is_added },
	{ "rule13_unknown_ids", rule13_unknown_ids },
	{ "lv_trigger_one_of_many", lv_trigger_one_of_many },
	{ "lv_remove_before_poll", lv_remove_before_poll },
	{ "lv_remove_from_thread_while_blocked",
	  lv_remove_from_thread_while_blocked },
	{ "lv_remove_later_ready_in_dispatch", lv_remove_later_ready_in_dispatch },
	{ "lv_remove_self_in_dispatch", lv_remove_self_in_dispatch },
	{ "lv_timer_trigger_one_of_many", lv_timer_trigger_one_of_many },
	{ "lv_timer_remove_before_run", lv_timer_remove_before_run },
	{ "lv_timer_remove_from_thread_while_blocked",
	  lv_timer_remove_from_thread_while_blocked },
	{ "lv_timer_remove_later_due_in_dispatch",
	  lv_timer_remove_later_due_in_dispatch },
	{ "lv_timer_remove_self_in_dispatch", lv_timer_remove_self_in_dispatch },
	{ "lv_last_of_many_after_removals", lv_last_of_many_after_removals },
	{ "lv_same_fd_twice_one_with_zero", lv_same_fd_twice_one_with_zero },
	{ NULL, NULL },
};
