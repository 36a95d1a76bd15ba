/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers shared by every benchmark program. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bk.h"

void (*bk_io_cb)(int fd, void *opaque);
void (*bk_timer_cb)(void *opaque);
void (*bk_tick_cb)(void);
void (*bk_wake_cb)(void);

static int bk_argc;
static char **bk_argv;

uint64_t bk_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void bk_fail(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("BENCH FAILURE: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

void bk_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		bk_fail("getrlimit: %s", strerror(errno));
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			bk_fail("setrlimit: %s", strerror(errno));
	}
}

int bk_nofile_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 1024;
	return rl.rlim_cur > 1 << 30 ? 1 << 30 : (int)rl.rlim_cur;
}

int *bk_socketpairs(int n)
{
	int *fds;

	if (n <= 0 || n % 2)
		bk_fail("need an even, positive number of descriptors, not %d",
			n);
	fds = malloc(sizeof(*fds) * (size_t)n);
	if (!fds)
		bk_fail("out of memory");
	for (int i = 0; i < n; i += 2) {
		if (socketpair(AF_UNIX,
			       SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
			       fds + i) < 0)
			bk_fail("socketpair #%d of %d: %s (descriptor limit "
				"%d)",
				i / 2 + 1, n / 2, strerror(errno),
				bk_nofile_limit());
	}
	return fds;
}

void bk_close_all(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		close(fds[i]);
	free(fds);
}

uint64_t bk_rand(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

void bk_shuffle(int *v, int n, uint64_t *state)
{
	for (int i = n - 1; i > 0; i--) {
		int j = (int)(bk_rand(state) % (uint64_t)(i + 1));
		int t = v[i];

		v[i] = v[j];
		v[j] = t;
	}
}

int bk_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

double bk_quantile(double *v, int n, double q)
{
	double pos, frac;
	int lo;

	if (n <= 0)
		return 0;
	qsort(v, (size_t)n, sizeof(*v), bk_cmp_double);
	pos = q * (n - 1);
	lo = (int)pos;
	frac = pos - lo;
	if (lo + 1 >= n)
		return v[n - 1];
	return v[lo] + frac * (v[lo + 1] - v[lo]);
}

double bk_median(double *v, int n)
{
	return bk_quantile(v, n, 0.5);
}

uint64_t bk_malloc_bytes(void)
{
	struct mallinfo2 mi = mallinfo2();

	return (uint64_t)mi.uordblks + (uint64_t)mi.hblkhd;
}

void bk_pin_cpu(int cpu)
{
	cpu_set_t set;

	if (sysconf(_SC_NPROCESSORS_ONLN) <= cpu)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	/* Best effort: a restricted cpuset only costs stability. */
	(void)sched_setaffinity(0, sizeof(set), &set);
}

void bk_args_init(int argc, char **argv)
{
	bk_argc = argc;
	bk_argv = argv;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--list") == 0 ||
		    strcmp(argv[i], "--help") == 0)
			continue;
		if (strncmp(argv[i], "--", 2) != 0 || i + 1 >= argc)
			bk_fail("bad argument '%s' (expected --key value)",
				argv[i]);
		i++;
	}
}

const char *bk_arg(const char *key, const char *dflt)
{
	for (int i = 1; i + 1 < bk_argc; i++)
		if (bk_argv[i][0] == '-' && bk_argv[i][1] == '-' &&
		    strcmp(bk_argv[i] + 2, key) == 0)
			return bk_argv[i + 1];
	return dflt;
}

long bk_arg_long(const char *key, long dflt)
{
	const char *s = bk_arg(key, NULL);
	char *end;
	long v;

	if (!s)
		return dflt;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s)
		bk_fail("--%s wants an integer, not '%s'", key, s);
	return v;
}

const struct bk_ops *bk_backend_from_args(void)
{
	const struct bk_ops *ops;
	const char *name;

	for (int i = 1; i < bk_argc; i++) {
		if (strcmp(bk_argv[i], "--list") == 0) {
			bk_list();
			exit(0);
		}
	}
	name = bk_arg("backend", NULL);
	if (!name)
		bk_fail("--backend NAME is required (see --list)");
	ops = bk_find(name);
	if (!ops)
		bk_fail("backend '%s' is not built into this program (see "
			"--list)",
			name);
	return ops;
}

void bk_result(const char *fmt, ...)
{
	va_list ap;

	fputs("RESULT ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fputc('\n', stdout);
	fflush(stdout);
}

struct bk_span bk_span_start(void)
{
	struct bk_span s;
	struct timespec ts;

	s.wall = bk_now_ns();
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	s.cpu = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	return s;
}

struct bk_span bk_span_since(struct bk_span start)
{
	struct bk_span now = bk_span_start();

	now.wall -= start.wall;
	now.cpu -= start.cpu;
	return now;
}

struct bk_batches bk_measure_batches(void (*batch)(long k), int rounds,
				     double max_s)
{
	double *cpu = calloc((size_t)rounds, sizeof(double));
	double *wall = calloc((size_t)rounds, sizeof(double));
	struct bk_batches r = {0};
	struct bk_span s;
	uint64_t start;
	double per;
	long k = 1;
	int done = 0;

	if (!cpu || !wall)
		bk_fail("out of memory");
	batch(1); /* warm-up */
	/* calibrate: double k until a batch takes 2 ms */
	for (;;) {
		s = bk_span_start();
		batch(k);
		s = bk_span_since(s);
		per = (double)s.wall / (double)k;
		if (s.wall >= 2000000 || k >= 1 << 20)
			break;
		k *= 2;
	}
	k = (long)(20e6 / (per > 1 ? per : 1));
	k = k < 1 ? 1 : k > 1000000 ? 1000000 : k;
	start = bk_now_ns();
	while (done < rounds) {
		s = bk_span_start();
		batch(k);
		s = bk_span_since(s);
		cpu[done] = (double)s.cpu / (double)k;
		wall[done++] = (double)s.wall / (double)k;
		if ((double)(bk_now_ns() - start) / 1e9 > max_s)
			break;
	}
	r.cpu_ns = bk_median(cpu, done); /* sorts */
	r.cpu_min_ns = cpu[0];
	r.wall_ns = bk_median(wall, done);
	r.k = k;
	r.batches = done;
	free(cpu);
	free(wall);
	return r;
}
