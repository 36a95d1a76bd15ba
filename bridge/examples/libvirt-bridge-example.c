/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The README's example: vevent as the real libvirt's event loop.
 * cc example.c $(pkg-config --cflags --libs vevent-libvirt) */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>

#include <libvirt/libvirt.h>
#include <vevent/libvirt-bridge.h>

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static int events_seen;

/* Runs on the loop's thread, like every libvirt callback. */
static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event,
			int detail, void *opaque)
{
	static const char *const names[] = {
		"defined", "undefined", "started", "suspended", "resumed",
		"stopped", "shutdown",  "pmsuspended", "crashed",
	};
	printf("%s %s (detail %d)\n", virDomainGetName(dom),
	       event >= 0 && event < 9 ? names[event] : "?", detail);
	pthread_mutex_lock(&lock);
	events_seen++;
	pthread_cond_signal(&changed);
	pthread_mutex_unlock(&lock);
	return 0;
}

int main(void)
{
	vev_loop *loop;

	signal(SIGPIPE, SIG_IGN); /* as for any libvirt client */

	/* 1. Register a loop with libvirt and run it, before any connection. */
	if (vev_loop_new(&loop, VEV_LOOP_AUTO) < 0) {
		fprintf(stderr, "vev_loop_new: %s\n", vev_last_error());
		return 1;
	}
	if (vev_libvirt_register(loop) < 0) {
		fprintf(stderr, "%s\n", vev_libvirt_last_error());
		return 1;
	}
	if (vev_loop_start_thread(loop) < 0) { /* runs vev_run() from now on */
		fprintf(stderr, "%s\n", vev_last_error());
		return 1;
	}

	/* 2. Use libvirt as usual; its callbacks run on the loop's thread. */
	virConnectPtr conn = virConnectOpen("test:///default");
	if (!conn)
		return 1;
	int cb = virConnectDomainEventRegisterAny(
		conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
		VIR_DOMAIN_EVENT_CALLBACK(on_lifecycle), NULL, NULL);
	virDomainPtr dom = virDomainLookupByName(conn, "test");
	if (cb < 0 || !dom || virDomainSuspend(dom) < 0 ||
	    virDomainResume(dom) < 0)
		return 1;

	pthread_mutex_lock(&lock);
	while (events_seen < 2)
		pthread_cond_wait(&changed, &lock);
	pthread_mutex_unlock(&lock);

	/* 3. Close everything while the loop still runs, then stop it: that
	 *    also runs the free callbacks of libvirt's last removals. */
	virDomainFree(dom);
	virConnectDomainEventDeregisterAny(conn, cb);
	virConnectClose(conn);
	vev_loop_stop_thread(loop);
	/* libvirt keeps the loop registered: do not vev_loop_free() it. */
	return 0;
}
