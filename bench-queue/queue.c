/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Throughput of events from producer threads to the loop thread, where a
 * callback consumes each one (checking that each producer's events arrive
 * once and in order).  The paths:
 *
 *   vev_queue      vevent's event queue (vevent/queue.h)
 *   compat-pipe    each event written to a pipe (8 bytes, one write(2) per
 *                  event) watched with virEventAddHandle; the callback
 *                  reads until the pipe is empty
 *   compat-timer0  libvirt's own object-event queue design: a mutex-guarded
 *                  array; the post that makes it non-empty calls
 *                  virEventUpdateTimeout(timer, 0); the timer callback
 *                  swaps the array out, disarms the timer and dispatches
 *   compat-timer0-every  the same, arming the timer on every post
 *   uv-async       libuv: the same mutex-guarded array, uv_async_send()
 *                  after every post (libuv coalesces them)
 *
 * The compat paths use the libvirt API on vevent-compat or, built with
 * QB_LIBVIRT, on the real libvirt's default implementation (same code).
 * Every queue holds at most CAPACITY events (the pipe is sized to as many);
 * a producer finding it full yields and retries.
 *
 * The loop thread is pinned to CPU 0 and the producers to CPU 1 when there
 * is one.  Each measurement runs in a fresh process (the compat API has one
 * process-wide default loop).  Each round measures every path once, so that
 * a change in the machine's load affects all of them alike; the result is
 * the median over the rounds.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef QB_LIBVIRT
#include <libvirt/libvirt.h>
#else
#include <vevent/libvirt-event.h>
#include <vevent/queue.h>
#include <vevent/vevent.h>
#endif
#ifdef QB_HAVE_LIBUV
#include <uv.h>
#endif

_Static_assert(sizeof(uintptr_t) >= 8, "events carry 32-bit producer ids "
					"and 32-bit sequence numbers");

#define CAPACITY 4096
#define MAX_PRODUCERS 64

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "bench-queue: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void pin_cpu(int cpu)
{
	cpu_set_t set;

	if (sysconf(_SC_NPROCESSORS_ONLN) <= cpu)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	(void)sched_setaffinity(0, sizeof(set), &set);
}

/* ---- the consumer, on the loop thread ----------------------------------- */

static long total, per_producer;
static int nproducers;
static long consumed, batches, errors; /* loop thread only */
static long next_seq[MAX_PRODUCERS];
static atomic_bool done;
static uint64_t t_end;

static inline void consume(uintptr_t v)
{
	unsigned p = (unsigned)(v >> 32);
	long seq = (long)(v & 0xffffffffu) - 1;

	if (p >= (unsigned)nproducers || seq != next_seq[p])
		errors++;
	else
		next_seq[p]++;
	if (++consumed == total) {
		t_end = now_ns();
		atomic_store_explicit(&done, true, memory_order_release);
	}
}

static bool finished(void)
{
	return atomic_load_explicit(&done, memory_order_acquire);
}

/* ---- the paths ---------------------------------------------------------- */

struct path {
	const char *name;
	int (*setup)(void);
	void (*run_loop)(void);
	int (*post)(uintptr_t v); /* 0, or -EAGAIN when full */
	void (*teardown)(void);
	/* If set, called once the producers are done: run_loop returns only
	 * after it (otherwise, after the last event). */
	void (*stop)(void);
};

/* A mutex-guarded pair of arrays: producers fill one while the loop thread
 * consumes the other, as libvirt's object-event queue does. */
static pthread_mutex_t swap_lock = PTHREAD_MUTEX_INITIALIZER;
static uintptr_t swap_a[CAPACITY], swap_b[CAPACITY];
static uintptr_t *swap_cur = swap_a, *swap_spare = swap_b;
static long swap_len;

/* Lock held.  Returns the number of events now in *out. */
static long swap_take(uintptr_t **out)
{
	uintptr_t *full = swap_cur;
	long n = swap_len;
	swap_cur = swap_spare;
	swap_spare = full;
	swap_len = 0;
	*out = full;
	return n;
}

#ifndef QB_LIBVIRT
static vev_loop *vq_loop;
static vev_queue *vq;

static int vq_cb(vev_queue *q, void *payload, void *opaque)
{
	(void)q;
	(void)opaque;
	consume((uintptr_t)payload);
	return 0;
}

static int vq_setup(void)
{
	if (vev_loop_new(&vq_loop, VEV_LOOP_AUTO) < 0 ||
	    vev_queue_new(&vq, vq_loop, CAPACITY, VEV_QUEUE_REJECT_WHEN_FULL,
			  vq_cb, NULL, NULL, NULL) < 0)
		die("vev_queue: %s", vev_last_error());
	return 0;
}

static void vq_run_loop(void)
{
	while (!finished())
		if (vev_run_once(vq_loop, VEV_WAIT_FOREVER) < 0)
			die("vev_run_once: %s", vev_last_error());
}

static int vq_post(uintptr_t v)
{
	return vev_queue_post(vq, (void *)v);
}

static void vq_teardown(void)
{
	uint64_t calls = 0;
	vev_loop_stat(vq_loop, VEV_STAT_TIMER_CALLS, &calls);
	batches = (long)calls;
	vev_queue_free(vq);
	vev_loop_free(vq_loop);
}
#endif

static int cp_fds[2] = { -1, -1 };
static int cp_watch = -1;

static void cp_on_read(int watch, int fd, int events, void *opaque)
{
	uintptr_t buf[512];
	ssize_t n;

	(void)watch;
	(void)events;
	(void)opaque;
	batches++;
	do {
		n = read(fd, buf, sizeof(buf));
		/* 8-byte writes to a pipe are atomic: whole events only. */
		for (ssize_t i = 0; i < n / (ssize_t)sizeof(buf[0]); i++)
			consume(buf[i]);
	} while (n == (ssize_t)sizeof(buf));
}

static int cp_setup(void)
{
	if (virEventRegisterDefaultImpl() < 0)
		die("%s", "virEventRegisterDefaultImpl failed");
	if (pipe2(cp_fds, O_CLOEXEC) < 0)
		die("pipe: %s", strerror(errno));
	/* As many events as the other queues hold. */
	(void)fcntl(cp_fds[1], F_SETPIPE_SZ, CAPACITY * (int)sizeof(uintptr_t));
	fcntl(cp_fds[0], F_SETFL, O_NONBLOCK);
	cp_watch = virEventAddHandle(cp_fds[0], VIR_EVENT_HANDLE_READABLE,
				     cp_on_read, NULL, NULL);
	if (cp_watch < 0)
		die("%s", "virEventAddHandle failed");
	return 0;
}

static void compat_run_loop(void)
{
	while (!finished())
		if (virEventRunDefaultImpl() < 0)
			die("%s", "virEventRunDefaultImpl failed");
}

static int cp_post(uintptr_t v)
{
	ssize_t n;
	do
		n = write(cp_fds[1], &v, sizeof(v)); /* blocks when full */
	while (n < 0 && errno == EINTR);
	return n == (ssize_t)sizeof(v) ? 0 : -EIO;
}

static void cp_teardown(void)
{
	virEventRemoveHandle(cp_watch);
	close(cp_fds[0]);
	close(cp_fds[1]);
}

static int t0_timer = -1;
static bool t0_every;

static void t0_on_timer(int timer, void *opaque)
{
	uintptr_t *ev;
	long n;

	(void)opaque;
	pthread_mutex_lock(&swap_lock);
	n = swap_take(&ev);
	virEventUpdateTimeout(timer, -1);
	pthread_mutex_unlock(&swap_lock);
	batches++;
	for (long i = 0; i < n; i++)
		consume(ev[i]);
}

static int t0_setup(void)
{
	if (virEventRegisterDefaultImpl() < 0)
		die("%s", "virEventRegisterDefaultImpl failed");
	t0_timer = virEventAddTimeout(-1, t0_on_timer, NULL, NULL);
	if (t0_timer < 0)
		die("%s", "virEventAddTimeout failed");
	return 0;
}

static int t0_every_setup(void)
{
	t0_every = true;
	return t0_setup();
}

static int t0_post(uintptr_t v)
{
	pthread_mutex_lock(&swap_lock);
	if (swap_len == CAPACITY) {
		pthread_mutex_unlock(&swap_lock);
		return -EAGAIN;
	}
	swap_cur[swap_len++] = v;
	if (t0_every || swap_len == 1)
		virEventUpdateTimeout(t0_timer, 0);
	pthread_mutex_unlock(&swap_lock);
	return 0;
}

static void t0_teardown(void)
{
	virEventRemoveTimeout(t0_timer);
}

#ifdef QB_HAVE_LIBUV
static uv_loop_t ua_loop;
static uv_async_t ua_async, ua_stop_async;

static void ua_on_async(uv_async_t *a)
{
	uintptr_t *ev;
	long n;

	pthread_mutex_lock(&swap_lock);
	n = swap_take(&ev);
	pthread_mutex_unlock(&swap_lock);
	batches++;
	for (long i = 0; i < n; i++)
		consume(ev[i]);
}

/* Not from ua_on_async(): a producer may still be inside its last
 * uv_async_send() when the last event has been consumed. */
static void ua_on_stop(uv_async_t *a)
{
	uv_close((uv_handle_t *)&ua_async, NULL);
	uv_close((uv_handle_t *)a, NULL);
}

static void ua_stop(void)
{
	uv_async_send(&ua_stop_async);
}

static int ua_setup(void)
{
	if (uv_loop_init(&ua_loop) != 0 ||
	    uv_async_init(&ua_loop, &ua_async, ua_on_async) != 0 ||
	    uv_async_init(&ua_loop, &ua_stop_async, ua_on_stop) != 0)
		die("%s", "libuv setup failed");
	return 0;
}

static void ua_run_loop(void)
{
	uv_run(&ua_loop, UV_RUN_DEFAULT);
}

static int ua_post(uintptr_t v)
{
	pthread_mutex_lock(&swap_lock);
	if (swap_len == CAPACITY) {
		pthread_mutex_unlock(&swap_lock);
		return -EAGAIN;
	}
	swap_cur[swap_len++] = v;
	pthread_mutex_unlock(&swap_lock);
	uv_async_send(&ua_async);
	return 0;
}

static void ua_teardown(void)
{
	uv_loop_close(&ua_loop);
}
#endif

static const struct path paths[] = {
#ifndef QB_LIBVIRT
	{ "vev_queue", vq_setup, vq_run_loop, vq_post, vq_teardown, NULL },
#endif
	{ "compat-pipe", cp_setup, compat_run_loop, cp_post, cp_teardown,
	  NULL },
	{ "compat-timer0", t0_setup, compat_run_loop, t0_post, t0_teardown,
	  NULL },
	{ "compat-timer0-every", t0_every_setup, compat_run_loop, t0_post,
	  t0_teardown, NULL },
#ifdef QB_HAVE_LIBUV
	{ "uv-async", ua_setup, ua_run_loop, ua_post, ua_teardown,
	  ua_stop },
#endif
};
#define NPATHS (sizeof(paths) / sizeof(paths[0]))

/* ---- one measurement ---------------------------------------------------- */

static const struct path *path;
static pthread_barrier_t start;
static atomic_long full_retries;

static void *loop_thread(void *arg)
{
	(void)arg;
	pin_cpu(0);
	path->run_loop();
	return NULL;
}

static void *producer(void *arg)
{
	uintptr_t id = (uintptr_t)arg;
	long retries = 0;

	pin_cpu(1);
	pthread_barrier_wait(&start);
	for (long i = 0; i < per_producer; i++) {
		uintptr_t v = id << 32 | (uintptr_t)(i + 1);
		int rc;
		while ((rc = path->post(v)) == -EAGAIN) {
			retries++;
			sched_yield();
		}
		if (rc < 0)
			die("%s: post failed", path->name);
	}
	atomic_fetch_add(&full_retries, retries);
	return NULL;
}

struct result {
	double events_per_s;
	double events_per_batch;
	double retries_per_event;
	long errors;
	long consumed;
};

static struct result measure(void)
{
	pthread_t loop, prod[MAX_PRODUCERS];
	struct result r;
	uint64_t t0;

	path->setup();
	pthread_barrier_init(&start, NULL, (unsigned)nproducers + 1);
	pthread_create(&loop, NULL, loop_thread, NULL);
	for (int i = 0; i < nproducers; i++)
		pthread_create(&prod[i], NULL, producer, (void *)(uintptr_t)i);
	t0 = now_ns();
	pthread_barrier_wait(&start);
	for (int i = 0; i < nproducers; i++)
		pthread_join(prod[i], NULL);
	if (path->stop)
		path->stop();
	pthread_join(loop, NULL);
	path->teardown();
	r.events_per_s = (double)total * 1e9 / (double)(t_end - t0);
	r.events_per_batch = batches ? (double)consumed / (double)batches : 0;
	r.retries_per_event = (double)atomic_load(&full_retries) /
			      (double)total;
	r.errors = errors;
	r.consumed = consumed;
	return r;
}

/* In a child process: the compat API's default loop is process-wide. */
static struct result measure_in_child(void)
{
	struct result r;
	int p[2];
	pid_t pid;
	int status;

	if (pipe(p) < 0)
		die("pipe: %s", strerror(errno));
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		close(p[0]);
		r = measure();
		if (write(p[1], &r, sizeof(r)) != (ssize_t)sizeof(r))
			_exit(2);
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &r, sizeof(r)) != (ssize_t)sizeof(r))
		die("%s: the measurement failed", path->name);
	close(p[0]);
	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("%s: the measurement failed", path->name);
	return r;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: bench-queue [--events N] [--producers P] "
		"[--repeats R] [--paths a,b,...] [--smoke]\n"
		"paths:");
	for (size_t i = 0; i < NPATHS; i++)
		fprintf(stderr, " %s", paths[i].name);
	fputc('\n', stderr);
	exit(2);
}

int main(int argc, char **argv)
{
	long events = 2000000;
	int repeats = 5;
	const char *only = NULL;
	bool smoke = false;

	nproducers = 1;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--smoke") == 0)
			smoke = true;
		else if (i + 1 < argc && strcmp(argv[i], "--events") == 0)
			events = atol(argv[++i]);
		else if (i + 1 < argc && strcmp(argv[i], "--producers") == 0)
			nproducers = atoi(argv[++i]);
		else if (i + 1 < argc && strcmp(argv[i], "--repeats") == 0)
			repeats = atoi(argv[++i]);
		else if (i + 1 < argc && strcmp(argv[i], "--paths") == 0)
			only = argv[++i];
		else
			usage();
	}
	if (smoke) {
		events = 20000;
		repeats = 1;
	}
	if (nproducers < 1 || nproducers > MAX_PRODUCERS || repeats < 1 ||
	    repeats > 101 || events < nproducers)
		usage();
	per_producer = events / nproducers;
	total = per_producer * nproducers;

#ifdef QB_LIBVIRT
	unsigned long v = 0;
	virGetVersion(&v, NULL, NULL);
	printf("# compat paths on libvirt %lu.%lu.%lu\n", v / 1000000,
	       v / 1000 % 1000, v % 1000);
#else
	printf("# vevent %s; compat paths on vevent-compat\n", vev_version());
#endif
	printf("# %ld events, %d producer(s), capacity %d, median of %d\n",
	       total, nproducers, CAPACITY, repeats);
	printf("%-22s %14s %10s %10s %12s %12s\n", "path", "events/s", "min",
	       "max", "events/wake", "full/event");

	static double eps[NPATHS][101], per_batch[NPATHS], retries[NPATHS];
	bool chosen[NPATHS];
	for (size_t k = 0; k < NPATHS; k++)
		chosen[k] = !only || strstr(only, paths[k].name);
	for (int r = 0; r < repeats; r++) {
		for (size_t k = 0; k < NPATHS; k++) {
			if (!chosen[k])
				continue;
			path = &paths[k];
			struct result res = measure_in_child();
			if (res.errors || res.consumed != total) {
				fprintf(stderr, "%s: %ld events consumed, %ld "
					"out of order or unknown\n", path->name,
					res.consumed, res.errors);
				return 1;
			}
			eps[k][r] = res.events_per_s;
			per_batch[k] += res.events_per_batch / repeats;
			retries[k] += res.retries_per_event / repeats;
		}
	}
	double first = 0;
	for (size_t k = 0; k < NPATHS; k++) {
		if (!chosen[k])
			continue;
		qsort(eps[k], (size_t)repeats, sizeof(eps[k][0]), cmp_double);
		double median = eps[k][repeats / 2];
		if (first == 0)
			first = median;
		printf("%-22s %14.0f %10.0f %10.0f %12.1f %12.3f   %.2fx\n",
		       paths[k].name, median, eps[k][0], eps[k][repeats - 1],
		       per_batch[k], retries[k], median / first);
	}
	return 0;
}
