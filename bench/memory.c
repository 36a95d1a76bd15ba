/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Workload "memory": heap bytes the loop holds per idle watch or per timer.
 *
 * Measured twice where possible: as the change in malloc's count of bytes in
 * use (mallinfo2: every arena, mmapped chunks included, allocator overhead
 * included), taken the same way for every backend, and, where the library
 * keeps one, with its own accounting (vevent's VEV_STAT_MEMORY).
 * The descriptors and the adapter's handle table exist before the first
 * snapshot; whatever the library needs per registration (its own records,
 * or the watcher object the caller must provide for libev, libevent, libuv
 * and GLib, allocated here one malloc each) is counted.  Two iterations run
 * before the second snapshot so that lazily applied changes are in place.
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
static long me_calls;

static void me_io(int fd, void *opaque)
{
	(void)fd;
	(void)opaque;
	me_calls++;
}

static void me_timer(void *opaque)
{
	(void)opaque;
	me_calls++;
}

static void me_tick(void)
{
}

static void me_iterate(int k)
{
	for (int i = 0; i < k; i++)
		if (bk->run_once() < 0)
			bk_fail("%s: run_once failed", bk->name);
}

int main(int argc, char **argv)
{
	const char *what;
	int count, watch, *fds = NULL;
	uint64_t m0, m1, s0 = 0, s1 = 0;
	int have_own;
	uint64_t rng = 42;

	bk_args_init(argc, argv);
	bk = bk_backend_from_args();
	what = bk_arg("what", "watch");
	count = (int)bk_arg_long("count", 10000);
	watch = strcmp(what, "watch") == 0;
	if (!watch && strcmp(what, "timer") != 0)
		bk_fail("--what is watch or timer, not '%s'", what);
	if (count < 2 || (watch && count % 2))
		bk_fail("bad --count %d", count);

	bk_io_cb = me_io;
	bk_timer_cb = me_timer;
	bk_tick_cb = me_tick;
	bk_raise_nofile();
	if (watch)
		fds = bk_socketpairs(count);
	if (bk->init(watch ? count : 4, watch ? 4 : count, 0) < 0 ||
	    bk->add_tick() < 0)
		bk_fail("%s: init failed", bk->name);
	me_iterate(2);

	have_own = bk->mem_bytes && bk->mem_bytes(&s0) == 0;
	m0 = bk_malloc_bytes();
	for (int i = 0; i < count; i++) {
		int r = watch ? bk->add_watch(fds[i], NULL)
			      : bk->add_timer(3600000 + (int)(bk_rand(&rng) %
							      3600000u),
					      NULL);

		if (r < 0)
			bk_fail("%s: cannot add %s %d of %d", bk->name, what,
				i + 1, count);
	}
	me_iterate(2);
	m1 = bk_malloc_bytes();
	if (have_own && bk->mem_bytes(&s1) < 0)
		bk_fail("%s: cannot read the loop's memory statistic",
			bk->name);
	if (me_calls)
		bk_fail("%s: %ld callbacks ran for idle registrations",
			bk->name, me_calls);

	if (have_own)
		bk_result("workload=memory backend=%s what=%s count=%d "
			  "malloc_bytes=%.1f own_bytes=%.1f",
			  bk->name, what, count,
			  ((double)m1 - (double)m0) / count,
			  ((double)s1 - (double)s0) / count);
	else
		bk_result("workload=memory backend=%s what=%s count=%d "
			  "malloc_bytes=%.1f",
			  bk->name, what, count,
			  ((double)m1 - (double)m0) / count);
	return 0;
}
