/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvirt domain lifecycle events in a libevent loop, through
 * vevent-libevent.
 *
 *   libevent-domain-events        on test:///default: defines, starts,
 *                                 stops and undefines a domain, prints the
 *                                 four events, exits
 *   libevent-domain-events URI    prints events from URI until Ctrl-C
 *
 * Build: cc libevent-domain-events.c \
 *            $(pkg-config --cflags --libs vevent-libevent libvirt)
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include <event2/event.h>
#include <libvirt/libvirt.h>
#include <vevent/vevent-libevent.h>

#define DEMO_XML                                                        \
	"<domain type='test'><name>vevent-demo</name>"                  \
	"<memory unit='MiB'>8</memory><os><type>hvm</type></os></domain>"

static struct event_base *base;
static int demo_events;

static const char *event_name(int event)
{
	static const char *const names[] = {
		"defined", "undefined", "started", "suspended",
		"resumed", "stopped",   "shutdown", "pmsuspended", "crashed",
	};
	return event >= 0 && event < (int)(sizeof(names) / sizeof(names[0])) ?
		       names[event] :
		       "other";
}

static void on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event,
			 int detail, void *opaque)
{
	bool demo = opaque != NULL;

	printf("%s: %s\n", virDomainGetName(dom), event_name(event));
	fflush(stdout);
	if (demo && ++demo_events == 4)
		event_base_loopbreak(base);
}

/* Runs once the loop runs: a domain's whole life on the test driver. */
static void demo(evutil_socket_t fd, short what, void *arg)
{
	virDomainPtr dom = virDomainDefineXML(arg, DEMO_XML);
	if (!dom || virDomainCreate(dom) < 0 || virDomainDestroy(dom) < 0 ||
	    virDomainUndefine(dom) < 0) {
		fprintf(stderr, "the demo domain failed\n");
		event_base_loopbreak(base);
	}
	if (dom)
		virDomainFree(dom);
}

static void on_sigint(evutil_socket_t sig, short what, void *arg)
{
	event_base_loopbreak(base);
}

int main(int argc, char **argv)
{
	const char *uri = argc > 1 ? argv[1] : "test:///default";
	bool is_demo = argc == 1;
	const struct vev_event_impl *impl;

	base = event_base_new();
	if (!base)
		return 1;
	/* Before libvirt does anything: its events come from this table. */
	if (vev_libevent_bind(base, &impl) < 0) {
		fprintf(stderr, "%s\n", vev_libevent_last_error());
		return 1;
	}
	virEventRegisterImpl(VEV_EVENT_IMPL_ARGS(impl));

	virConnectPtr conn = virConnectOpen(uri);
	if (!conn)
		return 1;
	int cb = virConnectDomainEventRegisterAny(
		conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
		VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle),
		is_demo ? conn : NULL, NULL);
	if (cb < 0)
		return 1;

	struct event *sigint = evsignal_new(base, SIGINT, on_sigint, NULL);
	event_add(sigint, NULL);
	if (is_demo) {
		struct timeval now = { 0, 0 };
		event_base_once(base, -1, EV_TIMEOUT, demo, conn, &now);
	}
	event_base_dispatch(base);

	virConnectDomainEventDeregisterAny(conn, cb);
	virConnectClose(conn);
	/* Runs the free callbacks libvirt's removals left pending. */
	vev_libevent_unbind();
	event_free(sigint);
	event_base_free(base);
	return is_demo && demo_events != 4;
}
