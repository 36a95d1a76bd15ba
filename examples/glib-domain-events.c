/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvirt domain lifecycle events in a GLib main loop, through vevent-glib.
 *
 *   glib-domain-events            on test:///default: defines, starts,
 *                                 stops and undefines a domain, prints the
 *                                 four events, exits
 *   glib-domain-events URI        prints events from URI until Ctrl-C
 *
 * Build: cc glib-domain-events.c \
 *            $(pkg-config --cflags --libs vevent-glib libvirt)
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <glib-unix.h>
#include <libvirt/libvirt.h>
#include <vevent/vevent-glib.h>

#define DEMO_XML                                                        \
	"<domain type='test'><name>vevent-demo</name>"                  \
	"<memory unit='MiB'>8</memory><os><type>hvm</type></os></domain>"

static GMainLoop *main_loop;
static int demo_events;

static const char *event_name(int event)
{
	static const char *const names[] = {
		"defined", "undefined", "started", "suspended",
		"resumed", "stopped",   "shutdown", "pmsuspended", "crashed",
	};
	return event >= 0 && event < (int)G_N_ELEMENTS(names) ? names[event] :
								"other";
}

static void on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event,
			 int detail, void *opaque)
{
	bool demo = opaque != NULL;

	printf("%s: %s\n", virDomainGetName(dom), event_name(event));
	fflush(stdout);
	if (demo && ++demo_events == 4)
		g_main_loop_quit(main_loop);
}

/* Runs once the loop runs: a domain's whole life on the test driver. */
static gboolean demo(gpointer data)
{
	virDomainPtr dom = virDomainDefineXML(data, DEMO_XML);
	if (!dom || virDomainCreate(dom) < 0 || virDomainDestroy(dom) < 0 ||
	    virDomainUndefine(dom) < 0) {
		fprintf(stderr, "the demo domain failed\n");
		g_main_loop_quit(main_loop);
	}
	if (dom)
		virDomainFree(dom);
	return G_SOURCE_REMOVE;
}

static gboolean on_sigint(gpointer data)
{
	g_main_loop_quit(main_loop);
	return G_SOURCE_CONTINUE;
}

int main(int argc, char **argv)
{
	const char *uri = argc > 1 ? argv[1] : "test:///default";
	bool is_demo = argc == 1;
	const struct vev_event_impl *impl;

	/* Before libvirt does anything: its events come from this table. */
	if (vev_glib_bind(NULL, &impl) < 0) {
		fprintf(stderr, "%s\n", vev_glib_last_error());
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

	main_loop = g_main_loop_new(NULL, FALSE);
	g_unix_signal_add(SIGINT, on_sigint, NULL);
	if (is_demo)
		g_idle_add(demo, conn);
	g_main_loop_run(main_loop);

	virConnectDomainEventDeregisterAny(conn, cb);
	virConnectClose(conn);
	/* Runs the free callbacks libvirt's removals left pending. */
	vev_glib_unbind();
	g_main_loop_unref(main_loop);
	return is_demo && demo_events != 4;
}
