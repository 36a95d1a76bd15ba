/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Event queues (vevent/queue.h): posting from any thread, ordered and
 * coalesced delivery on the loop thread, the full-queue policies, closing,
 * destruction with events pending, and synchronous mode as libvirt's
 * block-job helpers use it. */
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>

#define TEST_HARNESS_MAIN
#include "harness.h"
#include "loop-private.h"
#include "vevent/queue.h"
#include "vevent/vevent.h"

/* ---- helpers ------------------------------------------------------------ */

/* A counter threads can wait on, so that no test sleeps to wait for
 * something that happens. */
struct counter {
	pthread_mutex_t m;
	pthread_cond_t c;
	long n;
};

#define COUNTER_INIT { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 }

static void counter_add(struct counter *c, long d)
{
	pthread_mutex_lock(&c->m);
	c->n += d;
	pthread_cond_broadcast(&c->c);
	pthread_mutex_unlock(&c->m);
}

static long counter_get(struct counter *c)
{
	pthread_mutex_lock(&c->m);
	long n = c->n;
	pthread_mutex_unlock(&c->m);
	return n;
}

static void counter_set(struct counter *c, long n)
{
	pthread_mutex_lock(&c->m);
	c->n = n;
	pthread_mutex_unlock(&c->m);
}

static void counter_wait(struct counter *c, long n)
{
	pthread_mutex_lock(&c->m);
	while (c->n < n)
		pthread_cond_wait(&c->c, &c->m);
	pthread_mutex_unlock(&c->m);
}

/* The payloads: heap objects, so that the sanitizers see any leak or double
 * free, carrying who posted them, in which order, and the status the
 * callback returns for them. */
struct ev {
	int producer;
	int seq;
	int status;
};

static struct ev *ev_new(int producer, int seq, int status)
{
	struct ev *e = malloc(sizeof(*e));
	CHECK(e != NULL);
	e->producer = producer;
	e->seq = seq;
	e->status = status;
	return e;
}

/* What happened to payloads, in order. */
enum { LOG_MAX = 4096 };
struct log {
	pthread_mutex_t m;
	int n;
	int seq[LOG_MAX];
	pthread_t thread[LOG_MAX];
};

static struct log handled = { .m = PTHREAD_MUTEX_INITIALIZER };
static struct log freed = { .m = PTHREAD_MUTEX_INITIALIZER };
static struct counter handled_count = COUNTER_INIT;

static void log_add(struct log *l, int seq)
{
	pthread_mutex_lock(&l->m);
	if (l->n < LOG_MAX) {
		l->seq[l->n] = seq;
		l->thread[l->n] = pthread_self();
	}
	l->n++;
	pthread_mutex_unlock(&l->m);
}

static int log_len(struct log *l)
{
	pthread_mutex_lock(&l->m);
	int n = l->n;
	pthread_mutex_unlock(&l->m);
	return n;
}

static void payload_free(void *p)
{
	log_add(&freed, ((struct ev *)p)->seq);
	free(p);
}

static struct counter opaque_frees = COUNTER_INIT;
static pthread_t opaque_free_thread;

static void opaque_free(void *opaque)
{
	opaque_free_thread = pthread_self();
	counter_add(&opaque_frees, 1);
}

/* The usual callback: log, free, report the payload's status. */
static int record(vev_queue *q, void *payload, void *opaque)
{
	struct ev *e = payload;
	int status = e->status;
	log_add(&handled, e->seq);
	free(e);
	counter_add(&handled_count, 1);
	return status;
}

static vev_loop *new_loop(void)
{
	vev_loop *loop = NULL;
	CHECK_EQ(vev_loop_new(&loop, VEV_LOOP_AUTO), 0);
	test_subject = vev_loop_backend(loop);
	return loop;
}

static vev_queue *new_queue(vev_loop *loop, unsigned cap, unsigned flags,
			    vev_queue_cb cb, void *opaque)
{
	vev_queue *q = NULL;
	CHECK_EQ(vev_queue_new(&q, loop, cap, flags, cb, opaque, opaque_free,
			       payload_free), 0);
	CHECK(q != NULL);
	return q;
}

static uint64_t qstat(vev_queue *q, enum vev_queue_stat which)
{
	uint64_t v = 0;
	CHECK_EQ(vev_queue_stat(q, which, &v), 0);
	return v;
}

static uint64_t lstat_(vev_loop *loop, enum vev_stat which)
{
	uint64_t v = 0;
	CHECK_EQ(vev_loop_stat(loop, which, &v), 0);
	return v;
}

static void check_stats_add_up(vev_queue *q)
{
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_POSTED),
		 qstat(q, VEV_QUEUE_STAT_DELIVERED) +
			 qstat(q, VEV_QUEUE_STAT_PROCESSED) +
			 qstat(q, VEV_QUEUE_STAT_DROPPED) +
			 qstat(q, VEV_QUEUE_STAT_QUEUED) +
			 qstat(q, VEV_QUEUE_STAT_HELD));
}

/* Free the queue, let the loop release it, and check that nothing is left:
 * the loop is empty and its invariants hold, opaque_ff ran once. */
static void free_queue_and_loop(vev_queue *q, vev_loop *loop)
{
	long before = counter_get(&opaque_frees);
	check_stats_add_up(q);
	CHECK_EQ(vev_queue_free(q), 0);
	CHECK(vev_loop_drain(loop) >= 0);
	CHECK_EQ(counter_get(&opaque_frees), before + 1);
	CHECK_EQ(lstat_(loop, VEV_STAT_TIMERS), 0);
	CHECK_EQ(lstat_(loop, VEV_STAT_PENDING_FREES), 0);
	CHECK_EQ(vev_loop_verify(loop), 0);
	CHECK_EQ(vev_loop_free(loop), 0);
}

static void check_sequence(struct log *l, int from, int first, int count)
{
	CHECK(l->n >= from + count);
	for (int i = 0; i < count; i++)
		CHECK_EQ(l->seq[from + i], first + i);
}

/* An error-checking mutex tells whether the calling thread holds it. */
static void object_lock_init(pthread_mutex_t *m)
{
	pthread_mutexattr_t a;
	pthread_mutexattr_init(&a);
	pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
	CHECK_EQ(pthread_mutex_init(m, &a), 0);
	pthread_mutexattr_destroy(&a);
}

static bool i_hold(pthread_mutex_t *m)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 2;
	int rc = pthread_mutex_timedlock(m, &ts);
	if (rc == 0)
		pthread_mutex_unlock(m);
	return rc == EDEADLK;
}

/* ---- arguments and errors ----------------------------------------------- */

static void new_rejects_bad_arguments(void)
{
	vev_loop *loop = new_loop();
	vev_queue *q = NULL;
	CHECK_EQ(vev_queue_new(NULL, loop, 4, 0, record, NULL, NULL, NULL),
		 -EINVAL);
	CHECK_EQ(vev_queue_new(&q, NULL, 4, 0, record, NULL, NULL, NULL),
		 -EINVAL);
	CHECK(strstr(vev_last_error(), "loop is NULL") != NULL);
	CHECK_EQ(vev_queue_new(&q, loop, 4, 0, NULL, NULL, NULL, NULL),
		 -EINVAL);
	CHECK_EQ(vev_queue_new(&q, loop, 0, 0, record, NULL, NULL, NULL),
		 -EINVAL);
	CHECK(strstr(vev_last_error(), "capacity 0") != NULL);
	CHECK_EQ(vev_queue_new(&q, loop, (1u << 30) + 1, 0, record, NULL, NULL,
			       NULL),
		 -EINVAL);
	CHECK_EQ(vev_queue_new(&q, loop, 4, 1u << 5, record, NULL, opaque_free,
			       NULL),
		 -EINVAL);
	CHECK(strstr(vev_last_error(), "unknown flags") != NULL);
	CHECK(q == NULL);
	CHECK_EQ(counter_get(&opaque_frees), 0);
	/* Nothing was registered on the loop. */
	CHECK_EQ(lstat_(loop, VEV_STAT_TIMERS), 0);
	CHECK_EQ(vev_loop_free(loop), 0);
}

static void null_queue_is_an_error(void)
{
	int status = 5;
	uint64_t v;
	CHECK_EQ(vev_queue_post(NULL, &v), -EINVAL);
	CHECK_EQ(vev_queue_close(NULL), -EINVAL);
	CHECK_EQ(vev_queue_sync_begin(NULL), -EINVAL);
	CHECK_EQ(vev_queue_sync_wait(NULL, NULL, 0, &status), -EINVAL);
	CHECK_EQ(status, -1);
	CHECK_EQ(vev_queue_sync_end(NULL, &status), -EINVAL);
	CHECK_EQ(vev_queue_stat(NULL, VEV_QUEUE_STAT_POSTED, &v), -EINVAL);
	CHECK_EQ(vev_queue_free(NULL), 0);

	vev_loop *loop = new_loop();
	vev_queue *q = new_queue(loop, 4, 0, record, NULL);
	CHECK_EQ(vev_queue_stat(q, VEV_QUEUE_STAT_COUNT_, &v), -EINVAL);
	CHECK_EQ(vev_queue_stat(q, (enum vev_queue_stat)-1, &v), -EINVAL);
	CHECK_EQ(vev_queue_stat(q, VEV_QUEUE_STAT_POSTED, NULL), -EINVAL);
	free_queue_and_loop(q, loop);
}

/* ---- asynchronous delivery ---------------------------------------------- */

struct producer_arg {
	vev_queue *q;
	int producer;
	int count;
	long rejected;
};

static void *produce(void *arg)
{
	struct producer_arg *a = arg;
	for (int i = 0; i < a->count; i++) {
		struct ev *e = ev_new(a->producer, i, 0);
		int rc;
		/* Back-pressure: a full queue refuses and we keep the event. */
		while ((rc = vev_queue_post(a->q, e)) == -EAGAIN) {
			a->rejected++;
			sched_yield();
		}
		CHECK_EQ(rc, 0);
	}
	return NULL;
}

static void posts_from_a_thread_are_delivered_in_order_on_the_loop_thread(void)
{
	enum { N = 3000 };
	vev_loop *loop = new_loop();
	vev_queue *q = new_queue(loop, 128, 0, record, NULL);
	struct producer_arg a = { q, 0, N, 0 };
	pthread_t t;
	CHECK_EQ(pthread_create(&t, NULL, produce, &a), 0);
	/* The loop runs here; every iteration blocks until something is
	 * due, so each delivery was woken by a post. */
	while (counter_get(&handled_count) < N)
		CHECK(vev_run_once(loop, VEV_WAIT_FOREVER) >= 0);
	pthread_join(t, NULL);
	CHECK_EQ(log_len(&handled), N);
	check_sequence(&handled, 0, 0, N);
	for (int i = 0; i < N; i++)
		CHECK(pthread_equal(handled.thread[i], pthread_self()));
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_DELIVERED), N);
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_REJECTED), a.rejected);
	CHECK_EQ(log_len(&freed), 0);
	free_queue_and_loop(q, loop);
}

static void posts_before_the_loop_runs_cost_one_wakeup(void)
{
	enum { N = 1000 };
	vev_loop *loop = new_loop();
	vev_queue *q = new_queue(loop, N, 0, record, NULL);
	for (int i = 0; i < N; i++)
		CHECK_EQ(vev_queue_post(q, ev_new(0, i, 0)), 0);
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_WAKEUPS), 1);
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_QUEUED), N);
	/* One timer callback delivers them all, in order. */
	CHECK_EQ(vev_run_once(loop, 0), 1);
	CHECK_EQ(lstat_(loop, VEV_STAT_TIMER_CALLS), 1);
	CHECK_EQ(log_len(&handled), N);
	check_sequence(&handled, 0, 0, N);
	/* Empty again: the timer is disarmed and nothing more fires. */
	CHECK_EQ(vev_run_once(loop, 0), 0);
	CHECK_EQ(vev_run_once(loop, 1), 0);
	CHECK_EQ(lstat_(loop, VEV_STAT_TIMER_CALLS), 1);
	/* The next post arms it again. */
	CHECK_EQ(vev_queue_post(q, ev_new(0, N, 0)), 0);
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_WAKEUPS), 2);
	CHECK_EQ(vev_run_once(loop, VEV_WAIT_FOREVER), 1);
	CHECK_EQ(log_len(&handled), N + 1);
	free_queue_and_loop(q, loop);
}

/* The first delivery blocks until the test lets it go, so that everything
 * posted meanwhile finds the timer armed. */
static struct counter gate_entered = COUNTER_INIT, gate_open = COUNTER_INIT;

static int record_gated(vev_queue *q, void *payload, void *opaque)
{
	if (((struct ev *)payload)->seq == 0) {
		counter_add(&gate_entered, 1);
		counter_wait(&gate_open, 1);
	}
	return record(q, payload, opaque);
}

static long loop_thread_target;

/* Runs the loop until that many events were handled. */
static void *run_loop_until_handled(void *arg)
{
	while (counter_get(&handled_count) < loop_thread_target)
		CHECK(vev_run_once(arg, VEV_WAIT_FOREVER) >= 0);
	return NULL;
}

static void burst_while_the_loop_is_blocked_wakes_it_once(void)
{
	enum { N = 1000 };
	vev_loop *loop = new_loop();
	vev_queue *q = new_queue(loop, N, 0, record_gated, NULL);
	pthread_t t;
	loop_thread_target = N;
	CHECK_EQ(pthread_create(&t, NULL, run_loop_until_handled, loop), 0);
	while (!vev__test_is_polling(loop))
		sched_yield();
	CHECK_EQ(vev_queue_post(q, ev_new(0, 0, 0)), 0);
	counter_wait(&gate_entered, 1);
	for (int i = 1; i < N; i++)
		CHECK_EQ(vev_queue_post(q, ev_new(0, i, 0)), 0);
	counter_add(&gate_open, 1);
	counter_wait(&handled_count, N);
	pthread_join(t, NULL);
	/* One arming, one kernel wake-up, for the whole burst; the first
	 * timer callback delivered only what was there when it started. */
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_WAKEUPS), 1);
	CHECK_EQ(lstat_(loop, VEV_STAT_WAKEUPS), 1);
	CHECK_EQ(lstat_(loop, VEV_STAT_TIMER_CALLS), 2);
	check_sequence(&handled, 0, 0, N);
	CHECK(!pthread_equal(handled.thread[0], pthread_self()));
	free_queue_and_loop(q, loop);
}

/* Each delivery posts the next event: each iteration must deliver one and
 * return, not chase the queue forever. */
static int record_and_post_next(vev_queue *q, void *payload, void *opaque)
{
	int seq = ((struct ev *)payload)->seq;
	record(q, payload, opaque);
	CHECK_EQ(vev_queue_post(q, ev_new(0, seq + 1, 0)), 0);
	return 0;
}

static void a_callback_that_posts_cannot_starve_the_loop(void)
{
	vev_loop *loop = new_loop();
	vev_queue *q = new_queue(loop, 4, 0, record_and_post_next, NULL);
	CHECK_EQ(vev_queue_post(q, ev_new(0, 0, 0)), 0);
	for (int i = 1; i <= 100; i++) {
		CHECK_EQ(vev_run_once(loop, VEV_WAIT_FOREVER), 1);
		CHECK_EQ(log_len(&handled), i);
		CHECK_EQ(qstat(q, VEV_QUEUE_STAT_QUEUED), 1);
	}
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_WAKEUPS), 1);
	check_sequence(&handled, 0, 0, 100);
	/* The one left is freed with the queue. */
	free_queue_and_loop(q, loop);
	CHECK_EQ(log_len(&freed), 1);
	CHECK_EQ(freed.seq[0], 100);
}

static void post_never_allocates(void)
{
	vev_loop *loop = new_loop();
	vev_queue *q = new_queue(loop, 64, VEV_QUEUE_DROP_OLDEST, record,
				 NULL);
	struct ev *e[100];
	for (int i = 0; i < 100; i++)
		e[i] = ev_new(0, i, 0);
	/* Any allocation or system call from here would fail. */
	vev__fault_arm(1);
	for (int i = 0; i < 100; i++)
		CHECK_EQ(vev_queue_post(q, e[i]), 0);
	unsigned long ops = vev__fault_count();
	vev__fault_arm(0);
	CHECK_EQ(ops, 0);
	CHECK_EQ(vev_run_once(loop, 0), 1);
	CHECK_EQ(log_len(&handled), 64);
	CHECK_EQ(log_len(&freed), 36);
	free_queue_and_loop(q, loop);
}

/* Counters read from inside callbacks, in the middle of a delivery that
 * spans several of the loop thread's batches, still add up. */
static int check_counts_inside(vev_queue *q, void *payload, void *opaque)
{
	int seq = ((struct ev *)payload)->seq;
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_DELIVERED), seq + 1);
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_QUEUED), 299 - seq);
	check_stats_add_up(q);
	return record(q, payload, opaque);
}

static void statistics_add_up_during_delivery(void)
{
	vev_loop *loop = new_loop();
	vev_queue *q = new_queue(loop, 300, 0, check_counts_inside, NULL);
	for (int i = 0; i < 300; i++)
		CHECK_EQ(vev_queue_post(q, ev_new(0, i, 0)), 0);
	CHECK_EQ(vev_run_once(loop, 0), 1);
	CHECK_EQ(log_len(&handled), 300);
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_DELIVERED), 300);
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_QUEUED), 0);
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_POSTED), 300);
	free_queue_and_loop(q, loop);
}

/* ---- full queues -------------------------------------------------------- */

static void full_queue_rejects_and_the_caller_keeps_the_payload(void)
{
	vev_loop *loop = new_loop();
	vev_queue *q = new_queue(loop, 4, VEV_QUEUE_REJECT_WHEN_FULL, record,
				 NULL);
	for (int i = 0; i < 4; i++)
		CHECK_EQ(vev_queue_post(q, ev_new(0, i, 0)), 0);
	struct ev *extra = ev_new(0, 4, 0);
	CHECK_EQ(vev_queue_post(q, extra), -EAGAIN);
	CHECK(strstr(vev_last_error(), "full") != NULL);
	CHECK_EQ(log_len(&freed), 0);
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_REJECTED), 1);
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_QUEUED), 4);
	/* Held and queued events share the capacity. */
	CHECK_EQ(vev_queue_sync_begin(q), 0);
	CHECK_EQ(vev_queue_post(q, extra), -EAGAIN);
	CHECK_EQ(vev_run_once(loop, 0), 1);
	check_sequence(&handled, 0, 0, 4);
	CHECK_EQ(vev_queue_post(q, extra), 0);
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_HELD), 1);
	CHECK_EQ(vev_queue_sync_end(q, NULL), 1);
	check_sequence(&handled, 0, 0, 5);
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_REJECTED), 2);
	free_queue_and_loop(q, loop);
}

static void full_queue_drops_the_oldest(void)
{
	vev_loop *loop = new_loop();
	vev_queue *q = new_queue(loop, 4, VEV_QUEUE_DROP_OLDEST, record, NULL);
	for (int i = 0; i < 10; i++)
		CHECK_EQ(vev_queue_post(q, ev_new(0, i, 0)), 0);
	/* Dropped payloads are freed at once, on the posting thread. */
	CHECK_EQ(log_len(&freed), 6);
	check_sequence(&freed, 0, 0, 6);
	CHECK(pthread_equal(freed.thread[0], pthread_self()));
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_DROPPED), 6);
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_REJECTED), 0);
	CHECK_EQ(vev_run_once(loop, 0), 1);
	CHECK_EQ(log_len(&handled), 4);
	check_sequence(&handled, 0, 6, 4);
	free_queue_and_loop(q, loop);
}

static void drop_oldest_takes_events_waiting_for_the_loop_first(void)
{
	vev_loop *loop = new_loop();
	vev_queue *q = new_queue(loop, 4, VEV_QUEUE_DROP_OLDEST, record, NULL);
	CHECK_EQ(vev_queue_post(q, ev_new(0, 0, 0)), 0); /* for the loop */
	CHECK_EQ(vev_queue_post(q, ev_new(0, 1, 0)), 0);
	CHECK_EQ(vev_queue_sync_begin(q), 0);
	for (int i = 2; i < 7; i++)                       /* held */
		CHECK_EQ(vev_queue_post(q, ev_new(0, i, i)), 0);
	/* 0 and 1 went first, then the oldest held one, 2. */
	CHECK_EQ(log_len(&freed), 3);
	check_sequence(&freed, 0, 0, 3);
	CHECK_EQ(vev_run_once(loop, 0), 1); /* the timer finds nothing */
	CHECK_EQ(log_len(&handled), 0);
	int status;
	CHECK_EQ(vev_queue_sync_wait(q, NULL, 0, &status), 1);
	CHECK_EQ(status, 6);
	check_sequence(&handled, 0, 3, 4);
	CHECK_EQ(vev_queue_sync_end(q, &status), 0);
	CHECK_EQ(status, -1);
	free_queue_and_loop(q, loop);
}

/* The loop thread takes every queued event at once and blocks in the first
 * callback: producers have the whole capacity again while it works through
 * what it took (which still counts as queued). */
static void capacity_counts_waiting_events_not_the_loops_batch(void)
{
	vev_loop *loop = new_loop();
	vev_queue *q = new_queue(loop, 4, 0, record_gated, NULL);
	for (int i = 0; i < 4; i++)
		CHECK_EQ(vev_queue_post(q, ev_new(0, i, 0)), 0);
	CHECK_EQ(vev_loop_start_thread(loop), 0);
	counter_wait(&gate_entered, 1);
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_QUEUED), 3);
	for (int i = 4; i < 8; i++)
		CHECK_EQ(vev_queue_post(q, ev_new(0, i, 0)), 0);
	struct ev *extra = ev_new(0, 8, 0);
	CHECK_EQ(vev_queue_post(q, extra), -EAGAIN);
	free(extra);
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_QUEUED), 7);
	check_stats_add_up(q);
	counter_add(&gate_open, 1);
	counter_wait(&handled_count, 8);
	CHECK_EQ(vev_loop_stop_thread(loop), 0);
	check_sequence(&handled, 0, 0, 8);
	free_queue_and_loop(q, loop);
}

/* The same with DROP_OLDEST: what the loop thread took is on its way to
 * the callback; the oldest of the waiting ones are dropped. */
static void drop_oldest_drops_waiting_events_not_the_loops_batch(void)
{
	vev_loop *loop = new_loop();
	vev_queue *q = new_queue(loop, 4, VEV_QUEUE_DROP_OLDEST, record_gated,
				 NULL);
	for (int i = 0; i < 4; i++)
		CHECK_EQ(vev_queue_post(q, ev_new(0, i, 0)), 0);
	CHECK_EQ(vev_loop_start_thread(loop), 0);
	counter_wait(&gate_entered, 1);
	for (int i = 4; i < 10; i++)
		CHECK_EQ(vev_queue_post(q, ev_new(0, i, 0)), 0);
	CHECK_EQ(log_len(&freed), 2);
	check_sequence(&freed, 0, 4, 2);
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_DROPPED), 2);
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_DELIVERED), 1);
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_QUEUED), 7);
	check_stats_add_up(q);
	counter_add(&gate_open, 1);
	counter_wait(&handled_count, 8);
	CHECK_EQ(vev_loop_stop_thread(loop), 0);
	check_sequence(&handled, 0, 0, 4);
	check_sequence(&handled, 4, 6, 4);
	CHECK_EQ(log_len(&handled), 8);
	free_queue_and_loop(q, loop);
}

/* ---- closing and destruction -------------------------------------------- */

static void close_refuses_later_posts_and_delivers_queued_ones(void)
{
	vev_loop *loop = new_loop();
	vev_queue *q = new_queue(loop, 8, 0, record, NULL);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(vev_queue_post(q, ev_new(0, i, 0)), 0);
	CHECK_EQ(vev_queue_close(q), 0);
	CHECK_EQ(vev_queue_close(q), 0);
	struct ev *late = ev_new(0, 3, 0);
	CHECK_EQ(vev_queue_post(q, late), -EPIPE);
	CHECK(strstr(vev_last_error(), "the queue's producer side is closed") !=
	      NULL);
	free(late);
	CHECK_EQ(vev_run_once(loop, 0), 1);
	check_sequence(&handled, 0, 0, 3);
	CHECK_EQ(log_len(&handled), 3);
	free_queue_and_loop(q, loop);
}

static void free_with_events_pending_frees_every_payload(void)
{
	vev_loop *loop = new_loop();
	vev_queue *q = new_queue(loop, 200, 0, record, NULL);
	for (int i = 0; i < 100; i++)
		CHECK_EQ(vev_queue_post(q, ev_new(0, i, 0)), 0);
	CHECK_EQ(vev_queue_sync_begin(q), 0);
	for (int i = 100; i < 150; i++)
		CHECK_EQ(vev_queue_post(q, ev_new(0, i, 0)), 0);
	CHECK_EQ(vev_queue_free(q), 0);
	/* Payloads on the calling thread before returning, oldest first;
	 * the rest when the loop runs the timer's free callback. */
	CHECK_EQ(log_len(&freed), 150);
	check_sequence(&freed, 0, 0, 150);
	CHECK_EQ(counter_get(&opaque_frees), 0);
	CHECK_EQ(lstat_(loop, VEV_STAT_PENDING_FREES), 1);
	CHECK_EQ(vev_run_once(loop, 0), 0);
	CHECK_EQ(counter_get(&opaque_frees), 1);
	CHECK(pthread_equal(opaque_free_thread, pthread_self()));
	CHECK_EQ(log_len(&handled), 0);
	CHECK_EQ(lstat_(loop, VEV_STAT_TIMERS), 0);
	CHECK_EQ(vev_loop_verify(loop), 0);
	CHECK_EQ(vev_loop_free(loop), 0);
}

/* All posted before the loop thread starts, so the delivery has taken a
 * batch of them out of the ring when its first callback blocks: free must
 * get both the rest of that batch and the ring. */
static void free_while_the_loop_thread_delivers(void)
{
	enum { N = 100 };
	vev_loop *loop = new_loop();
	vev_queue *q = new_queue(loop, N, 0, record_gated, NULL);
	for (int i = 0; i < N; i++)
		CHECK_EQ(vev_queue_post(q, ev_new(0, i, 0)), 0);
	CHECK_EQ(vev_loop_start_thread(loop), 0);
	counter_wait(&gate_entered, 1);
	/* The loop thread is inside the callback for event 0. */
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_DELIVERED), 1);
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_QUEUED), N - 1);
	CHECK_EQ(vev_queue_free(q), 0);
	CHECK_EQ(log_len(&freed), N - 1);
	check_sequence(&freed, 0, 1, N - 1);
	/* The memory is not released under the running callback. */
	CHECK_EQ(counter_get(&opaque_frees), 0);
	counter_add(&gate_open, 1);
	counter_wait(&opaque_frees, 1);
	CHECK_EQ(log_len(&handled), 1);
	CHECK_EQ(handled.seq[0], 0);
	CHECK(pthread_equal(opaque_free_thread, handled.thread[0]));
	CHECK_EQ(vev_loop_stop_thread(loop), 0);
	CHECK_EQ(lstat_(loop, VEV_STAT_TIMERS), 0);
	CHECK_EQ(vev_loop_verify(loop), 0);
	CHECK_EQ(vev_loop_free(loop), 0);
	CHECK_EQ(counter_get(&opaque_frees), 1);
}

static int inner_rc[4];

static int try_forbidden_calls(vev_queue *q, void *payload, void *opaque)
{
	int status;
	inner_rc[0] = vev_queue_free(q);
	inner_rc[1] = vev_queue_sync_wait(q, NULL, 0, &status);
	inner_rc[2] = vev_queue_sync_end(q, &status);
	inner_rc[3] = vev_queue_post(q, ev_new(0, 99, 0));
	return record(q, payload, opaque);
}

static void calls_refused_from_the_queues_own_callbacks(void)
{
	vev_loop *loop = new_loop();
	vev_queue *q = new_queue(loop, 8, 0, try_forbidden_calls, NULL);
	/* Delivered by the loop: free is refused; sync calls are not in
	 * synchronous mode; posting is fine. */
	CHECK_EQ(vev_queue_post(q, ev_new(0, 0, 0)), 0);
	CHECK_EQ(vev_run_once(loop, 0), 1);
	CHECK_EQ(inner_rc[0], -EBUSY);
	CHECK_EQ(inner_rc[1], -EINVAL);
	CHECK_EQ(inner_rc[2], -EINVAL);
	CHECK_EQ(inner_rc[3], 0);
	/* Processed by a wait: free, wait and end are refused. */
	CHECK_EQ(vev_queue_sync_begin(q), 0);
	CHECK_EQ(vev_queue_sync_begin(q), -EBUSY);
	CHECK(strstr(vev_last_error(), "already in synchronous mode") != NULL);
	CHECK_EQ(vev_queue_post(q, ev_new(0, 1, 0)), 0);
	int status;
	memset(inner_rc, 0, sizeof(inner_rc));
	CHECK_EQ(vev_queue_sync_wait(q, NULL, 0, &status), 1);
	CHECK_EQ(inner_rc[0], -EBUSY);
	CHECK_EQ(inner_rc[1], -EBUSY);
	CHECK_EQ(inner_rc[2], -EBUSY);
	CHECK_EQ(inner_rc[3], 0); /* held */
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_HELD), 1);
	/* ... and by an end.  Seq 99 from the wait is processed here; the
	 * one its callback posts goes to the loop. */
	CHECK_EQ(vev_queue_sync_end(q, &status), 1);
	CHECK_EQ(inner_rc[0], -EBUSY);
	CHECK_EQ(inner_rc[2], -EBUSY);
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_HELD), 0);
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_QUEUED), 2);
	CHECK_EQ(vev_queue_close(q), 0);
	free_queue_and_loop(q, loop);
	CHECK_EQ(log_len(&freed), 2);
}

static void loop_freed_before_the_queue(void)
{
	vev_loop *loop = new_loop();
	vev_queue *q = new_queue(loop, 8, 0, record, NULL);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(vev_queue_post(q, ev_new(0, i, 0)), 0);
	CHECK_EQ(vev_loop_free(loop), 0);
	/* The queue lives on, closed; nothing was delivered or freed. */
	CHECK_EQ(counter_get(&opaque_frees), 0);
	CHECK_EQ(log_len(&freed), 0);
	struct ev *late = ev_new(0, 3, 0);
	CHECK_EQ(vev_queue_post(q, late), -EPIPE);
	CHECK(strstr(vev_last_error(), "loop was freed") != NULL);
	free(late);
	int status;
	CHECK_EQ(vev_queue_sync_begin(q), 0);
	CHECK_EQ(vev_queue_sync_wait(q, NULL, -1, &status), -EPIPE);
	CHECK_EQ(vev_queue_sync_end(q, &status), 0);
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_QUEUED), 3);
	check_stats_add_up(q);
	CHECK_EQ(vev_queue_free(q), 0);
	/* Everything on this thread, now. */
	CHECK_EQ(log_len(&freed), 3);
	CHECK_EQ(counter_get(&opaque_frees), 1);
	CHECK(pthread_equal(opaque_free_thread, pthread_self()));
}

/* Every allocation of vev_queue_new (its own and the loop's for the timer)
 * fails in turn: a clean -ENOMEM, nothing registered, nothing leaked (the
 * sanitizer builds check that), opaque_ff not called; then the loop and a
 * new queue work. */
static void new_fails_cleanly_at_every_allocation(void)
{
	unsigned long k;
	for (k = 1;; k++) {
		vev_loop *loop = new_loop();
		vev_queue *q = NULL;
		vev__fault_arm(k);
		int rc = vev_queue_new(&q, loop, 16, 0, record, NULL,
				       opaque_free, payload_free);
		unsigned long seen = vev__fault_count();
		vev__fault_arm(0);
		if (rc < 0) {
			CHECK_EQ(rc, -ENOMEM);
			CHECK(strstr(vev_last_error(), "out of memory") != NULL);
			CHECK(q == NULL);
			CHECK_EQ(lstat_(loop, VEV_STAT_TIMERS), 0);
			CHECK_EQ(counter_get(&opaque_frees), 0);
			q = new_queue(loop, 16, 0, record, NULL);
		}
		CHECK_EQ(vev_queue_post(q, ev_new(0, 0, 0)), 0);
		CHECK_EQ(vev_run_once(loop, 0), 1);
		free_queue_and_loop(q, loop);
		counter_set(&opaque_frees, 0);
		if (seen < k)
			break;
	}
	CHECK(k > 3);
	printf("faults injected: %lu sites\n", k - 1);
}

/* ---- synchronous mode --------------------------------------------------- */

/* A domain object with its lock, and a block job whose events are produced
 * on the loop thread by timers and by a monitor thread, each taking the
 * domain's lock to post as libvirt's event handlers do.  The worker follows
 * the pattern of libvirt's block-job helpers. */
enum job_event { JOB_PROGRESS, JOB_READY, JOB_COMPLETED, UNRELATED };

struct domain {
	pthread_mutex_t lock;
	vev_loop *loop;
	vev_queue *events;
	pthread_t worker, monitor;
	struct counter progress_posted;
	int timers_left;
	int processed[8];   /* events in the order the worker processed them */
	int n_processed;
	int async_seen;     /* job events that reached the loop's delivery */
	int unrelated_seen;
	int periodic_work;
};

static struct domain dom = {
	.progress_posted = COUNTER_INIT,
};

static _Thread_local bool on_worker;

static int job_event_cb(vev_queue *q, void *payload, void *opaque)
{
	struct domain *d = opaque;
	struct ev *e = payload;
	int kind = e->seq, status = e->status;
	free(e);
	if (!on_worker) {
		/* Delivered by the loop: an event handler locks the object. */
		pthread_mutex_lock(&d->lock);
		if (kind == UNRELATED)
			d->unrelated_seen++;
		else
			d->async_seen++;
		pthread_mutex_unlock(&d->lock);
		counter_add(&handled_count, 1);
		return 0;
	}
	/* Processed by the waiting worker: it holds the lock for us. */
	CHECK(i_hold(&d->lock));
	if (d->n_processed < 8)
		d->processed[d->n_processed] = kind;
	d->n_processed++;
	return status; /* -1 until the job completes */
}

static void post_locked(struct domain *d, int kind, int status)
{
	pthread_mutex_lock(&d->lock);
	CHECK_EQ(vev_queue_post(d->events, ev_new(0, kind, status)), 0);
	pthread_mutex_unlock(&d->lock);
}

/* On the loop thread: the job reports progress twice. */
static void job_progress_timer(int timer, void *opaque)
{
	struct domain *d = opaque;
	post_locked(d, JOB_PROGRESS, -1);
	vev_remove_timer(d->loop, timer);
	counter_add(&d->progress_posted, 1);
}

/* Another thread: the job is ready, then completed with status 5. */
static void *job_monitor(void *arg)
{
	struct domain *d = arg;
	counter_wait(&d->progress_posted, 2);
	post_locked(d, JOB_READY, -1);
	post_locked(d, JOB_COMPLETED, 5);
	return NULL;
}

static int start_job(struct domain *d)
{
	if (vev_add_timer(d->loop, 20, job_progress_timer, d, NULL) < 0 ||
	    vev_add_timer(d->loop, 40, job_progress_timer, d, NULL) < 0)
		return -1;
	return pthread_create(&d->monitor, NULL, job_monitor, d) == 0 ? 0 : -1;
}

static int worker_result;

static void *worker(void *arg)
{
	struct domain *d = arg;
	int status;

	on_worker = true;
	pthread_mutex_lock(&d->lock);
	CHECK_EQ(vev_queue_sync_begin(d->events), 0);
	if (start_job(d) < 0)
		goto error;
	do {
		d->periodic_work++; /* other periodic work, lock held */
		if (vev_queue_sync_wait(d->events, &d->lock, 500, &status) < 0)
			goto error;
		CHECK(i_hold(&d->lock));
	} while (status == -1);
	CHECK_EQ(vev_queue_sync_end(d->events, NULL), 0);
	worker_result = status;
	pthread_mutex_unlock(&d->lock);
	return NULL;
error:
	worker_result = -1000;
	vev_queue_sync_end(d->events, NULL);
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

static void sync_job_pattern(void)
{
	struct domain *d = &dom;
	object_lock_init(&d->lock);
	d->loop = new_loop();
	d->events = new_queue(d->loop, 16, 0, job_event_cb, d);
	CHECK_EQ(vev_loop_start_thread(d->loop), 0);

	/* Before the region: delivered by the loop. */
	post_locked(d, UNRELATED, 0);
	counter_wait(&handled_count, 1);

	CHECK_EQ(pthread_create(&d->worker, NULL, worker, d), 0);
	pthread_join(d->worker, NULL);
	pthread_join(d->monitor, NULL);
	CHECK_EQ(worker_result, 5);
	CHECK_EQ(d->n_processed, 4);
	CHECK_EQ(d->processed[0], JOB_PROGRESS);
	CHECK_EQ(d->processed[1], JOB_PROGRESS);
	CHECK_EQ(d->processed[2], JOB_READY);
	CHECK_EQ(d->processed[3], JOB_COMPLETED);
	CHECK(d->periodic_work >= 1 && d->periodic_work <= 4);

	/* After the region: the loop again. */
	post_locked(d, UNRELATED, 0);
	counter_wait(&handled_count, 2);
	CHECK_EQ(d->async_seen, 0);
	CHECK_EQ(d->unrelated_seen, 2);
	CHECK_EQ(qstat(d->events, VEV_QUEUE_STAT_PROCESSED), 4);
	CHECK_EQ(qstat(d->events, VEV_QUEUE_STAT_DELIVERED), 2);
	CHECK_EQ(vev_loop_stop_thread(d->loop), 0);
	free_queue_and_loop(d->events, d->loop);
	pthread_mutex_destroy(&d->lock);
}

static void sync_wait_times_out(void)
{
	pthread_mutex_t lock;
	object_lock_init(&lock);
	vev_loop *loop = new_loop();
	vev_queue *q = new_queue(loop, 4, 0, record, NULL);
	int status = 7;

	pthread_mutex_lock(&lock);
	CHECK_EQ(vev_queue_sync_begin(q), 0);
	int64_t t0 = test_now_ms();
	CHECK_EQ(vev_queue_sync_wait(q, &lock, 0, &status), 0);
	CHECK_EQ(status, -1);
	CHECK(test_now_ms() - t0 < 50);
	status = 7;
	t0 = test_now_ms();
	CHECK_EQ(vev_queue_sync_wait(q, &lock, 60, &status), 0);
	int64_t waited = test_now_ms() - t0;
	CHECK_EQ(status, -1);
	CHECK(waited >= 60); /* never early */
	CHECK(waited < 5000);
	CHECK(i_hold(&lock));
	/* After a timeout, a held event is still processed by the next
	 * wait. */
	CHECK_EQ(vev_queue_post(q, ev_new(0, 0, 3)), 0);
	CHECK_EQ(vev_queue_sync_wait(q, &lock, 60, &status), 1);
	CHECK_EQ(status, 3);
	CHECK_EQ(vev_queue_sync_end(q, &status), 0);
	CHECK_EQ(status, -1);
	pthread_mutex_unlock(&lock);
	free_queue_and_loop(q, loop);
	pthread_mutex_destroy(&lock);
}

struct closer_arg {
	pthread_mutex_t *lock;
	vev_queue *q;
};

static void *close_under_lock(void *arg)
{
	struct closer_arg *c = arg;
	/* Gets the lock only once the worker waits (it releases it). */
	pthread_mutex_lock(c->lock);
	CHECK_EQ(vev_queue_close(c->q), 0);
	pthread_mutex_unlock(c->lock);
	return NULL;
}

static void producer_closed_while_a_worker_waits(void)
{
	pthread_mutex_t lock;
	object_lock_init(&lock);
	pthread_t t;
	int status = 7;

	/* Waiting without and with a time limit. */
	for (int timeout = -1; timeout <= 20000; timeout += 20001) {
		vev_loop *loop = new_loop();
		vev_queue *q = new_queue(loop, 4, 0, record, NULL);
		struct closer_arg c = { &lock, q };
		pthread_mutex_lock(&lock);
		CHECK_EQ(vev_queue_sync_begin(q), 0);
		CHECK_EQ(pthread_create(&t, NULL, close_under_lock, &c), 0);
		int64_t t0 = test_now_ms();
		CHECK_EQ(vev_queue_sync_wait(q, &lock, timeout, &status),
			 -EPIPE);
		CHECK(test_now_ms() - t0 < 10000);
		CHECK(strstr(vev_last_error(),
			     "the queue's producer side is closed") != NULL);
		CHECK_EQ(status, -1);
		CHECK(i_hold(&lock));
		/* Closed stays closed. */
		CHECK_EQ(vev_queue_sync_wait(q, &lock, timeout, &status),
			 -EPIPE);
		CHECK_EQ(vev_queue_sync_end(q, &status), 0);
		pthread_mutex_unlock(&lock);
		pthread_join(t, NULL);
		struct ev *late = ev_new(0, 0, 0);
		CHECK_EQ(vev_queue_post(q, late), -EPIPE);
		free(late);
		free_queue_and_loop(q, loop);
	}
	pthread_mutex_destroy(&lock);
}

static void close_lets_held_events_be_processed_first(void)
{
	vev_loop *loop = new_loop();
	vev_queue *q = new_queue(loop, 4, 0, record, NULL);
	int status;
	CHECK_EQ(vev_queue_sync_begin(q), 0);
	CHECK_EQ(vev_queue_post(q, ev_new(0, 0, -1)), 0);
	CHECK_EQ(vev_queue_post(q, ev_new(0, 1, 4)), 0);
	CHECK_EQ(vev_queue_close(q), 0);
	CHECK_EQ(vev_queue_sync_wait(q, NULL, -1, &status), 1);
	CHECK_EQ(status, 4);
	CHECK_EQ(vev_queue_sync_wait(q, NULL, -1, &status), -EPIPE);
	CHECK_EQ(status, -1);
	CHECK_EQ(vev_queue_sync_end(q, &status), 0);
	check_sequence(&handled, 0, 0, 2);
	free_queue_and_loop(q, loop);
}

static void held_events_never_reach_the_loop(void)
{
	vev_loop *loop = new_loop();
	vev_queue *q = new_queue(loop, 8, 0, record, NULL);
	int status;
	CHECK_EQ(vev_queue_sync_begin(q), 0);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(vev_queue_post(q, ev_new(0, i, i)), 0);
	CHECK_EQ(vev_run_once(loop, 0), 0);
	CHECK_EQ(vev_run_once(loop, 1), 0);
	CHECK_EQ(log_len(&handled), 0);
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_HELD), 3);
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_WAKEUPS), 0);
	CHECK_EQ(lstat_(loop, VEV_STAT_TIMER_CALLS), 0);
	CHECK_EQ(vev_queue_sync_wait(q, NULL, 0, &status), 1);
	CHECK_EQ(status, 2);
	check_sequence(&handled, 0, 0, 3);
	CHECK_EQ(vev_queue_sync_end(q, NULL), 0);
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_PROCESSED), 3);
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_DELIVERED), 0);
	free_queue_and_loop(q, loop);
}

static void several_waits_in_one_region(void)
{
	vev_loop *loop = new_loop();
	vev_queue *q = new_queue(loop, 8, 0, record, NULL);
	int status;
	CHECK_EQ(vev_queue_sync_begin(q), 0);
	CHECK_EQ(vev_queue_post(q, ev_new(0, 0, -1)), 0);
	CHECK_EQ(vev_queue_sync_wait(q, NULL, 0, &status), 1);
	CHECK_EQ(status, -1); /* processed, but "not done yet" */
	status = 9;
	CHECK_EQ(vev_queue_sync_wait(q, NULL, 0, &status), 0);
	CHECK_EQ(status, -1);
	CHECK_EQ(vev_queue_post(q, ev_new(0, 1, 2)), 0);
	CHECK_EQ(vev_queue_sync_wait(q, NULL, 0, &status), 1);
	CHECK_EQ(status, 2);
	CHECK_EQ(vev_queue_post(q, ev_new(0, 2, 4)), 0);
	CHECK_EQ(vev_queue_post(q, ev_new(0, 3, 5)), 0);
	CHECK_EQ(vev_queue_sync_wait(q, NULL, 0, &status), 1);
	CHECK_EQ(status, 5); /* the last one's */
	CHECK_EQ(vev_queue_sync_end(q, &status), 0);
	CHECK_EQ(status, -1);
	check_sequence(&handled, 0, 0, 4);
	/* A second region on the same queue. */
	CHECK_EQ(vev_queue_sync_begin(q), 0);
	CHECK_EQ(vev_queue_post(q, ev_new(0, 4, 8)), 0);
	CHECK_EQ(vev_queue_sync_wait(q, NULL, 0, &status), 1);
	CHECK_EQ(status, 8);
	CHECK_EQ(vev_queue_sync_end(q, NULL), 0);
	CHECK_EQ(vev_run_once(loop, 0), 0);
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_DELIVERED), 0);
	free_queue_and_loop(q, loop);
}

static void end_processes_what_is_held(void)
{
	vev_loop *loop = new_loop();
	vev_queue *q = new_queue(loop, 8, 0, record, NULL);
	int status = 0;
	CHECK_EQ(vev_queue_sync_begin(q), 0);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(vev_queue_post(q, ev_new(0, i, 10 + i)), 0);
	CHECK_EQ(vev_queue_sync_end(q, &status), 1);
	CHECK_EQ(status, 12);
	check_sequence(&handled, 0, 0, 3);
	for (int i = 0; i < 3; i++)
		CHECK(pthread_equal(handled.thread[i], pthread_self()));
	/* Out of synchronous mode: waits are errors, posts go to the loop. */
	CHECK_EQ(vev_queue_sync_wait(q, NULL, 0, &status), -EINVAL);
	CHECK(strstr(vev_last_error(), "not in synchronous mode") != NULL);
	CHECK_EQ(vev_queue_sync_end(q, &status), -EINVAL);
	CHECK_EQ(vev_queue_post(q, ev_new(0, 3, 0)), 0);
	CHECK_EQ(vev_run_once(loop, 0), 1);
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_DELIVERED), 1);
	check_sequence(&handled, 0, 0, 4);
	free_queue_and_loop(q, loop);
}

/* Processing event 10 posts two more: they are posted during the end, so
 * they go to the loop, behind the one posted before the region. */
static int record_and_post_two(vev_queue *q, void *payload, void *opaque)
{
	if (((struct ev *)payload)->seq == 10) {
		CHECK_EQ(vev_queue_post(q, ev_new(0, 11, 0)), 0);
		CHECK_EQ(vev_queue_post(q, ev_new(0, 12, 0)), 0);
	}
	return record(q, payload, opaque);
}

static void events_before_the_region_and_during_the_end_go_to_the_loop(void)
{
	vev_loop *loop = new_loop();
	vev_queue *q = new_queue(loop, 8, 0, record_and_post_two, NULL);
	int status;
	CHECK_EQ(vev_queue_post(q, ev_new(0, 0, 0)), 0);
	CHECK_EQ(vev_queue_sync_begin(q), 0);
	CHECK_EQ(vev_queue_post(q, ev_new(0, 10, 6)), 0);
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_QUEUED), 1);
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_HELD), 1);
	CHECK_EQ(vev_queue_sync_end(q, &status), 1);
	CHECK_EQ(status, 6);
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_QUEUED), 3);
	CHECK_EQ(vev_run_once(loop, 0), 1);
	CHECK_EQ(log_len(&handled), 4);
	CHECK_EQ(handled.seq[0], 10);
	CHECK_EQ(handled.seq[1], 0);
	CHECK_EQ(handled.seq[2], 11);
	CHECK_EQ(handled.seq[3], 12);
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_WAKEUPS), 1);
	free_queue_and_loop(q, loop);
}

struct waiter_arg {
	pthread_mutex_t *lock;
	vev_queue *q;
	int rc, status;
};

static void *wait_forever(void *arg)
{
	struct waiter_arg *w = arg;
	pthread_mutex_lock(w->lock);
	w->rc = vev_queue_sync_wait(w->q, w->lock, -1, &w->status);
	pthread_mutex_unlock(w->lock);
	return NULL;
}

static void one_wait_at_a_time(void)
{
	pthread_mutex_t lock;
	object_lock_init(&lock);
	vev_loop *loop = new_loop();
	vev_queue *q = new_queue(loop, 4, 0, record, NULL);
	struct waiter_arg w = { &lock, q, 0, 0 };
	pthread_t t;
	int status;

	CHECK_EQ(vev_queue_sync_wait(q, NULL, 0, NULL), -EINVAL);
	CHECK_EQ(vev_queue_sync_begin(q), 0);
	CHECK_EQ(vev_queue_sync_wait(q, NULL, 0, NULL), -EINVAL);
	CHECK_EQ(pthread_create(&t, NULL, wait_forever, &w), 0);
	/* Until the waiter is inside its wait, our own waits time out at
	 * once; then they are refused, and so are end and free. */
	for (bool posted = false; !posted;) {
		pthread_mutex_lock(&lock);
		int rc = vev_queue_sync_wait(q, NULL, 0, &status);
		if (rc == -EBUSY) {
			CHECK(strstr(vev_last_error(), "another") != NULL);
			CHECK_EQ(vev_queue_sync_end(q, &status), -EBUSY);
			CHECK_EQ(vev_queue_free(q), -EBUSY);
			CHECK_EQ(vev_queue_post(q, ev_new(0, 0, 3)), 0);
			posted = true;
		} else {
			CHECK_EQ(rc, 0);
		}
		pthread_mutex_unlock(&lock);
		sched_yield();
	}
	pthread_join(t, NULL);
	CHECK_EQ(w.rc, 1);
	CHECK_EQ(w.status, 3);
	CHECK_EQ(vev_queue_sync_end(q, NULL), 0);
	free_queue_and_loop(q, loop);
	pthread_mutex_destroy(&lock);
}

/* ---- many producers ----------------------------------------------------- */

enum { PRODUCERS = 4, PER_PRODUCER = 20000 };
static int next_seq[PRODUCERS];
static atomic_int out_of_order, wrong_thread;
static pthread_t consumer_thread;
static atomic_bool consumer_known;

static int count_in_order(vev_queue *q, void *payload, void *opaque)
{
	struct ev *e = payload;
	/* Only the loop thread runs this, so next_seq needs no lock. */
	if (!atomic_load(&consumer_known)) {
		consumer_thread = pthread_self();
		atomic_store(&consumer_known, true);
	} else if (!pthread_equal(consumer_thread, pthread_self())) {
		atomic_fetch_add(&wrong_thread, 1);
	}
	if (e->seq != next_seq[e->producer])
		atomic_fetch_add(&out_of_order, 1);
	next_seq[e->producer] = e->seq + 1;
	free(e);
	counter_add(&handled_count, 1);
	return 0;
}

static void many_producers_one_consumer_exactly_once_in_order(void)
{
	vev_loop *loop = new_loop();
	vev_queue *q = new_queue(loop, 256, 0, count_in_order, NULL);
	struct producer_arg a[PRODUCERS];
	pthread_t t[PRODUCERS];
	long rejected = 0;

	CHECK_EQ(vev_loop_start_thread(loop), 0);
	for (int i = 0; i < PRODUCERS; i++) {
		a[i] = (struct producer_arg){ q, i, PER_PRODUCER, 0 };
		CHECK_EQ(pthread_create(&t[i], NULL, produce, &a[i]), 0);
	}
	for (int i = 0; i < PRODUCERS; i++) {
		pthread_join(t[i], NULL);
		rejected += a[i].rejected;
	}
	counter_wait(&handled_count, PRODUCERS * PER_PRODUCER);
	CHECK_EQ(vev_loop_stop_thread(loop), 0);
	CHECK_EQ(counter_get(&handled_count), PRODUCERS * PER_PRODUCER);
	for (int i = 0; i < PRODUCERS; i++)
		CHECK_EQ(next_seq[i], PER_PRODUCER);
	CHECK_EQ(out_of_order, 0);
	CHECK_EQ(wrong_thread, 0);
	CHECK(!pthread_equal(consumer_thread, pthread_self()));
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_POSTED), PRODUCERS * PER_PRODUCER);
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_DELIVERED), PRODUCERS * PER_PRODUCER);
	CHECK_EQ(qstat(q, VEV_QUEUE_STAT_REJECTED), rejected);
	CHECK_EQ(log_len(&freed), 0);
	uint64_t wakeups = qstat(q, VEV_QUEUE_STAT_WAKEUPS);
	CHECK(wakeups >= 1 && wakeups <= PRODUCERS * PER_PRODUCER);
	printf("%d events, %llu loop wake-ups, %ld posts refused while full\n",
	       PRODUCERS * PER_PRODUCER, (unsigned long long)wakeups, rejected);
	free_queue_and_loop(q, loop);
}

/* With DROP_OLDEST nothing is refused: each event is delivered or freed,
 * exactly once, and what is delivered keeps each producer's order. */
static atomic_int dropped_by_producer[PRODUCERS];

static void count_drop(void *p)
{
	struct ev *e = p;
	atomic_fetch_add(&dropped_by_producer[e->producer], 1);
	free(e);
}

static int count_increasing(vev_queue *q, void *payload, void *opaque)
{
	struct ev *e = payload;
	if (e->seq < next_seq[e->producer])
		atomic_fetch_add(&out_of_order, 1);
	next_seq[e->producer] = e->seq + 1;
	free(e);
	counter_add(&handled_count, 1);
	return 0;
}

static void many_producers_drop_oldest_account_for_every_event(void)
{
	vev_loop *loop = new_loop();
	vev_queue *q = NULL;
	CHECK_EQ(vev_queue_new(&q, loop, 64, VEV_QUEUE_DROP_OLDEST,
			       count_increasing, NULL, opaque_free, count_drop),
		 0);
	struct producer_arg a[PRODUCERS];
	pthread_t t[PRODUCERS];

	CHECK_EQ(vev_loop_start_thread(loop), 0);
	for (int i = 0; i < PRODUCERS; i++) {
		a[i] = (struct producer_arg){ q, i, PER_PRODUCER, 0 };
		CHECK_EQ(pthread_create(&t[i], NULL, produce, &a[i]), 0);
	}
	for (int i = 0; i < PRODUCERS; i++) {
		pthread_join(t[i], NULL);
		CHECK_EQ(a[i].rejected, 0);
	}
	uint64_t dropped = qstat(q, VEV_QUEUE_STAT_DROPPED);
	counter_wait(&handled_count, PRODUCERS * PER_PRODUCER - (long)dropped);
	CHECK_EQ(vev_loop_stop_thread(loop), 0);
	long total_dropped = 0;
	for (int i = 0; i < PRODUCERS; i++)
		total_dropped += dropped_by_producer[i];
	CHECK_EQ(total_dropped, dropped);
	CHECK_EQ(counter_get(&handled_count) + total_dropped,
		 PRODUCERS * PER_PRODUCER);
	CHECK_EQ(out_of_order, 0);
	printf("%d events, %ld dropped\n", PRODUCERS * PER_PRODUCER,
	       total_dropped);
	free_queue_and_loop(q, loop);
}

/* Producers post while a worker goes in and out of synchronous regions:
 * every event is handled exactly once, by the loop or by the worker, and
 * each of the two sees each producer's events in order. */
enum { MIXED_PER_PRODUCER = 5000 };
static unsigned char handled_once[PRODUCERS][MIXED_PER_PRODUCER];
static int next_async[PRODUCERS], next_sync[PRODUCERS];
static atomic_int duplicates;
static pthread_t mixed_worker;
static _Thread_local bool on_mixed_worker;
static pthread_mutex_t mixed_lock = PTHREAD_MUTEX_INITIALIZER;

static int count_mixed(vev_queue *q, void *payload, void *opaque)
{
	struct ev *e = payload;
	bool sync = on_mixed_worker;
	/* The loop's deliveries may overlap the worker's processing of held
	 * events (those posted before a region began): the object lock
	 * serialises them, as a libvirt handler's would. */
	if (!sync)
		pthread_mutex_lock(&mixed_lock);
	int *next = sync ? next_sync : next_async;
	if (e->seq < next[e->producer])
		atomic_fetch_add(&out_of_order, 1);
	next[e->producer] = e->seq + 1;
	if (handled_once[e->producer][e->seq]++)
		atomic_fetch_add(&duplicates, 1);
	if (!sync)
		pthread_mutex_unlock(&mixed_lock);
	free(e);
	counter_add(&handled_count, 1);
	return 0;
}

static atomic_bool producers_done;

static void *mixed_worker_main(void *arg)
{
	vev_queue *q = arg;
	int status, regions = 0;
	on_mixed_worker = true;
	pthread_mutex_lock(&mixed_lock);
	while (!atomic_load(&producers_done) || regions < 3) {
		CHECK_EQ(vev_queue_sync_begin(q), 0);
		for (int i = 0; i < 3; i++)
			CHECK(vev_queue_sync_wait(q, &mixed_lock, 1, &status) >=
			      0);
		CHECK(vev_queue_sync_end(q, &status) >= 0);
		regions++;
		/* Let the loop deliver some. */
		pthread_mutex_unlock(&mixed_lock);
		sched_yield();
		pthread_mutex_lock(&mixed_lock);
	}
	pthread_mutex_unlock(&mixed_lock);
	printf("%d synchronous regions\n", regions);
	return NULL;
}

static void sync_regions_under_load_lose_nothing(void)
{
	vev_loop *loop = new_loop();
	vev_queue *q = new_queue(loop, 128, 0, count_mixed, NULL);
	struct producer_arg a[PRODUCERS];
	pthread_t t[PRODUCERS];

	CHECK_EQ(vev_loop_start_thread(loop), 0);
	CHECK_EQ(pthread_create(&mixed_worker, NULL, mixed_worker_main, q), 0);
	for (int i = 0; i < PRODUCERS; i++) {
		a[i] = (struct producer_arg){ q, i, MIXED_PER_PRODUCER, 0 };
		CHECK_EQ(pthread_create(&t[i], NULL, produce, &a[i]), 0);
	}
	for (int i = 0; i < PRODUCERS; i++)
		pthread_join(t[i], NULL);
	atomic_store(&producers_done, true);
	pthread_join(mixed_worker, NULL);
	counter_wait(&handled_count, PRODUCERS * MIXED_PER_PRODUCER);
	CHECK_EQ(vev_loop_stop_thread(loop), 0);
	CHECK_EQ(duplicates, 0);
	CHECK_EQ(out_of_order, 0);
	for (int p = 0; p < PRODUCERS; p++)
		for (int i = 0; i < MIXED_PER_PRODUCER; i++)
			CHECK_EQ(handled_once[p][i], 1);
	uint64_t processed = qstat(q, VEV_QUEUE_STAT_PROCESSED);
	uint64_t delivered = qstat(q, VEV_QUEUE_STAT_DELIVERED);
	CHECK_EQ(processed + delivered, PRODUCERS * MIXED_PER_PRODUCER);
	printf("%llu delivered by the loop, %llu processed by the worker\n",
	       (unsigned long long)delivered, (unsigned long long)processed);
	free_queue_and_loop(q, loop);
}

const struct test tests[] = {
	{ "new_rejects_bad_arguments", new_rejects_bad_arguments },
	{ "null_queue_is_an_error", null_queue_is_an_error },
	{ "posts_from_a_thread_are_delivered_in_order_on_the_loop_thread",
	  posts_from_a_thread_are_delivered_in_order_on_the_loop_thread },
	{ "posts_before_the_loop_runs_cost_one_wakeup",
	  posts_before_the_loop_runs_cost_one_wakeup },
	{ "burst_while_the_loop_is_blocked_wakes_it_once",
	  burst_while_the_loop_is_blocked_wakes_it_once },
	{ "a_callback_that_posts_cannot_starve_the_loop",
	  a_callback_that_posts_cannot_starve_the_loop },
	{ "post_never_allocates", post_never_allocates },
	{ "statistics_add_up_during_delivery",
	  statistics_add_up_during_delivery },
	{ "full_queue_rejects_and_the_caller_keeps_the_payload",
	  full_queue_rejects_and_the_caller_keeps_the_payload },
	{ "full_queue_drops_the_oldest", full_queue_drops_the_oldest },
	{ "drop_oldest_takes_events_waiting_for_the_loop_first",
	  drop_oldest_takes_events_waiting_for_the_loop_first },
	{ "capacity_counts_waiting_events_not_the_loops_batch",
	  capacity_counts_waiting_events_not_the_loops_batch },
	{ "drop_oldest_drops_waiting_events_not_the_loops_batch",
	  drop_oldest_drops_waiting_events_not_the_loops_batch },
	{ "close_refuses_later_posts_and_delivers_queued_ones",
	  close_refuses_later_posts_and_delivers_queued_ones },
	{ "free_with_events_pending_frees_every_payload",
	  free_with_events_pending_frees_every_payload },
	{ "free_while_the_loop_thread_delivers",
	  free_while_the_loop_thread_delivers },
	{ "calls_refused_from_the_queues_own_callbacks",
	  calls_refused_from_the_queues_own_callbacks },
	{ "loop_freed_before_the_queue", loop_freed_before_the_queue },
	{ "new_fails_cleanly_at_every_allocation",
	  new_fails_cleanly_at_every_allocation },
	{ "sync_job_pattern", sync_job_pattern },
	{ "sync_wait_times_out", sync_wait_times_out },
	{ "producer_closed_while_a_worker_waits",
	  producer_closed_while_a_worker_waits },
	{ "close_lets_held_events_be_processed_first",
	  close_lets_held_events_be_processed_first },
	{ "held_events_never_reach_the_loop", held_events_never_reach_the_loop },
	{ "several_waits_in_one_region", several_waits_in_one_region },
	{ "end_processes_what_is_held", end_processes_what_is_held },
	{ "events_before_the_region_and_during_the_end_go_to_the_loop",
	  events_before_the_region_and_during_the_end_go_to_the_loop },
	{ "one_wait_at_a_time", one_wait_at_a_time },
	{ "many_producers_one_consumer_exactly_once_in_order",
	  many_producers_one_consumer_exactly_once_in_order },
	{ "many_producers_drop_oldest_account_for_every_event",
	  many_producers_drop_oldest_account_for_every_event },
	{ "sync_regions_under_load_lose_nothing",
	  sync_regions_under_load_lose_nothing },
	{ NULL, NULL },
};
