/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Multi-threaded stress: worker threads add, update and remove watches and
 * timers at random while the loop runs, callbacks remove and update their
 * own registrations, and at the end every registration's free callback ran
 * exactly once, no callback ran after its registration's removal returned on
 * the loop thread or after its free callback, and the loop is empty.
 *
 * Usage: stress MODE [SECONDS]
 *   MODE    thread   the loop runs in vev_loop_start_thread()'s helper
 *           runonce  the main thread runs vev_run_once() in a loop
 *           embed    the main thread is a host loop: it blocks in poll(2)
 *                    on vev_loop_fd() with no timeout and runs
 *                    vev_run_once(VEV_NO_WAIT) whenever that is readable;
 *                    another thread keeps the time, and at the end, with
 *                    the workers stopped, makes changes one at a time that
 *                    the sleeping host must see (a stale descriptor hangs
 *                    it: each wait is bounded, and so is the whole run)
 *   SECONDS how long the workers run (default 5); the environment variable
 *           VEVENT_STRESS_SECONDS overrides it (long runs by hand).
 * The backend is VEVENT_BACKEND's.  Shared test state is only atomics, so
 * the test itself is clean under ThreadSanitizer.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <vevent/vevent.h>

#define WORKERS 4
#define SLOTS 48 /* registrations a worker keeps at a time */
#define FD_SCAN 1024

#define FAIL(...)                                                          \
	do {                                                               \
		fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);            \
		fprintf(stderr, __VA_ARGS__);                              \
		fprintf(stderr, "\nFAILED (stress)\n");                    \
		fflush(stderr);                                            \
		abort();                                                   \
	} while (0)
#define CHECK(cond, ...)                     \
	do {                                 \
		if (!(cond))                 \
			FAIL(__VA_ARGS__);   \
	} while (0)

/* One registration.  Written by its worker before the add and read by the
 * loop thread in callbacks; everything shared is atomic. */
struct reg {
	bool is_timer;
	int fds[2];           /* a watch's own pipe or socket pair */
	int fd;               /* the end it watches */
	atomic_int id;        /* 0 until the add returned */
	atomic_bool ever_enabled; /* set before any add/update that enables */
	atomic_int removes_tried; /* remove calls begun */
	atomic_int removes_ok;    /* successful remove calls: at most 1 */
	atomic_bool removed_on_loop; /* a remove returned on the loop thread */
	atomic_int ff_runs;
	atomic_uint calls;
	unsigned seed; /* the loop thread's dice for this registration */
};

static vev_loop *loop;
static int64_t deadline_ms; /* when the workers stop */
static atomic_bool stop_workers;
static atomic_ulong loop_thread; /* pthread_self() of the loop thread */
static atomic_bool loop_thread_known;
static atomic_bool loop_stopped; /* free callbacks may now run on main */
static atomic_ullong n_ops, n_callbacks, n_frees, n_regs, n_loop_removes;

static unsigned long self_id(void)
{
	return (unsigned long)pthread_self();
}

static unsigned long main_thread;

static void on_loop_thread(const char *what, bool is_ff)
{
	unsigned long me = self_id();
	if (!atomic_load(&loop_thread_known)) {
		/* Only the loop thread calls here before it is known. */
		atomic_store(&loop_thread, me);
		atomic_store(&loop_thread_known, true);
		return;
	}
	if (atomic_load(&loop_thread) == me)
		return;
	/* vev_loop_stop_thread() runs the last free callbacks on its
	 * caller once the helper thread has ended. */
	CHECK(is_ff && atomic_load(&loop_stopped) && me == main_thread,
	      "%s ran off the loop thread", what);
}

static unsigned dice(unsigned *seed)
{
	/* xorshift32 */
	unsigned x = *seed ? *seed : 0x9e3779b9u;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*seed = x;
	return x;
}

static int random_period(unsigned *seed)
{
	static const int periods[] = { 0, 0, 1, 1, -1, 3600000 };
	return periods[dice(seed) % 6];
}

static int random_events(unsigned *seed)
{
	static const int events[] = { VEV_READABLE, VEV_READABLE,
				      VEV_WRITABLE, VEV_READABLE | VEV_WRITABLE,
				      0, VEV_HANGUP };
	return events[dice(seed) % 6];
}

/* ---- callbacks (loop thread) ------------------------------------------- */

static void check_live(struct reg *r, int id, const char *what)
{
	on_loop_thread(what, false);
	CHECK(atomic_load(&r->ff_runs) == 0, "%s %d called after its free "
	      "callback", what, id);
	CHECK(!atomic_load(&r->removed_on_loop), "%s %d called after its "
	      "removal returned on the loop thread", what, id);
	CHECK(atomic_load(&r->ever_enabled), "%s %d called but never enabled",
	      what, id);
	int known = atomic_load(&r->id);
	CHECK(known == 0 || known == id, "%s %d called with the opaque of %d",
	      what, id, known);
	atomic_fetch_add(&r->calls, 1);
	atomic_fetch_add(&n_callbacks, 1);
}

/* Loop-thread removal: from here on no callback of r may run. */
static void remove_on_loop(struct reg *r, int id)
{
	atomic_fetch_add(&r->removes_tried, 1);
	int rc = r->is_timer ? vev_remove_timer(loop, id) :
			       vev_remove_handle(loop, id);
	if (rc == 0) {
		CHECK(atomic_fetch_add(&r->removes_ok, 1) == 0, "%d removed "
		      "twice", id);
		atomic_store(&r->removed_on_loop, true);
		atomic_fetch_add(&n_loop_removes, 1);
	} else {
		CHECK(rc == -ENOENT, "remove of %d from its callback: %d", id,
		      rc);
	}
}

static void handle_cb(int watch, int fd, int events, void *opaque)
{
	struct reg *r = opaque;
	char buf[64];

	check_live(r, watch, "watch");
	CHECK(fd == r->fd, "watch %d: fd %d, registered %d", watch, fd, r->fd);
	CHECK(events != 0 && (events & ~(VEV_READABLE | VEV_WRITABLE |
					 VEV_ERROR | VEV_HANGUP)) == 0,
	      "watch %d: events 0x%x", watch, events);
	switch (dice(&r->seed) % 8) {
	case 0:
		remove_on_loop(r, watch);
		break;
	case 1: {
		int ev = random_events(&r->seed);
		if (ev)
			atomic_store(&r->ever_enabled, true);
		int rc = vev_update_handle(loop, watch, ev);
		/* -ENOENT: a worker removed it meanwhile */
		CHECK(rc == 0 || rc == -ENOENT, "update of watch %d from its "
		      "callback: %d", watch, rc);
		break;
	}
	case 2:
	case 3:
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		break;
	case 4:
		/* keep the other end busy (the descriptors live until ff) */
		(void)!write(r->fds[1], "y", 1);
		break;
	default:
		break;
	}
}

static void timer_cb(int timer, void *opaque)
{
	struct reg *r = opaque;

	check_live(r, timer, "timer");
	switch (dice(&r->seed) % 8) {
	case 0:
		remove_on_loop(r, timer);
		break;
	case 1: {
		int p = random_period(&r->seed);
		if (p >= 0)
			atomic_store(&r->ever_enabled, true);
		int rc = vev_update_timer(loop, timer, p);
		CHECK(rc == 0 || rc == -ENOENT, "update of timer %d from its "
		      "callback: %d", timer, rc);
		break;
	}
	default:
		break;
	}
}

static void free_cb(void *opaque)
{
	struct reg *r = opaque;

	on_loop_thread("free callback", true);
	/* A removal from another thread counts its success after the call
	 * returns, which may be after this runs: count the attempt. */
	CHECK(atomic_load(&r->removes_tried) > 0, "free callback of %d "
	      "before any removal", atomic_load(&r->id));
	if (!r->is_timer) {
		/* The usual pattern: the watch's descriptors die with it. */
		close(r->fds[0]);
		close(r->fds[1]);
	}
	atomic_fetch_add(&n_frees, 1);
	CHECK(atomic_fetch_add(&r->ff_runs, 1) == 0, "free callback of %d ran "
	      "twice", atomic_load(&r->id));
}

/* ---- workers ------------------------------------------------------------ */

static struct reg *new_reg(unsigned *seed)
{
	struct reg *r = calloc(1, sizeof(*r));
	CHECK(r, "out of memory");
	r->is_timer = dice(seed) % 2;
	r->seed = dice(seed) | 1;
	int rc;

	if (r->is_timer) {
		int p = random_period(seed);
		if (p >= 0)
			atomic_store(&r->ever_enabled, true);
		rc = vev_add_timer(loop, p, timer_cb, r, free_cb);
	} else {
		if (dice(seed) % 2)
			CHECK(pipe2(r->fds, O_NONBLOCK | O_CLOEXEC) == 0,
			      "pipe2: %s", strerror(errno));
		else
			CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
						     SOCK_CLOEXEC, 0, r->fds) == 0,
			      "socketpair: %s", strerror(errno));
		r->fd = r->fds[0];
		if (dice(seed) % 2) /* data ready, or not */
			CHECK(write(r->fds[1], "x", 1) == 1, "write: %s",
			      strerror(errno));
		int ev = random_events(seed);
		if (ev)
			atomic_store(&r->ever_enabled, true);
		rc = vev_add_handle(loop, r->fd, ev, handle_cb, r, free_cb);
	}
	CHECK(rc > 0, "add: %d (%s)", rc, vev_last_error());
	atomic_store(&r->id, rc);
	atomic_fetch_add(&n_regs, 1);
	return r;
}

/* A registration whose free callback ran: check its story, then forget it. */
static void retire(struct reg *r)
{
	CHECK(atomic_load(&r->removes_ok) == 1 &&
	      atomic_load(&r->ff_runs) == 1, "%s %d: %d removals, %d free "
	      "callbacks", r->is_timer ? "timer" : "watch",
	      atomic_load(&r->id), atomic_load(&r->removes_ok),
	      atomic_load(&r->ff_runs));
	free(r);
}

struct worker {
	pthread_t thread;
	unsigned seed;
	struct reg *slots[SLOTS];
	unsigned long long ops;
};

static struct worker workers[WORKERS];

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	while (!atomic_load_explicit(&stop_workers, memory_order_relaxed)) {
		unsigned s = dice(&w->seed) % SLOTS;
		struct reg *r = w->slots[s];
		int rc;

		w->ops++;
		/* Two cores, five threads: give the loop thread its turns. */
		if (w->ops % 4 == 0)
			sched_yield();
		if (!r) {
			w->slots[s] = new_reg(&w->seed);
			continue;
		}
		int id = atomic_load(&r->id);
		if (atomic_load(&r->removes_ok)) {
			if (atomic_load(&r->ff_runs)) {
				retire(r);
				w->slots[s] = NULL;
				continue;
			}
			/* Removed, free callback pending: the id is dead.
			 * Let the loop thread run its free callback. */
			rc = r->is_timer ? vev_update_timer(loop, id, 0) :
					   vev_update_handle(loop, id, 1);
			CHECK(rc == -ENOENT, "update of removed %d: %d", id, rc);
			sched_yield();
			continue;
		}
		switch (dice(&w->seed) % 6) {
		case 0:
		case 1:
			atomic_fetch_add(&r->removes_tried, 1);
			rc = r->is_timer ? vev_remove_timer(loop, id) :
					   vev_remove_handle(loop, id);
			if (rc == 0)
				CHECK(atomic_fetch_add(&r->removes_ok, 1) == 0,
				      "%d removed twice", id);
			else /* its callback removed it meanwhile */
				CHECK(rc == -ENOENT, "remove %d: %d", id, rc);
			break;
		case 2:
		case 3:
			if (r->is_timer) {
				int p = random_period(&w->seed);
				if (p >= 0)
					atomic_store(&r->ever_enabled, true);
				rc = vev_update_timer(loop, id, p);
			} else {
				int ev = random_events(&w->seed);
				if (ev)
					atomic_store(&r->ever_enabled, true);
				rc = vev_update_handle(loop, id, ev);
			}
			CHECK(rc == 0 || rc == -ENOENT, "update %d: %d", id, rc);
			break;
		case 4:
			if (dice(&w->seed) % 64 == 0) {
				rc = vev_loop_verify(loop);
				CHECK(rc == 0, "verify: %d (%s)", rc,
				      vev_last_error());
			} else {
				uint64_t v;
				CHECK(vev_loop_stat(loop, VEV_STAT_HANDLES,
						    &v) == 0, "stat");
			}
			break;
		default:
			/* an id of another kind or never handed out */
			rc = r->is_timer ? vev_remove_handle(loop, INT32_MAX) :
					   vev_remove_timer(loop, -1);
			CHECK(rc == -ENOENT, "remove of unknown id: %d", rc);
			break;
		}
	}
	return NULL;
}

/* ---- the end of the run ------------------------------------------------ */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Stop the workers, then remove what they left while the loop may still run
 * callbacks that remove themselves: exactly one removal succeeds per
 * registration.  on_loop: the caller is the loop thread. */
static void stop_and_remove_all(bool on_loop)
{
	atomic_store(&stop_workers, true);
	for (int i = 0; i < WORKERS; i++)
		pthread_join(workers[i].thread, NULL);

	for (int i = 0; i < WORKERS; i++) {
		for (int s = 0; s < SLOTS; s++) {
			struct reg *r = workers[i].slots[s];
			if (!r || atomic_load(&r->removes_ok))
				continue;
			int id = atomic_load(&r->id);
			atomic_fetch_add(&r->removes_tried, 1);
			int rc = r->is_timer ? vev_remove_timer(loop, id) :
					       vev_remove_handle(loop, id);
			if (rc == 0) {
				CHECK(atomic_fetch_add(&r->removes_ok, 1) == 0,
				      "%d removed twice", id);
				if (on_loop)
					atomic_store(&r->removed_on_loop, true);
			} else {
				CHECK(rc == -ENOENT, "final remove %d: %d", id,
				      rc);
			}
		}
	}
}

/* ---- embed mode: a host loop and the thread that keeps the time --------- */

#define PROBE_WAIT_MS 10000 /* for one change to show: a hang, really */
#define PROBE_ROUNDS 3

static int embed_fd;
static atomic_bool host_in_poll; /* the host is (about to be) in poll(2) */
static atomic_bool host_done;
static int report[2]; /* probe callbacks write a byte here */

/* A registration made by the time keeper to see the host react. */
struct probe {
	int fds[2];   /* a watch's pipe */
	bool last;    /* its callback ends the host loop */
	int id;       /* for the time keeper's own use */
};

static void probe_report(void)
{
	CHECK(write(report[1], "p", 1) == 1, "report: %s", strerror(errno));
}

/* (The id comes from the loop: the adding thread may not have stored it
 * yet.) */
static void probe_fired(struct probe *p, int id, bool timer)
{
	on_loop_thread("probe", false);
	atomic_fetch_add(&n_callbacks, 1);
	int rc = timer ? vev_remove_timer(loop, id) :
			 vev_remove_handle(loop, id);
	CHECK(rc == 0, "probe %d removing itself: %d", id, rc);
	if (p->last)
		atomic_store(&host_done, true);
	probe_report();
}

static void probe_timer_cb(int timer, void *opaque)
{
	probe_fired(opaque, timer, true);
}

static void probe_handle_cb(int watch, int fd, int events, void *opaque)
{
	char c;
	CHECK(read(fd, &c, 1) == 1, "probe watch %d (events 0x%x): read: %s",
	      watch, events, strerror(errno));
	probe_fired(opaque, watch, false);
}

static void probe_free_cb(void *opaque)
{
	struct probe *p = opaque;

	on_loop_thread("probe free callback", true);
	if (p->fds[0] >= 0) {
		close(p->fds[0]);
		close(p->fds[1]);
	}
	atomic_fetch_add(&n_frees, 1);
	probe_report();
}

/* Wait for n reports of the host having run a probe's callback or free
 * callback. */
static void await_reports(const char *what, int n)
{
	for (int i = 0; i < n; i++) {
		struct pollfd p = { .fd = report[0], .events = POLLIN };
		int rc;
		do
			rc = poll(&p, 1, PROBE_WAIT_MS);
		while (rc < 0 && errno == EINTR);
		CHECK(rc == 1, "the host, asleep in poll(2) on vev_loop_fd(), "
		      "did not see %s within %d ms: stale descriptor",
		      what, PROBE_WAIT_MS);
		char c;
		CHECK(read(report[0], &c, 1) == 1, "report: %s",
		      strerror(errno));
	}
}

/* Wait until the host has gone back to poll(2), so that the next change is
 * made while it sleeps, with no other reason to wake up (everything else is
 * removed).  Bounded by the watchdog. */
static void when_host_sleeps(void)
{
	while (!atomic_load(&host_in_poll))
		sched_yield();
}

static struct probe *new_probe(void)
{
	struct probe *p = calloc(1, sizeof(*p));
	CHECK(p, "out of memory");
	p->fds[0] = p->fds[1] = -1;
	atomic_fetch_add(&n_regs, 1);
	return p;
}

static void add_probe_timer(struct probe *p, int period)
{
	int id = vev_add_timer(loop, period, probe_timer_cb, p, probe_free_cb);
	CHECK(id > 0, "probe timer: %d (%s)", id, vev_last_error());
	p->id = id;
}

static void probe_round(void)
{
	struct probe *p[5];
	for (int i = 0; i < 5; i++)
		p[i] = new_probe();

	when_host_sleeps();
	add_probe_timer(p[0], 0);
	await_reports("a 0 ms timer added by another thread", 2);

	when_host_sleeps();
	add_probe_timer(p[1], 1);
	await_reports("a 1 ms timer added by another thread", 2);

	add_probe_timer(p[2], -1);
	when_host_sleeps();
	CHECK(vev_update_timer(loop, p[2]->id, 0) == 0,
	      "update probe: %s", vev_last_error());
	await_reports("a disabled timer updated to 0 ms by another thread", 2);

	add_probe_timer(p[3], 3600000);
	when_host_sleeps();
	CHECK(vev_remove_timer(loop, p[3]->id) == 0,
	      "remove probe: %s", vev_last_error());
	await_reports("a timer removed by another thread (free callback)", 1);

	CHECK(pipe2(p[4]->fds, O_NONBLOCK | O_CLOEXEC) == 0, "pipe2: %s",
	      strerror(errno));
	int id = vev_add_handle(loop, p[4]->fds[0], VEV_READABLE,
				probe_handle_cb, p[4], probe_free_cb);
	CHECK(id > 0, "probe watch: %d (%s)", id, vev_last_error());
	when_host_sleeps();
	CHECK(write(p[4]->fds[1], "x", 1) == 1, "write: %s", strerror(errno));
	await_reports("a watched pipe becoming readable", 2);

	for (int i = 0; i < 5; i++)
		free(p[i]); /* every free callback has reported */
}

static void *time_keeper(void *arg)
{
	while (now_ms() < deadline_ms)
		usleep(20000); /* the test's duration, nothing to wait on */
	stop_and_remove_all(false);
	for (int i = 0; i < PROBE_ROUNDS; i++)
		probe_round();
	/* The end of the host loop is a change the host must see, too. */
	struct probe *p = new_probe();
	p->last = true;
	when_host_sleeps();
	add_probe_timer(p, 0);
	await_reports("the last 0 ms timer, added by another thread", 2);
	free(p);
	return arg;
}

static void host_loop(void)
{
	struct pollfd p = { .fd = embed_fd, .events = POLLIN };

	while (!atomic_load(&host_done)) {
		int n;
		atomic_store(&host_in_poll, true);
		do
			n = poll(&p, 1, -1);
		while (n < 0 && errno == EINTR);
		atomic_store(&host_in_poll, false);
		CHECK(n == 1 && p.revents == POLLIN, "host poll: %d, revents "
		      "0x%x (%s)", n, p.revents, strerror(errno));
		int rc = vev_run_once(loop, VEV_NO_WAIT);
		CHECK(rc >= 0, "vev_run_once: %d (%s)", rc, vev_last_error());
	}
}

static void on_watchdog(int sig)
{
	static const char msg[] = "stress: still running at the watchdog's "
				  "deadline (a host asleep on a stale "
				  "descriptor?)\nFAILED (stress)\n";
	(void)!write(STDERR_FILENO, msg, sizeof(msg) - 1);
	abort();
}

/* ---- main --------------------------------------------------------------- */

static uint64_t stat_of(enum vev_stat which)
{
	uint64_t v = 0;
	CHECK(vev_loop_stat(loop, which, &v) == 0, "stat %d", (int)which);
	return v;
}

static void scan_fds(bool *open_now)
{
	for (int fd = 0; fd < FD_SCAN; fd++)
		open_now[fd] = fcntl(fd, F_GETFD) >= 0;
}

int main(int argc, char **argv)
{
	static bool fds_before[FD_SCAN], fds_after[FD_SCAN];
	bool thread_mode, embed_mode;
	double seconds = 5;

	if (argc < 2 || (strcmp(argv[1], "thread") != 0 &&
			 strcmp(argv[1], "runonce") != 0 &&
			 strcmp(argv[1], "embed") != 0)) {
		fprintf(stderr, "usage: %s thread|runonce|embed [SECONDS]\n",
			argv[0]);
		return 2;
	}
	thread_mode = strcmp(argv[1], "thread") == 0;
	embed_mode = strcmp(argv[1], "embed") == 0;
	if (argc > 2)
		seconds = atof(argv[2]);
	const char *env = getenv("VEVENT_STRESS_SECONDS");
	if (env && *env)
		seconds = atof(env);
	signal(SIGPIPE, SIG_IGN);
	main_thread = self_id();
	scan_fds(fds_before);

	CHECK(vev_loop_new(&loop, VEV_LOOP_AUTO) == 0, "vev_loop_new: %s",
	      vev_last_error());
	if (thread_mode) {
		CHECK(vev_loop_start_thread(loop) == 0, "start_thread: %s",
		      vev_last_error());
	} else {
		atomic_store(&loop_thread, self_id());
		atomic_store(&loop_thread_known, true);
	}
	if (embed_mode) {
		embed_fd = vev_loop_fd(loop);
		CHECK(embed_fd >= 0, "vev_loop_fd: %s", vev_last_error());
		CHECK(pipe2(report, O_CLOEXEC) == 0, "pipe2: %s",
		      strerror(errno));
		/* Before the harness's own timeout, with a message. */
		signal(SIGALRM, on_watchdog);
		alarm((unsigned)(3 * seconds) + 40);
	}

	int64_t start = now_ms();
	deadline_ms = start + (int64_t)(seconds * 1000);
	for (int i = 0; i < WORKERS; i++) {
		workers[i].seed = 0x12345u * (unsigned)(i + 1) ^
				  (unsigned)time(NULL);
		CHECK(pthread_create(&workers[i].thread, NULL, worker_main,
				     &workers[i]) == 0, "pthread_create");
	}
	if (thread_mode) {
		while (now_ms() < deadline_ms)
			usleep(20000); /* the test's duration, nothing to wait on */
		stop_and_remove_all(false);
		atomic_store(&loop_stopped, true);
		CHECK(vev_loop_stop_thread(loop) == 0, "stop_thread: %s",
		      vev_last_error());
	} else if (embed_mode) {
		pthread_t keeper;
		CHECK(pthread_create(&keeper, NULL, time_keeper, NULL) == 0,
		      "pthread_create");
		host_loop();
		pthread_join(keeper, NULL);
		alarm(0);
		CHECK(vev_run_once(loop, VEV_NO_WAIT) >= 0, "last run: %s",
		      vev_last_error());
		close(report[0]);
		close(report[1]);
	} else {
		while (now_ms() < deadline_ms) {
			int rc = vev_run_once(loop, 10);
			CHECK(rc >= 0, "vev_run_once: %d (%s)", rc,
			      vev_last_error());
		}
		/* Here the main thread is the loop thread. */
		stop_and_remove_all(true);
		CHECK(vev_run_once(loop, VEV_NO_WAIT) >= 0, "last run: %s",
		      vev_last_error());
	}
	int drained = vev_loop_drain(loop);
	CHECK(drained == 0, "free callbacks still pending after the loop "
	      "stopped: %d", drained);

	for (int i = 0; i < WORKERS; i++) {
		for (int s = 0; s < SLOTS; s++)
			if (workers[i].slots[s])
				retire(workers[i].slots[s]);
		n_ops += workers[i].ops;
	}
	CHECK(stat_of(VEV_STAT_HANDLES) == 0, "watches left: %llu",
	      (unsigned long long)stat_of(VEV_STAT_HANDLES));
	CHECK(stat_of(VEV_STAT_TIMERS) == 0, "timers left: %llu",
	      (unsigned long long)stat_of(VEV_STAT_TIMERS));
	CHECK(stat_of(VEV_STAT_PENDING_FREES) == 0, "pending frees: %llu",
	      (unsigned long long)stat_of(VEV_STAT_PENDING_FREES));
	CHECK(stat_of(VEV_STAT_FREE_CALLS) == atomic_load(&n_frees),
	      "VEV_STAT_FREE_CALLS %llu, counted %llu",
	      (unsigned long long)stat_of(VEV_STAT_FREE_CALLS),
	      (unsigned long long)atomic_load(&n_frees));
	CHECK(stat_of(VEV_STAT_HANDLE_CALLS) + stat_of(VEV_STAT_TIMER_CALLS) ==
		      atomic_load(&n_callbacks),
	      "callback counters differ from the callbacks counted");
	CHECK(atomic_load(&n_frees) == atomic_load(&n_regs),
	      "%llu registrations, %llu free callbacks",
	      (unsigned long long)atomic_load(&n_regs),
	      (unsigned long long)atomic_load(&n_frees));
	int rc = vev_loop_verify(loop);
	CHECK(rc == 0, "verify: %d (%s)", rc, vev_last_error());
	const char *backend = vev_loop_backend(loop);
	char backend_name[16];
	snprintf(backend_name, sizeof(backend_name), "%s", backend);
	uint64_t iterations = stat_of(VEV_STAT_ITERATIONS);
	CHECK(vev_loop_free(loop) == 0, "vev_loop_free");

	scan_fds(fds_after);
	for (int fd = 0; fd < FD_SCAN; fd++)
		CHECK(fds_before[fd] == fds_after[fd], "descriptor %d %s", fd,
		      fds_after[fd] ? "leaked" : "closed");
	printf("stress %s/%s: %d workers, %.1f s, %llu operations, %llu "
	       "registrations, %llu callbacks, %llu removals from callbacks, "
	       "%llu free callbacks, %llu iterations\n",
	       backend_name, argv[1], WORKERS, (now_ms() - start) / 1000.0,
	       (unsigned long long)n_ops, (unsigned long long)n_regs,
	       (unsigned long long)n_callbacks,
	       (unsigned long long)n_loop_removes, (unsigned long long)n_frees,
	       (unsigned long long)iterations);
	return 0;
}
