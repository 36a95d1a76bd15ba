/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The real libvirt's embedded test driver (test:///default) on a vevent
 * loop: every lifecycle event of a scripted scenario arrives once, in order,
 * through the loop.  (No close callback here: libvirt 9.0 accepts one for a
 * driver without connection close handling, the test driver, but keeps
 * nothing, so its free callback would never run.) */
#include "lvtest.h"

#define DEMO_XML                                                           \
	"<domain type='test'><name>%s</name><memory>65536</memory>"        \
	"<os><type>hvm</type></os></domain>"

struct step {
	const char *what;
	int event, detail;
};

/* The scenario and the event each step causes, in order. */
static const struct step scenario[] = {
	{ "define", VIR_DOMAIN_EVENT_DEFINED, VIR_DOMAIN_EVENT_DEFINED_ADDED },
	{ "start", VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_BOOTED },
	{ "suspend", VIR_DOMAIN_EVENT_SUSPENDED,
	  VIR_DOMAIN_EVENT_SUSPENDED_PAUSED },
	{ "resume", VIR_DOMAIN_EVENT_RESUMED,
	  VIR_DOMAIN_EVENT_RESUMED_UNPAUSED },
	{ "save", VIR_DOMAIN_EVENT_STOPPED, VIR_DOMAIN_EVENT_STOPPED_SAVED },
	{ "restore", VIR_DOMAIN_EVENT_STARTED,
	  VIR_DOMAIN_EVENT_STARTED_RESTORED },
	{ "shutdown", VIR_DOMAIN_EVENT_STOPPED,
	  VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN },
	{ "start", VIR_DOMAIN_EVENT_STARTED, VIR_DOMAIN_EVENT_STARTED_BOOTED },
	{ "destroy", VIR_DOMAIN_EVENT_STOPPED,
	  VIR_DOMAIN_EVENT_STOPPED_DESTROYED },
	{ "undefine", VIR_DOMAIN_EVENT_UNDEFINED,
	  VIR_DOMAIN_EVENT_UNDEFINED_REMOVED },
};
#define NSTEPS ((int)(sizeof(scenario) / sizeof(scenario[0])))

struct run {
	virConnectPtr conn;
	virDomainPtr dom;
	char name[32];
	char save_path[80];
};

static void run_step(struct run *r, int i)
{
	const char *what = scenario[i].what;
	int rc = -1;
	char xml[256];

	if (strcmp(what, "define") == 0) {
		snprintf(xml, sizeof(xml), DEMO_XML, r->name);
		r->dom = virDomainDefineXML(r->conn, xml);
		rc = r->dom ? 0 : -1;
	} else if (strcmp(what, "start") == 0) {
		rc = virDomainCreate(r->dom);
	} else if (strcmp(what, "suspend") == 0) {
		rc = virDomainSuspend(r->dom);
	} else if (strcmp(what, "resume") == 0) {
		rc = virDomainResume(r->dom);
	} else if (strcmp(what, "save") == 0) {
		rc = virDomainSave(r->dom, r->save_path);
	} else if (strcmp(what, "restore") == 0) {
		rc = virDomainRestore(r->conn, r->save_path);
		unlink(r->save_path);
	} else if (strcmp(what, "shutdown") == 0) {
		rc = virDomainShutdown(r->dom);
	} else if (strcmp(what, "destroy") == 0) {
		rc = virDomainDestroy(r->dom);
	} else if (strcmp(what, "undefine") == 0) {
		rc = virDomainUndefine(r->dom);
	}
	if (rc < 0)
		lvtest_fail(__FILE__, __LINE__, "step %s: %s", what,
			    virGetLastErrorMessage());
}

static void setup_run(struct run *r)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->name, sizeof(r->name), "lvtest-%d", (int)getpid());
	snprintf(r->save_path, sizeof(r->save_path), "/tmp/vev-lvtest-%d.save",
		 (int)getpid());
	r->conn = virConnectOpen("test:///default");
	if (!r->conn)
		lvtest_fail(__FILE__, __LINE__, "virConnectOpen: %s",
			    virGetLastErrorMessage());
}

/* After the scenario, a last event on another domain: libvirt delivers in
 * order, so once it is here every earlier one is, and any duplicate too. */
static void barrier(struct run *r)
{
	virDomainPtr test = virDomainLookupByName(r->conn, "test");
	CHECK(test != NULL);
	CHECK_EQ(virDomainSuspend(test), 0);
	CHECK_EQ(virDomainResume(test), 0);
	virDomainFree(test);
}

static void check_recorded(struct recorder *rec, struct run *r)
{
	CHECK(recorder_wait_events(rec, NSTEPS + 2, 10000));
	CHECK_EQ(rec->nevents, NSTEPS + 2);
	for (int i = 0; i < NSTEPS; i++)
		recorder_check(rec, i, r->name, scenario[i].event,
			       scenario[i].detail);
	recorder_check(rec, NSTEPS, "test", VIR_DOMAIN_EVENT_SUSPENDED,
		       VIR_DOMAIN_EVENT_SUSPENDED_PAUSED);
	recorder_check(rec, NSTEPS + 1, "test", VIR_DOMAIN_EVENT_RESUMED,
		       VIR_DOMAIN_EVENT_RESUMED_UNPAUSED);
}

/* The callback's free callback is checked once the loop has stopped:
 * libvirt leaves it to the loop when an event is being delivered as the
 * callback is deregistered. */
static void finish_run(struct run *r, int cb)
{
	CHECK_EQ(virConnectDomainEventDeregisterAny(r->conn, cb), 0);
	if (r->dom)
		virDomainFree(r->dom);
	CHECK(virConnectClose(r->conn) >= 0);
}

/* The loop runs in vevent's helper thread; this thread drives libvirt and
 * waits for each event before the next step. */
static void lifecycle_events_arrive_once_in_order(void)
{
	vev_loop *loop = lvtest_register_loop();
	CHECK_EQ(vev_loop_start_thread(loop), 0);
	pthread_t loop_thread = lvtest_loop_thread(loop);

	struct recorder rec;
	recorder_init(&rec);
	struct run r;
	setup_run(&r);
	int cb = virConnectDomainEventRegisterAny(
		r.conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
		VIR_DOMAIN_EVENT_CALLBACK(recorder_lifecycle), &rec,
		recorder_free);
	CHECK(cb >= 0);
	uint64_t timer_calls_before;
	CHECK_EQ(vev_loop_stat(loop, VEV_STAT_TIMER_CALLS,
			       &timer_calls_before),
		 0);

	for (int i = 0; i < NSTEPS; i++) {
		run_step(&r, i);
		if (!recorder_wait_events(&rec, i + 1, 10000))
			lvtest_fail(__FILE__, __LINE__,
				    "no event after step %d (%s)", i,
				    scenario[i].what);
		recorder_check(&rec, i, r.name, scenario[i].event,
			       scenario[i].detail);
	}
	barrier(&r);
	check_recorded(&rec, &r);

	/* Delivered by libvirt's event timer, on the loop's thread. */
	CHECK(pthread_equal(rec.thread, loop_thread));
	CHECK(!rec.thread_mixed);
	uint64_t timer_calls;
	CHECK_EQ(vev_loop_stat(loop, VEV_STAT_TIMER_CALLS, &timer_calls), 0);
	/* One timer call per step at least (each step waited for its
	 * event); the barrier's two events may share one. */
	CHECK(timer_calls - timer_calls_before >= NSTEPS + 1);

	finish_run(&r, cb);
	lvtest_check_loop_clean(loop, true);
	CHECK_EQ(rec.frees, 1);
}

/* The same scenario with everything on one thread: the steps are timer
 * callbacks of the loop this thread runs, as in vevent-monitor --demo.  The
 * step timer is disabled after each step and re-armed by the event the step
 * causes. */
struct driven {
	struct run r;
	struct recorder *rec;
	vev_loop *loop;
	int next, timer;
	bool done;
};

static void step_timer(int timer, void *opaque)
{
	struct driven *d = opaque;
	CHECK_EQ(vev_update_timer(d->loop, timer, -1), 0);
	if (d->next == NSTEPS) {
		barrier(&d->r);
		d->done = true;
		return;
	}
	run_step(&d->r, d->next++);
}

static int driven_lifecycle(virConnectPtr conn, virDomainPtr dom, int event,
			    int detail, void *opaque)
{
	struct driven *d = opaque;
	recorder_lifecycle(conn, dom, event, detail, d->rec);
	if (!d->done)
		CHECK_EQ(vev_update_timer(d->loop, d->timer, 0), 0);
	return 0;
}

static void driven_free(void *opaque)
{
	struct driven *d = opaque;
	recorder_free(d->rec);
}

static void scenario_driven_by_loop_timers(void)
{
	vev_loop *loop = lvtest_register_loop();
	struct recorder rec;
	recorder_init(&rec);
	struct driven d = { .rec = &rec, .loop = loop };
	setup_run(&d.r);
	d.timer = vev_add_timer(loop, 0, step_timer, &d, NULL);
	CHECK(d.timer > 0);
	int cb = virConnectDomainEventRegisterAny(
		d.r.conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
		VIR_DOMAIN_EVENT_CALLBACK(driven_lifecycle), &d, driven_free);
	CHECK(cb >= 0);

	int64_t deadline = lvtest_now_ms() + 20000;
	while (!d.done || rec.nevents < NSTEPS + 2) {
		CHECK(lvtest_now_ms() < deadline);
		CHECK(vev_run_once(loop, 1000) >= 0);
	}
	check_recorded(&rec, &d.r);
	CHECK(pthread_equal(rec.thread, pthread_self()));
	CHECK(!rec.thread_mixed);
	CHECK_EQ(vev_remove_timer(loop, d.timer), 0);

	finish_run(&d.r, cb);
	lvtest_check_loop_clean(loop, false);
	CHECK_EQ(rec.frees, 1);
}

/* Less than meson.build's timeout, so that a hang is reported here. */
const unsigned lvtest_watchdog = 55;

const struct lvtest tests[] = {
	{ "lifecycle_events_arrive_once_in_order",
	  lifecycle_events_arrive_once_in_order },
	{ "scenario_driven_by_loop_timers", scenario_driven_by_loop_timers },
	{ NULL, NULL },
};
