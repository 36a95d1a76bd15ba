/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Workload "pipes": N watched descriptors, A tokens in flight, W forwards.
 *
 * The N descriptors are both ends of N/2 socketpairs; descriptor i becomes
 * readable when a byte is written to its peer i ^ 1.  A round drops A tokens
 * (bytes) on descriptors spread evenly over the N, then runs the loop.  Each
 * callback consumes one byte and, while the round's budget of W writes
 * lasts, passes a token on to descriptor i + 1.  The round ends when all
 * A + W bytes have been consumed; its time excludes setup and the initial
 * drop.  Every round checks that exactly A + W callbacks ran, each on the
 * descriptor it was registered for and each finding its byte.
 *
 * --mode idle instead measures one loop iteration with the N descriptors
 * watched and idle (a tick callback keeps iterations from blocking), and
 * again without the tick through the library's non-blocking run call where
 * it has one (nowait_ns).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "bk.h"

static const struct bk_ops *bk;
static int *pp_fds;
static int pp_n;
static long pp_reads, pp_spurious, pp_wrong_fd, pp_writes_left, pp_ticks;

static void pp_io(int fd, void *opaque)
{
	int i = (int)(uintptr_t)opaque;
	char c;

	if (fd != pp_fds[i]) {
		pp_wrong_fd++;
		return;
	}
	if (recv(fd, &c, 1, 0) != 1) {
		pp_spurious++;
		return;
	}
	pp_reads++;
	if (pp_writes_left > 0) {
		int j = i + 1 == pp_n ? 0 : i + 1;

		pp_writes_left--;
		if (send(pp_fds[j ^ 1], "t", 1, 0) != 1)
			bk_fail("%s: forwarding write failed", bk->name);
	}
}

static void pp_tick(void)
{
	pp_ticks++;
}

static void pp_check_calls(uint64_t before, long expected)
{
	uint64_t after;

	if (!bk->io_calls || bk->io_calls(&after) < 0)
		return;
	if ((long)(after - before) != expected)
		bk_fail("%s: library counted %ld watch callbacks, expected %ld",
			bk->name, (long)(after - before), expected);
}

/* One round; returns its wall and CPU time. */
static struct bk_span pp_round(long a, long w)
{
	long expected = a + w, iters = 0;
	uint64_t calls0 = 0;
	struct bk_span t;

	if (bk->io_calls)
		bk->io_calls(&calls0);
	pp_reads = pp_spurious = pp_wrong_fd = 0;
	pp_writes_left = w;
	for (long k = 0; k < a; k++) {
		int j = (int)(k * pp_n / a);

		if (send(pp_fds[j ^ 1], "t", 1, 0) != 1)
			bk_fail("initial write failed");
	}
	t = bk_span_start();
	while (pp_reads < expected) {
		if (bk->run_once() < 0)
			bk_fail("%s: run_once failed", bk->name);
		/* nearly every iteration consumes a byte: catch a stuck loop */
		if (++iters > 4 * expected + 100)
			bk_fail("%s: %ld iterations for %ld bytes (reads %ld): "
				"the loop is not dispatching",
				bk->name, iters, expected, pp_reads);
	}
	t = bk_span_since(t);
	if (pp_reads != expected || pp_spurious || pp_wrong_fd ||
	    pp_writes_left)
		bk_fail("%s: round did %ld reads (expected %ld), %ld spurious "
			"callbacks, %ld with the wrong fd, %ld writes left",
			bk->name, pp_reads, expected, pp_spurious, pp_wrong_fd,
			pp_writes_left);
	pp_check_calls(calls0, expected);
	return t;
}

static void pp_chain(long a, long w, int rounds, double max_s)
{
	double *cpu = calloc((size_t)rounds, sizeof(double));
	double *wall = calloc((size_t)rounds, sizeof(double));
	double cpu_med, cpu_min, wall_med;
	uint64_t start;
	int done = 0;

	if (!cpu || !wall)
		bk_fail("out of memory");
	/* warm-up: page in, let lazy structures settle.  A loop so slow that
	 * this round alone exceeds the time budget gains nothing from a
	 * warm-up worth its cost: the round is kept as the measurement. */
	{
		struct bk_span t = pp_round(a, w);

		if ((double)t.wall / 1e9 > max_s) {
			cpu[done] = (double)t.cpu;
			wall[done++] = (double)t.wall;
			rounds = done;
		}
	}
	start = bk_now_ns();
	while (done < rounds &&
	       (done == 0 || (double)(bk_now_ns() - start) / 1e9 <= max_s)) {
		struct bk_span t = pp_round(a, w);

		cpu[done] = (double)t.cpu;
		wall[done++] = (double)t.wall;
	}
	cpu_med = bk_median(cpu, done); /* sorts */
	cpu_min = cpu[0];
	wall_med = bk_median(wall, done);
	bk_result("workload=pipes backend=%s n=%d a=%ld w=%ld rounds=%d "
		  "round_us=%.3f round_min_us=%.3f round_wall_us=%.3f",
		  bk->name, pp_n, a, w, done, cpu_med / 1e3, cpu_min / 1e3,
		  wall_med / 1e3);
	free(cpu);
	free(wall);
}

static void pp_idle_batch(long k)
{
	uint64_t calls0 = 0;
	long ticks0 = pp_ticks;

	if (bk->io_calls)
		bk->io_calls(&calls0);
	for (long i = 0; i < k; i++)
		if (bk->run_once() < 0)
			bk_fail("%s: run_once failed", bk->name);
	if (pp_ticks - ticks0 != k || pp_reads || pp_spurious || pp_wrong_fd)
		bk_fail("%s: %ld iterations ran %ld ticks and %ld watch "
			"callbacks; expected one tick each and no callback",
			bk->name, k, pp_ticks - ticks0,
			pp_reads + pp_spurious + pp_wrong_fd);
	pp_check_calls(calls0, 0);
}

static void pp_nowait_batch(long k)
{
	long ticks0 = pp_ticks;

	for (long i = 0; i < k; i++)
		if (bk->run_nowait() < 0)
			bk_fail("%s: run_nowait failed", bk->name);
	if (pp_ticks != ticks0 || pp_reads || pp_spurious || pp_wrong_fd)
		bk_fail("%s: callbacks ran during idle no-wait iterations",
			bk->name);
}

static void pp_idle(int rounds, double max_s)
{
	struct bk_batches it, nw = {.cpu_ns = -1, .wall_ns = -1};

	if (bk->add_tick() < 0)
		bk_fail("%s: cannot add the tick", bk->name);
	it = bk_measure_batches(pp_idle_batch, rounds, max_s);
	if (bk->run_nowait) {
		if (bk->del_tick() < 0)
			bk_fail("%s: cannot remove the tick", bk->name);
		nw = bk_measure_batches(pp_nowait_batch, rounds, max_s);
	}
	bk_result("workload=idle backend=%s n=%d batches=%d iters=%ld "
		  "iter_ns=%.1f iter_min_ns=%.1f iter_wall_ns=%.1f "
		  "%s=%.1f nowait_wall_ns=%.1f",
		  bk->name, pp_n, it.batches, it.k, it.cpu_ns, it.cpu_min_ns,
		  it.wall_ns, bk->run_nowait ? "nowait_ns" : "no_nowait",
		  nw.cpu_ns, nw.wall_ns);
}

int main(int argc, char **argv)
{
	const char *mode;
	long a, w;
	int rounds;
	double max_s;

	bk_args_init(argc, argv);
	bk = bk_backend_from_args();
	mode = bk_arg("mode", "chain");
	pp_n = (int)bk_arg_long("n", 1000);
	a = bk_arg_long("a", 1);
	w = bk_arg_long("w", 1000);
	rounds = (int)bk_arg_long("rounds", 10);
	max_s = (double)bk_arg_long("max-ms", 5000) / 1e3;
	if (pp_n < 2 || pp_n % 2 || a < 1 || a > pp_n || w < 0 || rounds < 1)
		bk_fail("bad parameters: n=%d (even, >= 2) a=%ld (1..n) "
			"w=%ld rounds=%d",
			pp_n, a, w, rounds);

	bk_raise_nofile();
	pp_fds = bk_socketpairs(pp_n);
	bk_io_cb = pp_io;
	bk_tick_cb = pp_tick;
	if (bk->init(pp_n, 4, 0) < 0)
		bk_fail("%s: init failed", bk->name);
	for (int i = 0; i < pp_n; i++)
		if (bk->add_watch(pp_fds[i], (void *)(uintptr_t)i) < 0)
			bk_fail("%s: cannot watch descriptor %d of %d",
				bk->name, i + 1, pp_n);

	if (strcmp(mode, "chain") == 0)
		pp_chain(a, w, rounds, max_s);
	else if (strcmp(mode, "idle") == 0)
		pp_idle(rounds, max_s);
	else
		bk_fail("unknown --mode '%s' (chain or idle)", mode);
	return 0;
}
