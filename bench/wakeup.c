/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Workload "wakeup": the latency from another thread's call into the loop
 * library to the start of the callback it causes on the loop thread, while
 * the loop is blocked with nothing else to do.
 *
 * The loop runs on the main thread (pinned to CPU 0); a waker thread
 * (pinned to CPU 1 when there is one) sleeps for a short random gap, so that
 * the loop is back to blocking, stamps the time and calls wake(); the
 * callback stamps the time again.  The waker spins until it sees the
 * callback's stamp, so each sample is one wake-up and exactly one callback.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "bk.h"

static const struct bk_ops *bk;
static atomic_long wk_count;
static _Atomic uint64_t wk_stamp;
static long wk_total, wk_warmup;
static long wk_gap_us;
static double *wk_lat;

static void wk_cb(void)
{
	atomic_store_explicit(&wk_stamp, bk_now_ns(), memory_order_relaxed);
	atomic_fetch_add_explicit(&wk_count, 1, memory_order_release);
}

static void *wk_waker(void *arg)
{
	uint64_t rng = 0x2545F4914F6CDD1DULL;

	(void)arg;
	bk_pin_cpu(1);
	for (long i = 0; i < wk_total; i++) {
		long gap = wk_gap_us +
			   (long)(bk_rand(&rng) % (uint64_t)(wk_gap_us + 1));
		struct timespec ts = {0, gap * 1000};
		uint64_t t0;
		long c;

		nanosleep(&ts, NULL);
		t0 = bk_now_ns();
		if (bk->wake() < 0)
			bk_fail("%s: wake failed", bk->name);
		while ((c = atomic_load_explicit(
				&wk_count, memory_order_acquire)) < i + 1) {
			if (bk_now_ns() - t0 > 2000000000ull)
				bk_fail("%s: wake-up #%ld not delivered in 2 s",
					bk->name, i + 1);
		}
		if (c != i + 1)
			bk_fail("%s: one wake-up ran the callback %ld times",
				bk->name, c - i);
		if (i >= wk_warmup)
			wk_lat[i - wk_warmup] =
				(double)(atomic_load_explicit(
						 &wk_stamp,
						 memory_order_relaxed) -
					 t0);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	long samples;
	pthread_t th;
	double mean = 0;

	bk_args_init(argc, argv);
	bk = bk_backend_from_args();
	samples = bk_arg_long("samples", 5000);
	wk_gap_us = bk_arg_long("gap-us", 100);
	if (samples < 10 || wk_gap_us < 0)
		bk_fail("bad parameters: samples=%ld gap-us=%ld", samples,
			wk_gap_us);
	wk_warmup = samples / 20 + 10;
	wk_total = samples + wk_warmup;
	wk_lat = calloc((size_t)samples, sizeof(*wk_lat));

	bk_wake_cb = wk_cb;
	bk_pin_cpu(0);
	if (bk->init(4, 4, BK_THREADS) < 0 || bk->wake_init() < 0)
		bk_fail("%s: init failed", bk->name);
	if (pthread_create(&th, NULL, wk_waker, NULL) != 0)
		bk_fail("cannot start the waker thread");
	while (atomic_load_explicit(&wk_count, memory_order_acquire) < wk_total)
		if (bk->run_once() < 0)
			bk_fail("%s: run_once failed", bk->name);
	pthread_join(th, NULL);
	if (atomic_load(&wk_count) != wk_total)
		bk_fail("%s: %ld callbacks for %ld wake-ups", bk->name,
			(long)atomic_load(&wk_count), wk_total);

	for (long i = 0; i < samples; i++)
		mean += wk_lat[i] / (double)samples;
	{
		double med = bk_quantile(wk_lat, (int)samples, 0.5);
		double p99 = bk_quantile(wk_lat, (int)samples, 0.99);

		bk_result("workload=wakeup backend=%s samples=%ld "
			  "median_us=%.3f p99_us=%.3f mean_us=%.3f "
			  "min_us=%.3f",
			  bk->name, samples, med / 1e3, p99 / 1e3, mean / 1e3,
			  wk_lat[0] / 1e3);
	}
	return 0;
}
