/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Workload "timers": T periodic timers with periods of one to two hours
 * (none comes due during the run), from a fixed pseudo-random sequence that
 * is the same for every backend.
 *
 *  add     add the T timers                    -> add_ns per timer
 *  update  give each a new period, in a random order (restarts it)
 *                                              -> update_ns per timer
 *  iter    one loop iteration with the T timers armed, none due (a tick
 *          callback keeps iterations from blocking)  -> iter_ns
 *  nowait  the same without the tick, through the library's non-blocking
 *          run call where it has one (not in the libvirt API) -> nowait_ns
 *  remove  remove them in another random order, then one iteration so
 *          that deferred frees are paid for    -> remove_ns per timer
 *
 * Checks: no timer fires during the run; every iteration runs the tick exactly
 * once; after the updates, one timer chosen at random, re-armed to 1 ms, fires
 * exactly once and is the one expected (the heap survived the churn).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bk.h"

static const struct bk_ops *bk;
static long tm_fires, tm_ticks;
static int tm_last;

static void tm_fire(void *opaque)
{
	tm_fires++;
	tm_last = (int)(uintptr_t)opaque;
}

static void tm_tick(void)
{
	tm_ticks++;
}

static void tm_nowait_batch(long k)
{
	long ticks0 = tm_ticks;

	for (long i = 0; i < k; i++)
		if (bk->run_nowait() < 0)
			bk_fail("%s: run_nowait failed", bk->name);
	if (tm_ticks != ticks0 || tm_fires)
		bk_fail("%s: callbacks ran during no-wait iterations",
			bk->name);
}

static int tm_period(uint64_t *rng)
{
	return 3600000 + (int)(bk_rand(rng) % 3600000u);
}

static void tm_iter_batch(long k)
{
	long ticks0 = tm_ticks;

	for (long i = 0; i < k; i++)
		if (bk->run_once() < 0)
			bk_fail("%s: run_once failed", bk->name);
	if (tm_ticks - ticks0 != k || tm_fires)
		bk_fail("%s: %ld iterations ran %ld ticks and %ld timers; "
			"expected one tick each and no timer",
			bk->name, k, tm_ticks - ticks0, tm_fires);
}

/* Runs op(h[order[i]]) for i = 0..t-1 and returns its time (*donep calls).
 * Past the time budget, stops at the next multiple of 256 calls: the cost is
 * then that of a random sample of the calls. */
static struct bk_span tm_phase(const char *what, int (*op)(int h, int ms),
			       const int *h, const int *order, int t,
			       uint64_t *rng, double budget_s, int *donep)
{
	struct bk_span s = bk_span_start();
	uint64_t t0 = s.wall, limit = (uint64_t)(budget_s * 1e9);
	int i;

	for (i = 0; i < t; i++) {
		if (op(h[order[i]], tm_period(rng)) < 0)
			bk_fail("%s: cannot %s timer %d", bk->name, what,
				order[i]);
		if ((i & 255) == 255 && bk_now_ns() - t0 > limit) {
			i++;
			break;
		}
	}
	*donep = i;
	return bk_span_since(s);
}

static int tm_del(int h, int ms)
{
	(void)ms;
	return bk->del_timer(h);
}

static void tm_print(const char *key, struct bk_span s, int n)
{
	printf(" %s_ns=%.1f %s_wall_ns=%.1f", key, (double)s.cpu / n, key,
	       (double)s.wall / n);
}

int main(int argc, char **argv)
{
	uint64_t rng = 0x9E3779B97F4A7C15ULL, t0;
	struct bk_span add, upd, rem, fin;
	struct bk_batches it, nw = {.cpu_ns = -1, .wall_ns = -1};
	int t, rounds, *h, *order, upd_done, rem_done, target;
	double max_s;

	bk_args_init(argc, argv);
	bk = bk_backend_from_args();
	t = (int)bk_arg_long("t", 1000);
	rounds = (int)bk_arg_long("rounds", 10);
	max_s = (double)bk_arg_long("max-ms", 5000) / 1e3;
	if (t < 1 || rounds < 1)
		bk_fail("bad parameters: t=%d rounds=%d", t, rounds);

	bk_timer_cb = tm_fire;
	bk_tick_cb = tm_tick;
	h = calloc((size_t)t, sizeof(*h));
	order = calloc((size_t)t, sizeof(*order));
	if (!h || !order)
		bk_fail("out of memory");
	if (bk->init(4, t + 4, 0) < 0)
		bk_fail("%s: init failed", bk->name);

	add = bk_span_start();
	for (int i = 0; i < t; i++) {
		h[i] = bk->add_timer(tm_period(&rng), (void *)(uintptr_t)i);
		if (h[i] < 0)
			bk_fail("%s: cannot add timer %d of %d", bk->name,
				i + 1, t);
	}
	add = bk_span_since(add);

	for (int i = 0; i < t; i++)
		order[i] = i;
	bk_shuffle(order, t, &rng);
	upd = tm_phase("update", bk->update_timer, h, order, t, &rng, max_s,
		       &upd_done);

	if (bk->add_tick() < 0)
		bk_fail("%s: cannot add the tick", bk->name);
	it = bk_measure_batches(tm_iter_batch, rounds, max_s);
	if (bk->run_nowait) {
		if (bk->del_tick() < 0)
			bk_fail("%s: cannot remove the tick", bk->name);
		nw = bk_measure_batches(tm_nowait_batch, rounds, max_s);
		if (bk->add_tick() < 0)
			bk_fail("%s: cannot add the tick", bk->name);
	}

	/* the heap must still be right: re-arm one timer and see it fire */
	target = order[bk_rand(&rng) % (uint64_t)t];
	if (bk->update_timer(h[target], 1) < 0)
		bk_fail("%s: cannot re-arm timer %d", bk->name, target);
	t0 = bk_now_ns();
	while (tm_fires == 0) {
		if (bk->run_once() < 0)
			bk_fail("%s: run_once failed", bk->name);
		if (bk_now_ns() - t0 > 5000000000ull)
			bk_fail("%s: a 1 ms timer did not fire in 5 s",
				bk->name);
	}
	if (tm_fires != 1 || tm_last != target)
		bk_fail("%s: %ld timers fired (last #%d); expected exactly "
			"#%d",
			bk->name, tm_fires, tm_last, target);
	bk->update_timer(h[target], 3600000);
	tm_fires = 0;

	bk_shuffle(order, t, &rng);
	rem = tm_phase("remove", tm_del, h, order, t, &rng, max_s, &rem_done);
	if (rem_done == t) {
		/* deferred frees (libuv's close callbacks...) are paid here */
		fin = bk_span_start();
		if (bk->run_once() < 0)
			bk_fail("%s: run_once failed", bk->name);
		fin = bk_span_since(fin);
		rem.wall += fin.wall;
		rem.cpu += fin.cpu;
		bk->del_tick();
	}
	if (tm_fires)
		bk_fail("%s: %ld removed timers fired", bk->name, tm_fires);

	/* sampled=1: a phase hit the time budget and was measured on a random
	 * subset of the timers (updated/removed say how many) */
	printf("RESULT workload=timers backend=%s t=%d", bk->name, t);
	tm_print("add", add, t);
	tm_print("update", upd, upd_done);
	tm_print("remove", rem, rem_done);
	printf(" iter_ns=%.1f iter_min_ns=%.1f iter_wall_ns=%.1f", it.cpu_ns,
	       it.cpu_min_ns, it.wall_ns);
	if (bk->run_nowait)
		printf(" nowait_ns=%.1f nowait_wall_ns=%.1f", nw.cpu_ns,
		       nw.wall_ns);
	printf(" batches=%d iters=%ld updated=%d removed=%d sampled=%d\n",
	       it.batches, it.k, upd_done, rem_done,
	       upd_done < t || rem_done < t);
	fflush(stdout);
	return 0;
}
