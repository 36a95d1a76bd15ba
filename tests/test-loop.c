/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The native API beyond the shared contract: loop lifetime, backend choice,
 * error codes, running, quitting, the helper thread, drain, statistics, the
 * invariant checker, the end of the id space and allocation failures. */
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/stat.h>

#define TEST_HARNESS_MAIN
#include "harness.h"
#include "loop-private.h"
#include "vevent/vevent.h"

static atomic_int calls, frees;

static void count_handle(int watch, int fd, int events, void *opaque)
{
	atomic_fetch_add(&calls, 1);
}

static void count_timer(int timer, void *opaque)
{
	atomic_fetch_add(&calls, 1);
}

static void count_free(void *opaque)
{
	atomic_fetch_add(&frees, 1);
}

static vev_loop *new_loop(void)
{
	vev_loop *loop = NULL;
	CHECK_EQ(vev_loop_new(&loop, VEV_LOOP_AUTO), 0);
	CHECK(loop != NULL);
	test_subject = vev_loop_backend(loop);
	return loop;
}

static void free_loop(vev_loop *loop)
{
	CHECK_EQ(vev_loop_verify(loop), 0);
	CHECK_EQ(vev_loop_free(loop), 0);
}

static void loop_new_rejects_bad_flags(void)
{
	vev_loop *loop = NULL;
	CHECK_EQ(vev_loop_new(NULL, 0), -EINVAL);
	CHECK_EQ(vev_loop_new(&loop, 1u << 9), -EINVAL);
	CHECK(strstr(vev_last_error(), "unknown flags") != NULL);
	CHECK_EQ(vev_loop_new(&loop, VEV_LOOP_EPOLL | VEV_LOOP_POLL), -EINVAL);
	CHECK(loop == NULL);
}

static void loop_new_backend_by_flag_and_env(void)
{
	vev_loop *loop;
	CHECK_EQ(vev_loop_new(&loop, VEV_LOOP_POLL), 0);
	CHECK(strcmp(vev_loop_backend(loop), "poll") == 0);
	free_loop(loop);
	CHECK_EQ(vev_loop_new(&loop, VEV_LOOP_EPOLL), 0);
	CHECK(strcmp(vev_loop_backend(loop), "epoll") == 0);
	free_loop(loop);
	setenv("VEVENT_BACKEND", "poll", 1);
	CHECK_EQ(vev_loop_new(&loop, VEV_LOOP_AUTO), 0);
	CHECK(strcmp(vev_loop_backend(loop), "poll") == 0);
	free_loop(loop);
	/* An explicit flag wins over the environment. */
	CHECK_EQ(vev_loop_new(&loop, VEV_LOOP_EPOLL), 0);
	CHECK(strcmp(vev_loop_backend(loop), "epoll") == 0);
	free_loop(loop);
	setenv("VEVENT_BACKEND", "", 1);
	CHECK_EQ(vev_loop_new(&loop, VEV_LOOP_AUTO), 0);
	CHECK(strcmp(vev_loop_backend(loop), "epoll") == 0);
	free_loop(loop);
	setenv("VEVENT_BACKEND", "kqueue", 1);
	loop = NULL;
	CHECK_EQ(vev_loop_new(&loop, VEV_LOOP_AUTO), -EINVAL);
	CHECK(strstr(vev_last_error(), "VEVENT_BACKEND") != NULL);
	CHECK(loop == NULL);
}

static void version_query(void)
{
	CHECK(strcmp(vev_version(), VEV_VERSION_STRING) == 0);
	CHECK_EQ(vev_version_number(), VEV_VERSION_NUMBER);
	CHECK_EQ(VEV_VERSION_NUMBER, VEV_VERSION_MAJOR * 10000 +
					     VEV_VERSION_MINOR * 100 +
					     VEV_VERSION_MICRO);
}

static void null_loop_is_an_error(void)
{
	uint64_t v;
	CHECK_EQ(vev_add_handle(NULL, 0, 1, count_handle, NULL, NULL), -EINVAL);
	CHECK_EQ(vev_update_handle(NULL, 1, 1), -EINVAL);
	CHECK_EQ(vev_remove_handle(NULL, 1), -EINVAL);
	CHECK_EQ(vev_add_timer(NULL, 0, count_timer, NULL, NULL), -EINVAL);
	CHECK_EQ(vev_update_timer(NULL, 1, 1), -EINVAL);
	CHECK_EQ(vev_remove_timer(NULL, 1), -EINVAL);
	CHECK_EQ(vev_run_once(NULL, 0), -EINVAL);
	CHECK_EQ(vev_quit(NULL), -EINVAL);
	CHECK_EQ(vev_loop_drain(NULL), -EINVAL);
	CHECK_EQ(vev_loop_stat(NULL, VEV_STAT_HANDLES, &v), -EINVAL);
	CHECK_EQ(vev_loop_verify(NULL), -EINVAL);
	CHECK_EQ(vev_loop_start_thread(NULL), -EINVAL);
	CHECK_EQ(vev_loop_stop_thread(NULL), -EINVAL);
	CHECK_EQ(vev_loop_free(NULL), 0);
	CHECK(vev_loop_backend(NULL) == NULL);
}

static void native_errors_are_negative_errno(void)
{
	vev_loop *loop = new_loop();
	int p[2];
	test_pipe(p);
	CHECK_EQ(vev_add_handle(loop, -3, 1, count_handle, NULL, NULL), -EBADF);
	CHECK_EQ(vev_add_handle(loop, p[0], 1, NULL, NULL, NULL), -EINVAL);
	CHECK_EQ(vev_add_timer(loop, 0, NULL, NULL, NULL), -EINVAL);
	/* Rule 13: an unknown id is an error in the native API. */
	CHECK_EQ(vev_update_handle(loop, 1, 1), -ENOENT);
	CHECK(strstr(vev_last_error(), "no watch 1") != NULL);
	CHECK_EQ(vev_update_timer(loop, 1, 1), -ENOENT);
	CHECK_EQ(vev_remove_handle(loop, 1), -ENOENT);
	CHECK_EQ(vev_remove_timer(loop, 1), -ENOENT);
	uint64_t v;
	CHECK_EQ(vev_loop_stat(loop, VEV_STAT_COUNT_, &v), -EINVAL);
	CHECK_EQ(vev_loop_stat(loop, (enum vev_stat)-1, &v), -EINVAL);
	CHECK_EQ(vev_loop_stat(loop, VEV_STAT_HANDLES, NULL), -EINVAL);
	free_loop(loop);
}

static void *last_error_of_new_thread(void *arg)
{
	return (void *)vev_last_error();
}

static void error_messages_are_per_thread(void)
{
	vev_loop *loop = new_loop();
	CHECK_EQ(vev_remove_timer(loop, 42), -ENOENT);
	pthread_t t;
	CHECK(pthread_create(&t, NULL, last_error_of_new_thread,
			     NULL) == 0);
	void *other;
	pthread_join(t, &other);
	CHECK(strcmp(other, "") == 0);
	CHECK(strstr(vev_last_error(), "no timer 42") != NULL);
	free_loop(loop);
}

static void huge_and_negative_timeouts(void)
{
	vev_loop *loop = new_loop();
	int a = vev_add_timer(loop, INT_MAX, count_timer, NULL, count_free);
	int b = vev_add_timer(loop, INT_MIN, count_timer, NULL, count_free);
	CHECK(a > 0 && b > 0);
	CHECK_EQ(vev_update_timer(loop, b, INT_MAX - 1), 0);
	CHECK_EQ(vev_run_once(loop, 0), 0);
	CHECK_EQ(vev_run_once(loop, 1), 0);
	CHECK_EQ(calls, 0);
	free_loop(loop);
	CHECK_EQ(frees, 2);
}

static void two_loops_are_independent(void)
{
	vev_loop *a = new_loop(), *b = new_loop();
	int ta = vev_add_timer(a, 0, count_timer, NULL, count_free);
	CHECK_EQ(ta, 1);
	CHECK_EQ(vev_add_timer(b, -1, count_timer, NULL, count_free), 1);
	CHECK_EQ(vev_run_once(b, 0), 0);
	CHECK_EQ(vev_run_once(a, 0), 1);
	CHECK_EQ(calls, 1);
	free_loop(a);
	CHECK_EQ(frees, 1);
	free_loop(b);
	CHECK_EQ(frees, 2);
}

static vev_loop *shared_loop;
static int inner_rc[4];

static void call_forbidden_from_callback(int timer, void *opaque)
{
	inner_rc[0] = vev_run_once(shared_loop, 0);
	inner_rc[1] = vev_loop_drain(shared_loop);
	inner_rc[2] = vev_loop_free(shared_loop);
	inner_rc[3] = vev_run(shared_loop);
	vev_remove_timer(shared_loop, timer);
}

static void reentrant_calls_are_refused(void)
{
	shared_loop = new_loop();
	vev_add_timer(shared_loop, 0, call_forbidden_from_callback, NULL, NULL);
	CHECK_EQ(vev_run_once(shared_loop, 0), 1);
	for (int i = 0; i < 4; i++)
		CHECK_EQ(inner_rc[i], -EBUSY);
	CHECK(strstr(vev_last_error(), "callback") != NULL);
	free_loop(shared_loop);
}

static void *run_blocking(void *arg)
{
	return (void *)(intptr_t)vev_run_once(arg, VEV_WAIT_FOREVER);
}

static void run_from_two_threads_is_refused(void)
{
	vev_loop *loop = new_loop();
	pthread_t t;
	CHECK(pthread_create(&t, NULL, run_blocking, loop) == 0);
	while (!vev__test_is_polling(loop))
		sched_yield();
	CHECK_EQ(vev_run_once(loop, 0), -EBUSY);
	CHECK(strstr(vev_last_error(), "another thread") != NULL);
	CHECK_EQ(vev_loop_drain(loop), -EBUSY);
	CHECK_EQ(vev_loop_free(loop), -EBUSY);
	CHECK_EQ(vev_quit(loop), 0); /* wakes the blocked iteration */
	void *rc;
	pthread_join(t, &rc);
	CHECK_EQ((intptr_t)rc, 0);
	free_loop(loop);
}

static void *quit_later(void *arg)
{
	while (!vev__test_is_polling(arg))
		sched_yield();
	vev_quit(arg);
	return NULL;
}

static void run_until_quit_from_other_thread(void)
{
	vev_loop *loop = new_loop();
	pthread_t t;
	CHECK(pthread_create(&t, NULL, quit_later, loop) == 0);
	CHECK_EQ(vev_run(loop), 0);
	pthread_join(t, NULL);
	/* The request was consumed: the next run_once blocks normally. */
	CHECK_EQ(vev_add_timer(loop, 1, count_timer, NULL, NULL), 1);
	CHECK_EQ(vev_run_once(loop, VEV_WAIT_FOREVER), 1);
	free_loop(loop);
}

static void quit_before_run_returns_after_one_iteration(void)
{
	vev_loop *loop = new_loop();
	CHECK_EQ(vev_quit(loop), 0);
	CHECK_EQ(vev_run(loop), 0); /* would block forever otherwise */
	free_loop(loop);
}

static void quit_from_callback(int timer, void *opaque)
{
	vev_quit(opaque);
}

static void helper_thread_start_stop(void)
{
	vev_loop *loop = new_loop();
	int p[2];
	test_pipe(p);
	CHECK_EQ(vev_loop_stop_thread(loop), -ESRCH);
	CHECK_EQ(vev_loop_start_thread(loop), 0);
	CHECK_EQ(vev_loop_start_thread(loop), -EBUSY);
	int w = vev_add_handle(loop, p[0], VEV_READABLE, count_handle, NULL,
			       count_free);
	test_write1(p[1]);
	while (atomic_load(&calls) == 0)
		sched_yield();
	CHECK_EQ(vev_remove_handle(loop, w), 0);
	CHECK_EQ(vev_loop_stop_thread(loop), 0);
	/* Stopping runs what removals left pending. */
	CHECK_EQ(frees, 1);
	/* Restartable; a quit from a callback ends the thread too. */
	CHECK_EQ(vev_loop_start_thread(loop), 0);
	vev_add_timer(loop, 0, quit_from_callback, loop, count_free);
	CHECK_EQ(vev_loop_stop_thread(loop), 0);
	free_loop(loop);
	CHECK_EQ(frees, 2);
}

/* The hooks run on the helper thread, once each, around everything it
 * dispatches. */
struct hook_log {
	pthread_t enter_thread, leave_thread;
	atomic_int enters, leaves, calls_at_enter, calls_at_leave;
};

static void hook_enter(void *arg)
{
	struct hook_log *h = arg;
	h->enter_thread = pthread_self();
	atomic_store(&h->calls_at_enter, atomic_load(&calls));
	atomic_fetch_add(&h->enters, 1);
}

static void hook_leave(void *arg)
{
	struct hook_log *h = arg;
	h->leave_thread = pthread_self();
	atomic_store(&h->calls_at_leave, atomic_load(&calls));
	atomic_fetch_add(&h->leaves, 1);
}

static pthread_t timer_thread;
static void note_thread(int timer, void *opaque)
{
	timer_thread = pthread_self();
	atomic_fetch_add(&calls, 1);
	vev_remove_timer(opaque, timer);
}

static void helper_thread_hooks(void)
{
	static struct hook_log h;
	vev_loop *loop = new_loop();
	CHECK_EQ(vev_loop_start_thread_hooks(NULL, hook_enter, hook_leave, &h),
		 -EINVAL);
	vev_add_timer(loop, 0, note_thread, loop, count_free);
	CHECK_EQ(vev_loop_start_thread_hooks(loop, hook_enter, hook_leave, &h),
		 0);
	CHECK_EQ(vev_loop_start_thread_hooks(loop, hook_enter, hook_leave, &h),
		 -EBUSY);
	while (atomic_load(&calls) == 0)
		sched_yield();
	CHECK_EQ(vev_loop_stop_thread(loop), 0);
	CHECK_EQ(h.enters, 1);
	CHECK_EQ(h.leaves, 1);
	CHECK_EQ(h.calls_at_enter, 0);
	CHECK_EQ(h.calls_at_leave, 1);
	CHECK(pthread_equal(h.enter_thread, timer_thread));
	CHECK(pthread_equal(h.leave_thread, timer_thread));
	/* Plain vev_loop_start_thread() afterwards calls no hook. */
	CHECK_EQ(vev_loop_start_thread(loop), 0);
	CHECK_EQ(vev_loop_stop_thread(loop), 0);
	CHECK_EQ(h.enters + h.leaves, 2);
	free_loop(loop);
	CHECK_EQ(frees, 1);
}

/* Stopping a helper thread that a vev_quit() already ended leaves no quit
 * request behind: later iterations wait as usual. */
static void stop_after_quit_leaves_no_request(void)
{
	vev_loop *loop = new_loop();
	CHECK_EQ(vev_loop_start_thread(loop), 0);
	CHECK_EQ(vev_quit(loop), 0);
	/* The thread consumes the request and ends; wait for that. */
	for (;;) {
		vev__lock(&loop->lock);
		bool ended = !loop->running && !loop->quit;
		vev__unlock(&loop->lock);
		if (ended)
			break;
		sched_yield();
	}
	CHECK_EQ(vev_loop_stop_thread(loop), 0);
	int64_t t0 = test_now_ms();
	CHECK_EQ(vev_run_once(loop, 100), 0);
	CHECK(test_now_ms() - t0 >= 90);
	free_loop(loop);
}

static sigset_t helper_mask;
static atomic_bool mask_read;

static void read_mask(int timer, void *opaque)
{
	pthread_sigmask(SIG_BLOCK, NULL, &helper_mask);
	vev_remove_timer(opaque, timer);
	atomic_store(&mask_read, true);
}

/* The helper thread is the library's: it blocks the signals a program
 * handles or waits for, and starting it leaves the caller's mask alone. */
static void helper_thread_blocks_signals(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2,
				    SIGCHLD, SIGPIPE, SIGALRM, SIGWINCH };
	sigset_t before, after;
	vev_loop *loop = new_loop();
	pthread_sigmask(SIG_BLOCK, NULL, &before);
	CHECK(!sigismember(&before, SIGUSR1));
	vev_add_timer(loop, 0, read_mask, loop, count_free);
	CHECK_EQ(vev_loop_start_thread(loop), 0);
	pthread_sigmask(SIG_BLOCK, NULL, &after);
	for (int s = 1; s < 32; s++)
		CHECK_EQ(sigismember(&after, s), sigismember(&before, s));
	while (!atomic_load(&mask_read))
		sched_yield();
	CHECK_EQ(vev_loop_stop_thread(loop), 0);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		CHECK(sigismember(&helper_mask, sigs[i]));
	free_loop(loop);
	CHECK_EQ(frees, 1);
}

static int stop_rc;
static void stop_from_helper(int timer, void *opaque)
{
	stop_rc = vev_loop_stop_thread(opaque);
	vev_remove_timer(opaque, timer);
}

static void helper_thread_cannot_stop_itself(void)
{
	vev_loop *loop = new_loop();
	vev_add_timer(loop, 0, stop_from_helper, loop, count_free);
	CHECK_EQ(vev_loop_start_thread(loop), 0);
	while (atomic_load(&frees) == 0)
		sched_yield();
	CHECK_EQ(stop_rc, -EDEADLK);
	/* vev_loop_free stops the helper thread itself. */
	free_loop(loop);
}

static void drain_runs_pending_free_callbacks(void)
{
	vev_loop *loop = new_loop();
	int t1 = vev_add_timer(loop, -1, count_timer, NULL, count_free);
	int t2 = vev_add_timer(loop, -1, count_timer, NULL, NULL);
	CHECK_EQ(vev_remove_timer(loop, t1), 0);
	CHECK_EQ(vev_remove_timer(loop, t2), 0);
	CHECK_EQ(frees, 0);
	uint64_t pending;
	CHECK_EQ(vev_loop_stat(loop, VEV_STAT_PENDING_FREES, &pending), 0);
	/* A timer without a free callback leaves nothing to do later. */
	CHECK_EQ(pending, 1);
	CHECK_EQ(vev_loop_drain(loop), 1);
	CHECK_EQ(frees, 1);
	CHECK_EQ(vev_loop_drain(loop), 0);
	free_loop(loop);
}

static void free_calls_every_free_callback(void)
{
	vev_loop *loop = new_loop();
	int p[2];
	test_pipe(p);
	for (int i = 0; i < 50; i++) {
		CHECK(vev_add_handle(loop, p[i % 2], VEV_READABLE, count_handle,
				     NULL, count_free) > 0);
		CHECK(vev_add_timer(loop, i - 10, count_timer, NULL,
				    count_free) > 0);
	}
	vev_remove_timer(loop, 3);
	vev_remove_handle(loop, 7);
	free_loop(loop);
	CHECK_EQ(frees, 100);
}

static void statistics_count(void)
{
	vev_loop *loop = new_loop();
	int p[2];
	test_pipe(p);
	test_write1(p[1]);
	int w = vev_add_handle(loop, p[0], VEV_READABLE, count_handle, NULL,
			       count_free);
	int t = vev_add_timer(loop, 0, count_timer, NULL, count_free);
	vev_add_timer(loop, -1, count_timer, NULL, count_free);
	CHECK_EQ(vev_run_once(loop, 0), 2);
	CHECK_EQ(vev_run_once(loop, 0), 2);
	vev_remove_handle(loop, w);
	vev_remove_timer(loop, t);
	uint64_t v[VEV_STAT_COUNT_];
	for (int i = 0; i < VEV_STAT_COUNT_; i++)
		CHECK_EQ(vev_loop_stat(loop, i, &v[i]), 0);
	CHECK_EQ(v[VEV_STAT_ITERATIONS], 2);
	CHECK_EQ(v[VEV_STAT_HANDLE_CALLS], 2);
	CHECK_EQ(v[VEV_STAT_TIMER_CALLS], 2);
	CHECK_EQ(v[VEV_STAT_HANDLES], 0);
	CHECK_EQ(v[VEV_STAT_TIMERS], 1);
	CHECK_EQ(v[VEV_STAT_PENDING_FREES], 2);
	CHECK_EQ(v[VEV_STAT_FREE_CALLS], 0);
	CHECK(v[VEV_STAT_MEMORY] > sizeof(void *) * 8);
	CHECK_EQ(vev_loop_drain(loop), 2);
	CHECK_EQ(vev_loop_stat(loop, VEV_STAT_FREE_CALLS, &v[0]), 0);
	CHECK_EQ(v[0], 2);
	free_loop(loop);
}

static void verify_detects_corruption(void)
{
	vev_loop *loop = new_loop();
	int p[2];
	test_pipe(p);
	vev_add_handle(loop, p[0], VEV_READABLE, count_handle, NULL, NULL);
	int t = vev_add_timer(loop, 5, count_timer, NULL, NULL);
	CHECK_EQ(vev_loop_verify(loop), 0);
	loop->fds[p[0]].want ^= VEV_WRITABLE;
	CHECK_EQ(vev_loop_verify(loop), -EPROTO);
	CHECK(strstr(vev_last_error(), "combined mask") != NULL);
	loop->fds[p[0]].want ^= VEV_WRITABLE;
	CHECK_EQ(vev_loop_verify(loop), 0);
	struct vev_timer *tm = vev__timer_at(loop,
					     vev__idmap_find(&loop->timer_ids, t));
	tm->heap_idx = 7;
	CHECK_EQ(vev_loop_verify(loop), -EPROTO);
	tm->heap_idx = 0;
	free_loop(loop);
}

static void ids_end_at_int_max(void)
{
	vev_loop *loop = new_loop();
	int p[2];
	test_pipe(p);
	vev__test_set_next_ids(loop, INT_MAX - 1, INT_MAX);
	CHECK_EQ(vev_add_handle(loop, p[0], 1, count_handle, NULL, count_free),
		 INT_MAX - 1);
	CHECK_EQ(vev_add_handle(loop, p[0], 1, count_handle, NULL, count_free),
		 INT_MAX);
	CHECK_EQ(vev_add_handle(loop, p[0], 1, count_handle, NULL, count_free),
		 -EOVERFLOW);
	CHECK(strstr(vev_last_error(), "ids have been used") != NULL);
	CHECK_EQ(vev_add_timer(loop, 0, count_timer, NULL, count_free), INT_MAX);
	CHECK_EQ(vev_add_timer(loop, 0, count_timer, NULL, count_free),
		 -EOVERFLOW);
	CHECK_EQ(vev_remove_handle(loop, INT_MAX), 0);
	CHECK_EQ(vev_run_once(loop, 0), 1);
	free_loop(loop);
	CHECK_EQ(frees, 3);
}

static void regular_file_is_always_ready(void)
{
	/* epoll cannot watch regular files; poll(2) calls them always
	 * readable and writable, and both backends say the same. */
	char path[] = "/tmp/vevent-test-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	unlink(path);
	vev_loop *loop = new_loop();
	vev_add_handle(loop, fd, VEV_READABLE | VEV_WRITABLE, count_handle,
		       NULL, count_free);
	CHECK_EQ(vev_run_once(loop, 0), 1);
	CHECK_EQ(vev_run_once(loop, VEV_WAIT_FOREVER), 1);
	CHECK_EQ(calls, 2);
	free_loop(loop);
	close(fd);
	CHECK_EQ(frees, 1);
}

static void many_watches_and_timers(void)
{
	/* Tables grow and shrink through many sizes and stay consistent. */
	vev_loop *loop = new_loop();
	int s[2];
	test_socketpair(s);
	enum { N = 5000 };
	static int w[N], t[N];
	for (int i = 0; i < N; i++) {
		w[i] = vev_add_handle(loop, s[i % 2], i % 3, count_handle, NULL,
				      count_free);
		t[i] = vev_add_timer(loop, (i * 7919) % 1000 + 1000, count_timer,
				     NULL, count_free);
		CHECK(w[i] > 0 && t[i] > 0);
	}
	CHECK_EQ(vev_loop_verify(loop), 0);
	for (int i = 0; i < N; i += 2) {
		CHECK_EQ(vev_remove_handle(loop, w[i]), 0);
		CHECK_EQ(vev_update_timer(loop, t[i], i % 5 - 2), 0);
		CHECK_EQ(vev_remove_timer(loop, t[(i * 31) % N | 1]) <= 0, 1);
	}
	CHECK_EQ(vev_loop_verify(loop), 0);
	CHECK(vev_run_once(loop, 0) >= 0);
	CHECK_EQ(vev_loop_verify(loop), 0);
	free_loop(loop);
	CHECK_EQ(frees, 2 * N);
}

/* Every fallible operation of a scenario (allocations, and the epoll,
 * eventfd, pipe and poll calls) fails in turn: each must end in a clean
 * error or success, no leak (checked by the sanitizer builds), no crash,
 * and a loop that still works, with every free callback of a successful add
 * run exactly once. */
static void faults_at_every_site_are_clean(void)
{
	int p[2], s[2];
	test_pipe(p);
	test_socketpair(s);
	test_write1(p[1]);
	unsigned long k;
	for (k = 1;; k++) {
		int adds = 0;
		atomic_store(&frees, 0);
		vev__fault_arm(k);
		vev_loop *loop = NULL;
		int rc = vev_loop_new(&loop, VEV_LOOP_AUTO);
		if (rc < 0) {
			CHECK(rc == -ENOMEM || rc == -EMFILE);
			CHECK(strlen(vev_last_error()) > 0);
			CHECK(loop == NULL);
			continue;
		}
		for (int i = 0; i < 40; i++) {
			int fd = i % 3 == 2 ? s[0] : p[i % 2];
			int w = vev_add_handle(loop, fd, VEV_READABLE | VEV_WRITABLE,
					       count_handle, NULL, count_free);
			int t = vev_add_timer(loop, i % 2 - 1, count_timer, NULL,
					      count_free);
			CHECK(w > 0 || w == -ENOMEM);
			CHECK(t > 0 || t == -ENOMEM);
			adds += (w > 0) + (t > 0);
			if (i % 3 == 0 && w > 0)
				CHECK_EQ(vev_remove_handle(loop, w), 0);
			if (i % 7 == 0) {
				rc = vev_run_once(loop, 0);
				CHECK(rc >= 0 || rc == -EIO);
			}
		}
		rc = vev_run_once(loop, 0);
		CHECK(rc >= 0 || rc == -EIO);
		CHECK_EQ(vev_loop_verify(loop), 0);
		unsigned long seen = vev__fault_count();
		vev__fault_arm(0);
		/* Still works after the failure. */
		CHECK(vev_add_timer(loop, 0, count_timer, NULL, count_free) > 0);
		CHECK(vev_run_once(loop, 0) >= 1);
		free_loop(loop);
		CHECK_EQ(frees, adds + 1);
		if (seen < k)
			break; /* every site of the scenario has failed once */
	}
	printf("faults injected: %lu sites\n", k - 1);
}

static void wait_failure_is_eio(void)
{
	vev_loop *loop = new_loop();
	int t = vev_add_timer(loop, 0, count_timer, NULL, count_free);
	/* The only fallible operation of a warm no-wait iteration is the
	 * wait itself. */
	CHECK_EQ(vev_run_once(loop, 0), 1);
	vev__fault_arm(1);
	CHECK_EQ(vev_run_once(loop, 0), -EIO);
	vev__fault_arm(0);
	CHECK(strstr(vev_last_error(), "wait failed") != NULL);
	CHECK_EQ(vev_run_once(loop, 0), 1);
	CHECK_EQ(vev_remove_timer(loop, t), 0);
	free_loop(loop);
	CHECK_EQ(frees, 1);
}

/* The loop lock (src/lock.h), on its own. */
struct lock_job {
	struct vev_lock *lock;
	long *counter; /* plain, guarded by the lock */
	long rounds;
	long seen;
};

static void *lock_hammer(void *p)
{
	struct lock_job *j = p;
	for (long i = 0; i < j->rounds; i++) {
		vev__lock(j->lock);
		(*j->counter)++;
		vev__unlock(j->lock);
	}
	return NULL;
}

/* A lost increment means two threads were inside at once. */
static void lock_excludes_under_contention(void)
{
	struct vev_lock lock;
	long counter = 0;
	struct lock_job j = { &lock, &counter, 200000, 0 };
	pthread_t t[3];

	CHECK_EQ(vev__lock_init(&lock), 0);
	for (int i = 0; i < 3; i++)
		CHECK_EQ(pthread_create(&t[i], NULL, lock_hammer, &j), 0);
	lock_hammer(&j);
	for (int i = 0; i < 3; i++)
		pthread_join(t[i], NULL);
	CHECK_EQ(counter, 4 * 200000L);
	vev__lock_destroy(&lock);
}

static void *lock_then_read(void *p)
{
	struct lock_job *j = p;
	vev__lock(j->lock);
	j->seen = *j->counter;
	vev__unlock(j->lock);
	return NULL;
}

/* Taken while the process has one thread (plain stores where the C library
 * says so), the lock must still hold off a thread created meanwhile. */
static void lock_taken_alone_holds_off_a_new_thread(void)
{
	struct vev_lock lock;
	long counter = 0;
	struct lock_job j = { &lock, &counter, 0, -1 };
	pthread_t t;

#ifdef VEV_HAVE_SINGLE_THREADED
	CHECK(__libc_single_threaded);
#endif
	CHECK_EQ(vev__lock_init(&lock), 0);
	vev__lock(&lock);
	CHECK_EQ(pthread_create(&t, NULL, lock_then_read, &j), 0);
	/* Give the new thread every chance to get in wrongly. */
	for (int i = 0; i < 1000; i++)
		sched_yield();
	counter = 1;
	vev__unlock(&lock);
	pthread_join(t, NULL);
	CHECK_EQ(j.seen, 1);
	/* And both threads' protocol leaves it free. */
	vev__lock(&lock);
	vev__unlock(&lock);
	vev__lock_destroy(&lock);
}

const struct test tests[] = {
	{ "loop_new_rejects_bad_flags", loop_new_rejects_bad_flags },
	{ "loop_new_backend_by_flag_and_env", loop_new_backend_by_flag_and_env },
	{ "version_query", version_query },
	{ "null_loop_is_an_error", null_loop_is_an_error },
	{ "native_errors_are_negative_errno", native_errors_are_negative_errno },
	{ "error_messages_are_per_thread", error_messages_are_per_thread },
	{ "huge_and_negative_timeouts", huge_and_negative_timeouts },
	{ "two_loops_are_independent", two_loops_are_independent },
	{ "reentrant_calls_are_refused", reentrant_calls_are_refused },
	{ "run_from_two_threads_is_refused", run_from_two_threads_is_refused },
	{ "run_until_quit_from_other_thread", run_until_quit_from_other_thread },
	{ "quit_before_run_returns_after_one_iteration",
	  quit_before_run_returns_after_one_iteration },
	{ "helper_thread_start_stop", helper_thread_start_stop },
	{ "helper_thread_cannot_stop_itself", helper_thread_cannot_stop_itself },
	{ "helper_thread_blocks_signals", helper_thread_blocks_signals },
	{ "helper_thread_hooks", helper_thread_hooks },
	{ "stop_after_quit_leaves_no_request",
	  stop_after_quit_leaves_no_request },
	{ "drain_runs_pending_free_callbacks", drain_runs_pending_free_callbacks },
	{ "free_calls_every_free_callback", free_calls_every_free_callback },
	{ "statistics_count", statistics_count },
	{ "verify_detects_corruption", verify_detects_corruption },
	{ "ids_end_at_int_max", ids_end_at_int_max },
	{ "regular_file_is_always_ready", regular_file_is_always_ready },
	{ "many_watches_and_timers", many_watches_and_timers },
	{ "faults_at_every_site_are_clean", faults_at_every_site_are_clean },
	{ "wait_failure_is_eio", wait_failure_is_eio },
	{ "lock_excludes_under_contention", lock_excludes_under_contention },
	{ "lock_taken_alone_holds_off_a_new_thread",
	  lock_taken_alone_holds_off_a_new_thread },
	{ NULL, NULL },
};
