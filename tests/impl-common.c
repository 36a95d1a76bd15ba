/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What both adapters read from the loop behind them. */
#include "harness.h"
#include "impl.h"
#include "loop-private.h"

static int stat_of(vev_loop *loop, enum vev_stat which)
{
	uint64_t v = 0;
	CHECK(vev_loop_stat(loop, which, &v) == 0);
	return (int)v;
}

int impl_live(vev_loop *loop)
{
	return stat_of(loop, VEV_STAT_HANDLES) + stat_of(loop, VEV_STAT_TIMERS);
}

int impl_pending_frees(vev_loop *loop)
{
	return stat_of(loop, VEV_STAT_PENDING_FREES);
}

int impl_verify(vev_loop *loop)
{
	return vev_loop_verify(loop) < 0 ? -1 : 0;
}
