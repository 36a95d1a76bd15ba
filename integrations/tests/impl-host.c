/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The contract's subject: libvirt's virEvent* API (vevent-compat) with an
 * integration's table registered through virEventRegisterImpl(), as a
 * program using the integration does.  An iteration is one iteration of the
 * host loop. */
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include "harness.h"
#include "host.h"
#include "impl.h"

static const struct vev_event_impl *table;
static pid_t loop_tid;
static atomic_bool running;
static char name[64];

static int run_once(int timeout_ms)
{
	uint64_t before = host_calls();
	atomic_store(&running, true);
	int rc = host.run(timeout_ms);
	atomic_store(&running, false);
	if (rc < 0)
		return -1;
	return (int)(host_calls() - before);
}

static int verify(void)
{
	int rc = host.verify();
	if (rc < 0)
		fprintf(stderr, "%s\n", host.last_error());
	return rc < 0 ? -1 : 0;
}

static bool is_polling(void)
{
	return atomic_load(&running) && host_thread_waits(loop_tid);
}

static int live(void)
{
	return (int)(host_stat(VEV_STAT_HANDLES) + host_stat(VEV_STAT_TIMERS));
}

static int pending_frees(void)
{
	return (int)host_stat(VEV_STAT_PENDING_FREES);
}

/* The loop behind the integration is a vevent epoll loop, whatever the
 * host loop polls with: descriptor hazards behave as that backend's. */
static const char *backend(void)
{
	return vev_loop_backend(host.loop());
}

static struct impl integration = {
	.add_handle = virEventAddHandle,
	.update_handle = virEventUpdateHandle,
	.remove_handle = virEventRemoveHandle,
	.add_timeout = virEventAddTimeout,
	.update_timeout = virEventUpdateTimeout,
	.remove_timeout = virEventRemoveTimeout,
	.run_once = run_once,
	.verify = verify,
	.is_polling = is_polling,
	.live = live,
	.pending_frees = pending_frees,
	.backend = backend,
};

static void cleanup(void)
{
	CHECK_EQ(host.unbind(), 0);
	host.destroy();
}

const struct impl *impl_setup(void)
{
	host.create();
	CHECK_EQ(host.bind(&table), 0);
	/* Binding adds a descriptor to the host loop, which GLib answers by
	 * waking the context once: let that pass before the contract starts
	 * counting iterations. */
	CHECK_EQ(host.run(0), 0);
	virEventRegisterImpl(VEV_EVENT_IMPL_ARGS(table));
	loop_tid = gettid();
	snprintf(name, sizeof(name), "%s/%s", host.name, host.method());
	integration.name = name;
	/* A custom implementation's failures are described by it, not by
	 * vev_compat_last_error(). */
	integration.last_error = host.last_error;
	atexit(cleanup);
	return &integration;
}
