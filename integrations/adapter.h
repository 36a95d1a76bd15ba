/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What every integration shares: a vevent loop embedded in a host loop.
 *
 * The host (glib.c, libevent.c, libuv.c) only watches the loop's embedding
 * descriptor (vev_loop_fd()) for readability and, when it is readable, calls
 * adapter_dispatch(), which runs one non-blocking iteration.  Ids,
 * descriptor records, timers and free callbacks are all the vevent loop's;
 * the adapter keeps only the binding: which host object the loop is
 * attached to, and the table of libvirt's six functions.
 *
 * The host's objects are touched only by bind and unbind, never by the six
 * functions, so every host is usable from any thread without locking of
 * its own (libevent without evthread_use_pthreads(), libuv with no
 * thread-safe call at all): a change from another thread reaches the host
 * as the descriptor becoming readable.
 *
 * The loop is created by the first bind and lives as long as the process:
 * ids keep growing across unbind and bind, and counters survive unbinding.
 *
 * Each integration library links its own copy of adapter.c.  Its external
 * names are renamed per library (ADAPTER_NS) so that the static archives of
 * several integrations can be linked into one program.
 */
#ifndef VEVENT_INTEGRATION_ADAPTER_H
#define VEVENT_INTEGRATION_ADAPTER_H

#include <pthread.h>
#include <stdatomic.h>

#include "vevent/event-impl.h"
#include "vevent/vevent.h"

#ifndef ADAPTER_NS
#error "build the adapter with -DADAPTER_NS=<prefix>"
#endif
#define ADAPTER_CAT_(a, b) a##b
#define ADAPTER_CAT(a, b) ADAPTER_CAT_(a, b)
#define ADAPTER_SYM(name) ADAPTER_CAT(ADAPTER_NS, name)

#define adapter_bind ADAPTER_SYM(bind)
#define adapter_unbind ADAPTER_SYM(unbind)
#define adapter_dispatch ADAPTER_SYM(dispatch)
#define adapter_add_handle ADAPTER_SYM(add_handle)
#define adapter_update_handle ADAPTER_SYM(update_handle)
#define adapter_remove_handle ADAPTER_SYM(remove_handle)
#define adapter_add_timeout ADAPTER_SYM(add_timeout)
#define adapter_update_timeout ADAPTER_SYM(update_timeout)
#define adapter_remove_timeout ADAPTER_SYM(remove_timeout)
#define adapter_loop ADAPTER_SYM(loop)
#define adapter_stat ADAPTER_SYM(stat)
#define adapter_verify ADAPTER_SYM(verify)
#define adapter_fail ADAPTER_SYM(fail)
#define adapter_last_error ADAPTER_SYM(last_error)

struct adapter;

/* The host's side.  Both run on the thread binding or unbinding, with the
 * adapter's lock held, and must not call back into the adapter. */
struct adapter_host_ops {
	/* Watch `fd` for readability in `host`, calling adapter_dispatch()
	 * from the host loop whenever it is; keep what it needs in
	 * a->host_data.  Returns 0 or a negative errno, with a message from
	 * adapter_fail(). */
	int (*attach)(struct adapter *a, void *host, int fd);
	/* Stop watching and release what attach() made. */
	void (*detach)(struct adapter *a);
};

enum adapter_state { ADAPTER_UNBOUND, ADAPTER_BOUND, ADAPTER_UNBINDING };

struct adapter {
	const char *name; /* prefix of error messages: "vev_glib" */
	const struct adapter_host_ops *ops;
	const struct vev_event_impl *table;
	pthread_mutex_t lock; /* orders bind and unbind */
	vev_loop *_Atomic loop; /* made by the first bind, kept for good */
	_Atomic int state;    /* enum adapter_state */
	void *host;           /* what the loop is bound to */
	void *host_data;      /* the host's object watching the descriptor */
};

#define ADAPTER_INITIALIZER(prefix, host_ops, impl_table)                 \
	{                                                                 \
		.name = (prefix), .ops = (host_ops), .table = (impl_table), \
		.lock = PTHREAD_MUTEX_INITIALIZER,                        \
	}

/* Bind to `host` (the caller has checked it and impl for NULL).  0 with
 * *impl set (also when bound to the same host already), -EBUSY if bound to
 * another, or the error of creating the loop or attaching. */
int adapter_bind(struct adapter *a, void *host,
		 const struct vev_event_impl **impl);
/* Remove every registration, run every pending free callback on the calling
 * thread and detach.  -ENOENT if not bound; -EBUSY from a callback or a
 * free callback of the integration (unbind's own included), or while
 * another thread runs an iteration. */
int adapter_unbind(struct adapter *a);
/* The host saw the descriptor readable: one iteration, without waiting. */
void adapter_dispatch(struct adapter *a);

/* The six functions, with libvirt's return conventions. */
int adapter_add_handle(struct adapter *a, int fd, int events,
		       vev_handle_cb cb, void *opaque, vev_free_cb ff);
void adapter_update_handle(struct adapter *a, int watch, int events);
int adapter_remove_handle(struct adapter *a, int watch);
int adapter_add_timeout(struct adapter *a, int timeout_ms, vev_timer_cb cb,
			void *opaque, vev_free_cb ff);
void adapter_update_timeout(struct adapter *a, int timer, int timeout_ms);
int adapter_remove_timeout(struct adapter *a, int timer);

vev_loop *adapter_loop(struct adapter *a);
int adapter_stat(struct adapter *a, enum vev_stat which, uint64_t *value);
int adapter_verify(struct adapter *a);

/* Record "<name>: <message>" for adapter_last_error() on this thread and
 * return -err. */
int adapter_fail(struct adapter *a, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
const char *adapter_last_error(void);

/* Defines the six functions of one integration, bound to its adapter `a`,
 * and their table `table`. */
#define ADAPTER_DEFINE_TABLE(a, table)                                        \
	static int table##_add_handle(int fd, int events, vev_handle_cb cb,  \
				      void *opaque, vev_free_cb ff)          \
	{                                                                     \
		return adapter_add_handle(&(a), fd, events, cb, opaque, ff);  \
	}                                                                     \
	static void table##_update_handle(int watch, int events)             \
	{                                                                     \
		adapter_update_handle(&(a), watch, events);                   \
	}                                                                     \
	static int table##_remove_handle(int watch)                          \
	{                                                                     \
		return adapter_remove_handle(&(a), watch);                    \
	}                                                                     \
	static int table##_add_timeout(int ms, vev_timer_cb cb, void *opaque, \
				       vev_free_cb ff)                        \
	{                                                                     \
		return adapter_add_timeout(&(a), ms, cb, opaque, ff);         \
	}                                                                     \
	static void table##_update_timeout(int timer, int ms)                \
	{                                                                     \
		adapter_update_timeout(&(a), timer, ms);                      \
	}                                                                     \
	static int table##_remove_timeout(int timer)                         \
	{                                                                     \
		return adapter_remove_timeout(&(a), timer);                   \
	}                                                                     \
	static const struct vev_event_impl table = {                         \
		.add_handle = table##_add_handle,                             \
		.update_handle = table##_update_handle,                       \
		.remove_handle = table##_remove_handle,                       \
		.add_timeout = table##_add_timeout,                           \
		.update_timeout = table##_update_timeout,                     \
		.remove_timeout = table##_remove_timeout,                     \
	}

#endif
