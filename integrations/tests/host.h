/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A host loop with its integration, as the tests drive it.  Written once per
 * host (host-glib.c, host-libevent.c, host-libuv.c); used by the contract
 * adapter (impl-host.c), the integration's own tests (test-integration.c)
 * and the real-libvirt test (test-libvirt.c). */
#ifndef VEVENT_TEST_HOST_H
#define VEVENT_TEST_HOST_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "vevent/event-impl.h"

struct host {
	const char *name; /* "glib", "libevent", "libuv" */
	/* Create / free the host loop (free: after unbinding). */
	void (*create)(void);
	void (*destroy)(void);
	/* The integration's bind to the host loop, unbind, and the other
	 * public functions. */
	int (*bind)(const struct vev_event_impl **impl);
	int (*unbind)(void);
	struct vev_loop *(*loop)(void);
	const char *(*last_error)(void);
	int (*stat)(enum vev_stat which, uint64_t *value);
	int (*verify)(void);
	/* bind() with a NULL impl pointer; bind() to a second loop, which the
	 * host creates and frees itself. */
	int (*bind_null)(void);
	int (*bind_other)(const struct vev_event_impl **impl);
	/* One iteration of the host loop: timeout_ms < 0 blocks until
	 * something happens, 0 does not block, > 0 blocks at most that long.
	 * 0, or -1 if the host failed. */
	int (*run)(int timeout_ms);
	/* How the host waits: "poll", "epoll". */
	const char *(*method)(void);
	/* The host is dispatching one of its callbacks right now. */
	bool (*in_dispatch)(void);
	/* Poll fd for reading with a handle of the program's own, as a
	 * program may (0); stop that again. */
	int (*own_poll)(int fd);
	void (*own_unpoll)(void);
};

extern const struct host host;

/* host-common.c */
/* Watch and timer callbacks the integration has dispatched so far. */
uint64_t host_calls(void);
uint64_t host_stat(enum vev_stat which);
/* Thread `tid` of this process is blocked waiting for events (in poll,
 * epoll_wait or select), as far as /proc tells; true if it cannot tell. */
bool host_thread_waits(pid_t tid);

#endif
