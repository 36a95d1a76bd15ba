/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* An integration driving real libvirt (never vevent-compat in this program):
 * libvirt's virEventRegisterImpl() takes the integration's table, the
 * in-process test driver emits domain lifecycle events, the host loop
 * dispatches them, and shutting down runs every free callback.  Bounded in
 * time; it waits by running the host loop, never by sleeping. */
#include <pthread.h>

#include <libvirt/libvirt.h>

#define TEST_HARNESS_MAIN
#include "harness.h"
#include "host.h"

#define DOMAIN_XML                                        \
	"<domain type='test'>"                            \
	"<name>vevent-lifecycle</name>"                   \
	"<memory unit='MiB'>8</memory>"                   \
	"<os><type>hvm</type></os>"                       \
	"</domain>"

#define MAX_EVENTS 16

struct lifecycle {
	int events[MAX_EVENTS];
	int nevents;
	int freed;
};

static pthread_t loop_thread;
static bool in_run; /* the test is inside host.run() */

static void lifecycle_cb(virConnectPtr conn, virDomainPtr dom, int event,
			 int detail, void *opaque)
{
	struct lifecycle *lc = opaque;

	/* Dispatched by the host loop: on its thread, while it runs, from
	 * inside one of its callbacks. */
	CHECK(pthread_equal(pthread_self(), loop_thread));
	CHECK(in_run);
	CHECK(host.in_dispatch());
	CHECK(strcmp(virDomainGetName(dom), "vevent-lifecycle") == 0);
	CHECK(lc->nevents < MAX_EVENTS);
	lc->events[lc->nevents++] = event;
}

static void lifecycle_free(void *opaque)
{
	struct lifecycle *lc = opaque;
	lc->freed++;
}

static void run_once(void)
{
	in_run = true;
	CHECK_EQ(host.run(100), 0);
	in_run = false;
}

static bool saw(const struct lifecycle *lc, int event)
{
	for (int i = 0; i < lc->nevents; i++)
		if (lc->events[i] == event)
			return true;
	return false;
}

static void run_until_event(const struct lifecycle *lc, int event,
			    int64_t deadline)
{
	while (!saw(lc, event)) {
		CHECK(test_now_ms() < deadline);
		run_once();
	}
}

static bool all_done(const struct lifecycle *lc)
{
	return lc->freed == 1 && host_stat(VEV_STAT_HANDLES) == 0 &&
	       host_stat(VEV_STAT_TIMERS) == 0 &&
	       host_stat(VEV_STAT_PENDING_FREES) == 0;
}

static void libvirt_lifecycle_events(void)
{
	static struct lifecycle lc;
	const struct vev_event_impl *impl;
	int64_t deadline = test_now_ms() + 30000;

	test_subject = host.name;
	loop_thread = pthread_self();
	host.create();
	CHECK_EQ(host.bind(&impl), 0);
	virEventRegisterImpl(VEV_EVENT_IMPL_ARGS(impl));

	virConnectPtr conn = virConnectOpen("test:///default");
	CHECK(conn != NULL);
	int cb = virConnectDomainEventRegisterAny(
		conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
		VIR_DOMAIN_EVENT_CALLBACK(lifecycle_cb), &lc, lifecycle_free);
	CHECK(cb >= 0);
	/* libvirt delivers its events from a timer of ours. */
	CHECK(host_stat(VEV_STAT_TIMERS) >= 1);

	virDomainPtr dom = virDomainDefineXML(conn, DOMAIN_XML);
	CHECK(dom != NULL);
	run_until_event(&lc, VIR_DOMAIN_EVENT_DEFINED, deadline);
	CHECK_EQ(virDomainCreate(dom), 0);
	run_until_event(&lc, VIR_DOMAIN_EVENT_STARTED, deadline);
	CHECK_EQ(virDomainDestroy(dom), 0);
	run_until_event(&lc, VIR_DOMAIN_EVENT_STOPPED, deadline);
	CHECK_EQ(virDomainUndefine(dom), 0);
	run_until_event(&lc, VIR_DOMAIN_EVENT_UNDEFINED, deadline);
	virDomainFree(dom);

	/* In the order they happened. */
	const int expected[] = { VIR_DOMAIN_EVENT_DEFINED,
				 VIR_DOMAIN_EVENT_STARTED,
				 VIR_DOMAIN_EVENT_STOPPED,
				 VIR_DOMAIN_EVENT_UNDEFINED };
	CHECK_EQ(lc.nevents, 4);
	for (int i = 0; i < 4; i++)
		CHECK_EQ(lc.events[i], expected[i]);
	CHECK(host_stat(VEV_STAT_TIMER_CALLS) >= 1);

	CHECK_EQ(virConnectDomainEventDeregisterAny(conn, cb), 0);
	CHECK_EQ(virConnectClose(conn), 0);
	/* libvirt removes what it registered; the host loop runs the free
	 * callbacks (libvirt's own, which release its objects, and ours). */
	while (!all_done(&lc)) {
		CHECK(test_now_ms() < deadline);
		run_once();
	}
	CHECK_EQ(lc.freed, 1);
	CHECK_EQ(lc.nevents, 4);
	CHECK_EQ(host.verify(), 0);
	CHECK_EQ(host.unbind(), 0);
	host.destroy();
}

const struct test tests[] = {
	{ "libvirt_lifecycle_events", libvirt_lifecycle_events },
	{ NULL, NULL },
};
