/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Descriptor hazards and resource limits: closed, reused, dup'ed and forked
 * descriptors never make the loop spin or report another file's events; the
 * descriptor limit, 100 000 timers and 19 000 watches behave as documented. */
#include <limits.h>
#include <sys/resource.h>
#include <sys/wait.h>

#define TEST_HARNESS_MAIN
#include "harness.h"
#include "loop-private.h"
#include "vevent/vevent.h"

struct rec {
	int calls;
	int events;     /* OR of every call */
	int last;
	int freed;
};

static void on_handle(int watch, int fd, int events, void *opaque)
{
	struct rec *r = opaque;
	r->calls++;
	r->events |= events;
	r->last = events;
}

static void on_timer(int timer, void *opaque)
{
	struct rec *r = opaque;
	r->calls++;
}

static void on_free(void *opaque)
{
	((struct rec *)opaque)->freed++;
}

static vev_loop *new_loop(void)
{
	vev_loop *loop;
	CHECK_EQ(vev_loop_new(&loop, VEV_LOOP_AUTO), 0);
	test_subject = vev_loop_backend(loop);
	return loop;
}

static void finish(vev_loop *loop)
{
	CHECK_EQ(vev_loop_verify(loop), 0);
	CHECK_EQ(vev_loop_free(loop), 0);
}

/* Run iterations until `stop` has fired, failing if that takes more than
 * `max` waits in the backend: a spinning loop makes thousands within the
 * timer's period (also inside one iteration, which re-waits when nothing
 * was ready). */
static void run_until(vev_loop *loop, struct rec *stop, int max)
{
	uint64_t waits = loop->waits;
	while (stop->calls == 0) {
		CHECK(vev_run_once(loop, VEV_WAIT_FOREVER) >= 0);
		CHECK(loop->waits - waits <= (uint64_t)max);
	}
}

static int is_poll(vev_loop *loop)
{
	return strcmp(vev_loop_backend(loop), "poll") == 0;
}

/* Closed and its number reused by a new descriptor before removal, with no
 * new watch on the number: the old watch never sees the new file. */
static void closed_then_number_reused_without_new_watch(void)
{
	vev_loop *loop = new_loop();
	struct rec old = { 0 }, stop = { 0 };
	int p[2], q[2];
	test_pipe(p);
	int w = vev_add_handle(loop, p[0], VEV_READABLE, on_handle, &old,
			       on_free);
	CHECK_EQ(vev_run_once(loop, 0), 0);
	int num = p[0];
	close(p[0]);
	close(p[1]);
	test_pipe(q);
	CHECK_EQ(q[0], num);
	test_write1(q[1]); /* the new file is readable */
	vev_add_timer(loop, 50, on_timer, &stop, on_free);
	run_until(loop, &stop, 6);
	CHECK(!(old.events & VEV_READABLE));
	CHECK(old.calls <= 1);
	if (is_poll(loop))
		CHECK_EQ(old.last, VEV_ERROR); /* poll sees the change */
	CHECK_EQ(vev_remove_handle(loop, w), 0);
	finish(loop);
	CHECK_EQ(old.freed, 1);
	close(q[0]);
	close(q[1]);
}

/* A dup of the watched descriptor is closed: nothing changes. */
static void dup_closed_original_still_watched(void)
{
	vev_loop *loop = new_loop();
	struct rec r = { 0 };
	int p[2];
	test_pipe(p);
	vev_add_handle(loop, p[0], VEV_READABLE, on_handle, &r, on_free);
	close(dup(p[0]));
	test_write1(p[1]);
	CHECK_EQ(vev_run_once(loop, 0), 1);
	CHECK_EQ(r.last, VEV_READABLE);
	test_drain(p[0]);
	CHECK_EQ(vev_run_once(loop, 0), 0);
	finish(loop);
	CHECK_EQ(r.freed, 1);
}

/* The watched number is closed while a dup keeps the file open and
 * readable: epoll keeps the registration (it cannot be deleted any more),
 * poll sees POLLNVAL.  Either way: at most one report of the old readiness,
 * then ERROR once, then silence; no spin. */
static void watched_closed_while_dup_keeps_file_open(void)
{
	vev_loop *loop = new_loop();
	struct rec r = { 0 }, stop = { 0 };
	int p[2];
	test_pipe(p);
	int w = vev_add_handle(loop, p[0], VEV_READABLE, on_handle, &r, on_free);
	CHECK_EQ(vev_run_once(loop, 0), 0); /* registered in the kernel */
	int copy = dup(p[0]);
	CHECK(copy >= 0);
	test_write1(p[1]);
	close(p[0]);
	/* Keep the number ours, so that the loop's own descriptors cannot
	 * take it before we reuse it below. */
	int hold = open("/dev/null", O_RDONLY | O_CLOEXEC);
	CHECK_EQ(hold, p[0]);
	vev_add_timer(loop, 60, on_timer, &stop, on_free);
	run_until(loop, &stop, 8);
	CHECK(r.calls <= 2);
	CHECK_EQ(r.last, VEV_ERROR);
	/* Reusing the number for a new watched file: only its own events. */
	struct rec fresh = { 0 };
	int q[2];
	test_pipe(q);
	CHECK_EQ(dup2(q[0], hold), p[0]); /* the number now names a new file */
	close(q[0]);
	q[0] = p[0];
	int w2 = vev_add_handle(loop, q[0], VEV_READABLE, on_handle, &fresh,
				on_free);
	int calls_before = r.calls;
	for (int i = 0; i < 5; i++)
		CHECK_EQ(vev_run_once(loop, 0), 0);
	CHECK_EQ(fresh.calls, 0); /* the old file is readable, not this one */
	CHECK_EQ(r.calls, calls_before);
	test_write1(q[1]);
	CHECK_EQ(vev_run_once(loop, 0), 1);
	CHECK_EQ(fresh.last, VEV_READABLE);
	CHECK_EQ(vev_remove_handle(loop, w), 0);
	CHECK_EQ(vev_remove_handle(loop, w2), 0);
	finish(loop);
	CHECK_EQ(r.freed + fresh.freed, 2);
	close(copy);
	close(p[1]);
	close(q[0]);
	close(q[1]);
}

/* The watch is removed after its number was closed while a dup lives on:
 * the kernel keeps reporting a registration nobody owns, and the loop must
 * get rid of it rather than wake up for it forever. */
static void removed_after_close_while_dup_lives(void)
{
	vev_loop *loop = new_loop();
	struct rec r = { 0 }, stop = { 0 };
	int p[2];
	test_pipe(p);
	int w = vev_add_handle(loop, p[0], VEV_READABLE, on_handle, &r, on_free);
	CHECK_EQ(vev_run_once(loop, 0), 0);
	int copy = dup(p[0]);
	close(p[0]);
	CHECK_EQ(vev_remove_handle(loop, w), 0);
	test_write1(p[1]);
	vev_add_timer(loop, 60, on_timer, &stop, on_free);
	run_until(loop, &stop, 6);
	CHECK_EQ(r.calls, 0);
	finish(loop);
	CHECK_EQ(r.freed, 1);
	close(copy);
	close(p[1]);
}

/* A regular file (always ready: epoll cannot watch one) closed while
 * watched: ERROR once, then silence, no spin. */
static void regular_file_closed_while_watched(void)
{
	vev_loop *loop = new_loop();
	struct rec r = { 0 }, stop = { 0 };
	char path[] = "/tmp/vevent-hazard-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	unlink(path);
	int w = vev_add_handle(loop, fd, VEV_READABLE, on_handle, &r, on_free);
	CHECK_EQ(vev_run_once(loop, 0), 1);
	CHECK_EQ(r.last, VEV_READABLE);
	close(fd);
	vev_add_timer(loop, 60, on_timer, &stop, on_free);
	run_until(loop, &stop, 6);
	CHECK_EQ(r.calls, 2);
	CHECK_EQ(r.last, VEV_ERROR);
	CHECK_EQ(vev_remove_handle(loop, w), 0);
	finish(loop);
	CHECK_EQ(r.freed, 1);
}

/* A forked child that keeps using the loop must not change what the
 * parent's loop watches (they would share one epoll instance). */
static void fork_child_uses_loop_parent_unaffected(void)
{
	vev_loop *loop = new_loop();
	struct rec r = { 0 };
	int p[2];
	test_pipe(p);
	int w = vev_add_handle(loop, p[0], VEV_READABLE, on_handle, &r, on_free);
	CHECK_EQ(vev_run_once(loop, 0), 0);
	fflush(NULL);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		/* In the child: stop watching, run, add a timer, run. */
		struct rec t = { 0 };
		int ok = vev_update_handle(loop, w, 0) == 0 &&
			 vev_run_once(loop, 0) == 0 &&
			 vev_add_timer(loop, 0, on_timer, &t, NULL) > 0 &&
			 vev_run_once(loop, 0) == 1 && t.calls == 1 &&
			 vev_loop_verify(loop) == 0;
		_exit(ok ? 0 : 3);
	}
	int status;
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	test_write1(p[1]);
	CHECK_EQ(vev_run_once(loop, 0), 1);
	CHECK_EQ(r.last, VEV_READABLE);
	finish(loop);
	CHECK_EQ(r.freed, 1);
}

/* A watched descriptor inherited by a child, which closes it and exits:
 * the parent's watch goes on as before. */
static void fork_child_closes_inherited_fd(void)
{
	vev_loop *loop = new_loop();
	struct rec r = { 0 };
	int p[2];
	test_pipe(p);
	vev_add_handle(loop, p[0], VEV_READABLE, on_handle, &r, on_free);
	fflush(NULL);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		close(p[0]);
		_exit(0);
	}
	int status;
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	test_write1(p[1]);
	CHECK_EQ(vev_run_once(loop, 0), 1);
	CHECK_EQ(r.last, VEV_READABLE);
	finish(loop);
}

/* The child ran the checks of a test that lowers its descriptor limit: it
 * exits 0 if they held, 77 where the limit cannot be lowered (valgrind, for
 * one, refuses), anything else naming the check that failed. */
static void wait_child(pid_t pid)
{
	int status;
	CHECK_EQ(waitpid(pid, &status, 0), pid);
	CHECK(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77) {
		printf("SKIP: RLIMIT_NOFILE cannot be lowered here\n");
		exit(77);
	}
	CHECK_EQ(WEXITSTATUS(status), 0);
}

/* At the descriptor limit: creating a loop fails cleanly with -EMFILE, and
 * a loop created before keeps working, including adding watches. */
static void descriptor_limit(void)
{
	fflush(NULL);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		vev_loop *before;
		int p[2];
		if (vev_loop_new(&before, VEV_LOOP_AUTO) < 0 || pipe(p) < 0)
			_exit(10);
		int lowest = dup(0);
		struct rlimit rl = { (rlim_t)lowest, (rlim_t)lowest };
		close(lowest);
		/* Every number below the limit is taken now except one. */
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			_exit(77); /* valgrind, for one, refuses */
		vev_loop *loop = NULL;
		int rc = vev_loop_new(&loop, VEV_LOOP_AUTO);
		if (rc != -EMFILE || loop != NULL ||
		    strstr(vev_last_error(), "Too many open files") == NULL)
			_exit(12);
		/* Adding needs no descriptor: it works at the limit. */
		struct rec t = { 0 }, w = { 0 };
		if (vev_add_timer(before, 0, on_timer, &t, on_free) < 1 ||
		    vev_add_handle(before, p[0], VEV_READABLE, on_handle, &w,
				   on_free) < 1 ||
		    write(p[1], "x", 1) != 1 || vev_run_once(before, 0) != 2 ||
		    w.last != VEV_READABLE || vev_loop_free(before) != 0 ||
		    t.freed != 1 || w.freed != 1)
			_exit(13);
		_exit(0);
	}
	wait_child(pid);
}

/* A forked child out of descriptors cannot give the loop kernel state of
 * its own: the iteration says so with a documented code and a message that
 * names what failed, changes nothing, and works once descriptors are free. */
static void fork_child_out_of_descriptors(void)
{
	vev_loop *loop = new_loop();
	struct rec t = { 0 };
	CHECK(vev_add_timer(loop, 0, on_timer, &t, on_free) > 0);
	CHECK_EQ(vev_run_once(loop, 0), 1);
	fflush(NULL);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		struct rlimit saved, rl;
		getrlimit(RLIMIT_NOFILE, &saved);
		int lowest = dup(0);
		rl = (struct rlimit){ (rlim_t)lowest, saved.rlim_max };
		close(lowest);
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			_exit(77);
		/* Take the one number left below the limit. */
		int filler = dup(0);
		int rc = vev_run_once(loop, 0);
		const char *msg = vev_last_error();
		if (rc != -EMFILE)
			_exit(11);
		if (!strstr(msg, "vev_run_once") || !strstr(msg, "after fork") ||
		    !strstr(msg, "Too many open files") ||
		    strstr(msg, "vev_loop_new"))
			_exit(12);
		if (t.calls != 1 || vev_loop_verify(loop) != 0)
			_exit(13);
		close(filler);
		if (setrlimit(RLIMIT_NOFILE, &saved) < 0)
			_exit(14);
		if (vev_run_once(loop, 0) != 1 || t.calls != 2)
			_exit(15);
		_exit(0);
	}
	wait_child(pid);
	finish(loop);
	CHECK_EQ(t.freed, 1);
}

static void hundred_thousand_timers(void)
{
	enum { N = 100000 };
	static int ids[N];
	static struct rec r;
	vev_loop *loop = new_loop();
	for (int i = 0; i < N; i++) {
		/* Far future, spread out, so none fires. */
		ids[i] = vev_add_timer(loop, 600000 + (i * 7919) % 100000,
				       on_timer, &r, on_free);
		CHECK_EQ(ids[i], i + 1);
	}
	CHECK_EQ(vev_run_once(loop, 0), 0);
	for (int i = 0; i < N; i += 2)
		CHECK_EQ(vev_update_timer(loop, ids[i], 900000 - i % 1000), 0);
	CHECK_EQ(vev_loop_verify(loop), 0);
	for (int i = 0; i < N; i++)
		CHECK_EQ(vev_remove_timer(loop, ids[(i * 7) % N]), 0);
	CHECK_EQ(vev_run_once(loop, 0), 0);
	CHECK_EQ(r.freed, N);
	CHECK_EQ(r.calls, 0);
	uint64_t v;
	vev_loop_stat(loop, VEV_STAT_TIMERS, &v);
	CHECK_EQ(v, 0);
	finish(loop);
}

static void nineteen_thousand_watches(void)
{
	enum { PAIRS = 9500 };
	static int fds[2 * PAIRS], ids[2 * PAIRS];
	static struct rec r;
	struct rlimit rl;
	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	if (rl.rlim_max < 2 * PAIRS + 64) {
		printf("SKIP: descriptor hard limit %llu < %d\n",
		       (unsigned long long)rl.rlim_max, 2 * PAIRS + 64);
		return;
	}
	rl.rlim_cur = rl.rlim_max;
	CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	vev_loop *loop = new_loop();
	for (int i = 0; i < PAIRS; i++)
		test_socketpair(&fds[2 * i]);
	for (int i = 0; i < 2 * PAIRS; i++) {
		ids[i] = vev_add_handle(loop, fds[i], VEV_READABLE, on_handle, &r,
					on_free);
		CHECK(ids[i] > 0);
	}
	/* Idle: nothing fires.  Then one in the middle becomes ready. */
	CHECK_EQ(vev_run_once(loop, 0), 0);
	test_write1(fds[2 * 4321 + 1]);
	CHECK_EQ(vev_run_once(loop, 0), 1);
	CHECK_EQ(r.calls, 1);
	CHECK_EQ(vev_loop_verify(loop), 0);
	for (int i = 0; i < 2 * PAIRS; i++)
		CHECK_EQ(vev_remove_handle(loop, ids[i]), 0);
	CHECK_EQ(vev_run_once(loop, 0), 0);
	CHECK_EQ(r.freed, 2 * PAIRS);
	finish(loop);
	for (int i = 0; i < 2 * PAIRS; i++)
		close(fds[i]);
}

const struct test tests[] = {
	{ "closed_then_number_reused_without_new_watch",
	  closed_then_number_reused_without_new_watch },
	{ "dup_closed_original_still_watched", dup_closed_original_still_watched },
	{ "watched_closed_while_dup_keeps_file_open",
	  watched_closed_while_dup_keeps_file_open },
	{ "removed_after_close_while_dup_lives",
	  removed_after_close_while_dup_lives },
	{ "regular_file_closed_while_watched", regular_file_closed_while_watched },
	{ "fork_child_uses_loop_parent_unaffected",
	  fork_child_uses_loop_parent_unaffected },
	{ "fork_child_closes_inherited_fd", fork_child_closes_inherited_fd },
	{ "fork_child_out_of_descriptors", fork_child_out_of_descriptors },
	{ "descriptor_limit", descriptor_limit },
	{ "hundred_thousand_timers", hundred_thousand_timers },
	{ "nineteen_thousand_watches", nineteen_thousand_watches },
	{ NULL, NULL },
};
