/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvirt domain lifecycle events in a libuv loop, through vevent-libuv.
 *
 *   libuv-domain-events           on test:///default: defines, starts,
 *                                 stops and undefines a domain, prints the
 *                                 four events, exits
 *   libuv-domain-events URI       prints events from URI until Ctrl-C
 *
 * Build: cc libuv-domain-events.c \
 *            $(pkg-config --cflags --libs vevent-libuv libvirt)
 */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>

#include <libvirt/libvirt.h>
#include <uv.h>
#include <vevent/vevent-libuv.h>

#define DEMO_XML                                                        \
	"<domain type='test'><name>vevent-demo</name>"                  \
	"<memory unit='MiB'>8</memory><os><type>hvm</type></os></domain>"

static uv_loop_t *loop;
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
	/* The binding keeps the loop alive: stop it explicitly. */
	if (demo && ++demo_events == 4)
		uv_stop(loop);
}

/* Runs once the loop runs: a domain's whole life on the test driver. */
static void demo(uv_timer_t *timer)
{
	virDomainPtr dom = virDomainDefineXML(timer->data, DEMO_XML);
	if (!dom || virDomainCreate(dom) < 0 || virDomainDestroy(dom) < 0 ||
	    virDomainUndefine(dom) < 0) {
		fprintf(stderr, "the demo domain failed\n");
		uv_stop(loop);
	}
	if (dom)
		virDomainFree(dom);
}

static void on_sigint(uv_signal_t *handle, int signum)
{
	uv_stop(loop);
}

int main(int argc, char **argv)
{
	const char *uri = argc > 1 ? argv[1] : "test:///default";
	bool is_demo = argc == 1;
	const struct vev_event_impl *impl;
	uv_signal_t sigint;
	uv_timer_t start;

	loop = uv_default_loop();
	/* Before libvirt does anything: its events come from this table. */
	if (vev_libuv_bind(loop, &impl) < 0) {
		fprintf(stderr, "%s\n", vev_libuv_last_error());
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

	uv_signal_init(loop, &sigint);
	uv_signal_start(&sigint, on_sigint, SIGINT);
	uv_timer_init(loop, &start);
	start.data = conn;
	if (is_demo)
		uv_timer_start(&start, demo, 0, 0);
	uv_run(loop, UV_RUN_DEFAULT);

	virConnectDomainEventDeregisterAny(conn, cb);
	virConnectClose(conn);
	/* Runs the free callbacks libvirt's removals left pending, and
	 * closes the binding's handle; libuv finishes closing it in the
	 * next run. */
	vev_libuv_unbind();
	uv_close((uv_handle_t *)&sigint, NULL);
	uv_close((uv_handle_t *)&start, NULL);
	uv_run(loop, UV_RUN_DEFAULT);
	uv_loop_close(loop);
	return is_demo && demo_events != 4;
}
