/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* --demo: a scripted scenario on libvirt's test driver, driven by a timer
 * of the same vevent loop that delivers the events.  Each step waits for
 * the event it causes before the next one runs, so the output shows each
 * call's event flowing back through the loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libvirt/virterror.h>

#include "monitor.h"
#include "monitor-config.h"

#define EVENT_TIMEOUT_MS 5000

enum action {
	DEFINE, START, DESCRIBE, SUSPEND, RESUME, SAVE, RESTORE, SHUTDOWN,
	DESTROY, UNDEFINE,
};

struct step {
	enum action action;
	const char *call;    /* what it calls, for the narration */
	int event_id;        /* the event it causes */
	int lifecycle_event; /* for lifecycle events, the type */
};

static const struct step steps[] = {
	{ DEFINE, "virDomainDefineXML", VIR_DOMAIN_EVENT_ID_LIFECYCLE,
	  VIR_DOMAIN_EVENT_DEFINED },
	{ START, "virDomainCreate", VIR_DOMAIN_EVENT_ID_LIFECYCLE,
	  VIR_DOMAIN_EVENT_STARTED },
#ifdef HAVE_VIR_DOMAIN_EVENT_ID_METADATA_CHANGE
	{ DESCRIBE, "virDomainSetMetadata", VIR_DOMAIN_EVENT_ID_METADATA_CHANGE,
	  -1 },
#endif
	{ SUSPEND, "virDomainSuspend", VIR_DOMAIN_EVENT_ID_LIFECYCLE,
	  VIR_DOMAIN_EVENT_SUSPENDED },
	{ RESUME, "virDomainResume", VIR_DOMAIN_EVENT_ID_LIFECYCLE,
	  VIR_DOMAIN_EVENT_RESUMED },
	{ SAVE, "virDomainSave", VIR_DOMAIN_EVENT_ID_LIFECYCLE,
	  VIR_DOMAIN_EVENT_STOPPED },
	{ RESTORE, "virDomainRestore", VIR_DOMAIN_EVENT_ID_LIFECYCLE,
	  VIR_DOMAIN_EVENT_STARTED },
	{ SHUTDOWN, "virDomainShutdown", VIR_DOMAIN_EVENT_ID_LIFECYCLE,
	  VIR_DOMAIN_EVENT_STOPPED },
	{ START, "virDomainCreate", VIR_DOMAIN_EVENT_ID_LIFECYCLE,
	  VIR_DOMAIN_EVENT_STARTED },
	{ DESTROY, "virDomainDestroy", VIR_DOMAIN_EVENT_ID_LIFECYCLE,
	  VIR_DOMAIN_EVENT_STOPPED },
	{ UNDEFINE, "virDomainUndefine", VIR_DOMAIN_EVENT_ID_LIFECYCLE,
	  VIR_DOMAIN_EVENT_UNDEFINED },
};
#define N_STEPS ((int)(sizeof(steps) / sizeof(steps[0])))

static struct {
	vev_loop *loop;
	virConnectPtr conn;
	virDomainPtr dom;
	void (*done)(int status);
	int timer;       /* 0: not started */
	int next;        /* the step to run next */
	bool waiting;    /* for the event of step next - 1 */
	bool defined;    /* the demo domain exists */
	int delay_ms;
	char name[32];
	char dir[64], save_path[128];
} demo;

static void finish(int status)
{
	vev_update_timer(demo.loop, demo.timer, -1);
	demo.waiting = false;
	demo.next = N_STEPS + 1;
	demo.done(status);
}

static int act(const struct step *s)
{
	char xml[256];

	switch (s->action) {
	case DEFINE:
		snprintf(xml, sizeof(xml),
			 "<domain type='test'><name>%s</name>"
			 "<memory unit='MiB'>128</memory><vcpu>1</vcpu>"
			 "<os><type>hvm</type></os></domain>",
			 demo.name);
		demo.dom = virDomainDefineXML(demo.conn, xml);
		demo.defined = demo.dom != NULL;
		return demo.dom ? 0 : -1;
	case START:
		return virDomainCreate(demo.dom);
	case DESCRIBE:
		return virDomainSetMetadata(demo.dom,
					    VIR_DOMAIN_METADATA_DESCRIPTION,
					    "driven by vevent-monitor --demo",
					    NULL, NULL,
					    VIR_DOMAIN_AFFECT_CURRENT);
	case SUSPEND:
		return virDomainSuspend(demo.dom);
	case RESUME:
		return virDomainResume(demo.dom);
	case SAVE:
		return virDomainSave(demo.dom, demo.save_path);
	case RESTORE: {
		int rc = virDomainRestore(demo.conn, demo.save_path);
		unlink(demo.save_path);
		return rc;
	}
	case SHUTDOWN:
		return virDomainShutdown(demo.dom);
	case DESTROY:
		return virDomainDestroy(demo.dom);
	case UNDEFINE: {
		int rc = virDomainUndefine(demo.dom);
		if (rc == 0)
			demo.defined = false;
		return rc;
	}
	}
	return -1;
}

static void on_step_timer(int timer, void *opaque)
{
	if (demo.waiting) {
		/* No event for the last step within EVENT_TIMEOUT_MS. */
		const struct step *s = &steps[demo.next - 1];
		note("demo: no event for %s within %d s", s->call,
		     EVENT_TIMEOUT_MS / 1000);
		finish(EXIT_RUNTIME);
		return;
	}
	if (demo.next >= N_STEPS) {
		note("demo: done");
		finish(EXIT_OK);
		return;
	}
	const struct step *s = &steps[demo.next++];
	note("demo: %s(%s)", s->call, demo.name);
	if (act(s) < 0) {
		if (s->action == SAVE) {
			/* A remote test driver may not reach our directory. */
			note("demo: cannot save here (%s); skipping save and "
			     "restore", libvirt_error());
			demo.next++;
			vev_update_timer(demo.loop, demo.timer, demo.delay_ms);
			return;
		}
		note("demo: %s failed: %s", s->call, libvirt_error());
		finish(EXIT_RUNTIME);
		return;
	}
	if (!monitor_subscribed(s->event_id)) {
		/* Not watched (--events): just pace the steps. */
		vev_update_timer(demo.loop, demo.timer, demo.delay_ms);
		return;
	}
	demo.waiting = true;
	vev_update_timer(demo.loop, demo.timer, EVENT_TIMEOUT_MS);
}

void demo_saw_event(int event_id, virDomainPtr dom, int lifecycle_event)
{
	if (!demo.timer || !demo.waiting || !dom ||
	    strcmp(virDomainGetName(dom), demo.name) != 0)
		return;
	const struct step *s = &steps[demo.next - 1];
	if (event_id != s->event_id ||
	    (s->lifecycle_event >= 0 && lifecycle_event != s->lifecycle_event))
		return;
	demo.waiting = false;
	vev_update_timer(demo.loop, demo.timer, demo.delay_ms);
}

int demo_start(vev_loop *loop, virConnectPtr conn, int delay_ms,
	       void (*done)(int status))
{
	demo.loop = loop;
	demo.conn = conn;
	demo.done = done;
	demo.delay_ms = delay_ms;
	/* A name no domain has yet. */
	for (int i = 1; i < 1000; i++) {
		snprintf(demo.name, sizeof(demo.name), "demo-%d", i);
		virDomainPtr d = virDomainLookupByName(conn, demo.name);
		if (!d)
			break;
		virDomainFree(d);
	}
	virResetLastError();
	snprintf(demo.dir, sizeof(demo.dir), "/tmp/vevent-monitor.XXXXXX");
	if (!mkdtemp(demo.dir)) {
		note("demo: cannot create a directory in /tmp: %m");
		demo.dir[0] = 0;
		return -1;
	}
	snprintf(demo.save_path, sizeof(demo.save_path), "%s/%s.save",
		 demo.dir, demo.name);
	demo.timer = vev_add_timer(loop, 0, on_step_timer, NULL, NULL);
	if (demo.timer < 0) {
		note("demo: %s", vev_last_error());
		demo.timer = 0;
		return -1;
	}
	return 0;
}

void demo_stop(void)
{
	if (demo.timer > 0)
		vev_remove_timer(demo.loop, demo.timer);
	demo.timer = 0;
	/* Interrupted: leave the driver as it was. */
	if (demo.defined) {
		virDomainDestroy(demo.dom);
		virDomainUndefine(demo.dom);
		virResetLastError();
		demo.defined = false;
	}
	if (demo.dom)
		virDomainFree(demo.dom);
	demo.dom = NULL;
	if (demo.dir[0]) {
		unlink(demo.save_path);
		rmdir(demo.dir);
		demo.dir[0] = 0;
	}
}
