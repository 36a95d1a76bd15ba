/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The bridge tests' harness: named tests, one per process, under a
 * watchdog.  Also the pieces the libvirt
 * tests share: an event recorder that test threads wait on, and the check
 * that ends each of them (nothing left on the loop, every free callback
 * run). */
#ifndef VEVENT_LVTEST_H
#define VEVENT_LVTEST_H

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include "vevent/libvirt-bridge.h"
#include "vevent/vevent.h"
#include "bridge-private.h"

#define CHECK(cond)                                                        \
	do {                                                               \
		if (!(cond))                                               \
			lvtest_fail(__FILE__, __LINE__, "check failed: %s", \
				    #cond);                                \
	} while (0)

#define CHECK_EQ(a, b)                                                     \
	do {                                                               \
		long long a_ = (long long)(a), b_ = (long long)(b);        \
		if (a_ != b_)                                              \
			lvtest_fail(__FILE__, __LINE__,                    \
				    "%s == %lld, expected %s == %lld", #a, \
				    a_, #b, b_);                           \
	} while (0)

struct lvtest {
	const char *name;
	void (*fn)(void);
};

extern const struct lvtest tests[]; /* ends with { NULL, NULL } */
/* Seconds before a test counts as hung (VEVENT_TEST_WATCHDOG overrides). */
extern const unsigned lvtest_watchdog;

void lvtest_fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));
int64_t lvtest_now_ms(void);

/* A loop (backend from VEVENT_BACKEND) registered with libvirt. */
vev_loop *lvtest_register_loop(void);

/* ---- recording what libvirt delivers ----------------------------------- */

struct lvevent {
	int event, detail;
	char domain[64];
};

#define LVTEST_MAX_EVENTS 64

struct recorder {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct lvevent events[LVTEST_MAX_EVENTS];
	int nevents;
	int close_reason; /* -1 until the close callback ran */
	int frees;        /* free callbacks of our own opaque */
	pthread_t thread; /* where callbacks ran */
	bool thread_set, thread_mixed;
};

void recorder_init(struct recorder *r);
/* virConnectDomainEventCallback for VIR_DOMAIN_EVENT_ID_LIFECYCLE. */
int recorder_lifecycle(virConnectPtr conn, virDomainPtr dom, int event,
		       int detail, void *opaque);
/* virConnectCloseFunc. */
void recorder_closed(virConnectPtr conn, int reason, void *opaque);
/* virFreeCallback for the opaque of the two above. */
void recorder_free(void *opaque);
/* Wait until at least n events were recorded; false on timeout. */
bool recorder_wait_events(struct recorder *r, int n, int timeout_ms);
/* Wait until the close callback ran; false on timeout. */
bool recorder_wait_closed(struct recorder *r, int timeout_ms);
/* Check that event i is (event, detail) on domain. */
void recorder_check(struct recorder *r, int i, const char *domain, int event,
		    int detail);

/* The thread that runs the loop's callbacks, learnt through a timer. */
pthread_t lvtest_loop_thread(vev_loop *loop);

/* After every connection is closed: stop the loop's helper thread if one
 * runs (which runs the pending free callbacks), then check that the loop
 * holds no registration, that every registration libvirt made with a free
 * callback had it called, and the loop's invariants. */
void lvtest_check_loop_clean(vev_loop *loop, bool helper_thread);

#endif
