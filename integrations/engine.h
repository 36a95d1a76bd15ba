/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The part of every integration that does not depend on the host loop: ids,
 * per-descriptor records with their combined masks, the timer heap, the
 * deferred free callbacks, and one "pass" that dispatches what is due.
 *
 * The host binding (glib.c, libevent.c, libuv.c) supplies four operations
 * and calls three entry points from the host loop's thread:
 *
 *   eng_sync()     before the host waits (or, for hosts without such a
 *                  hook, from its own callbacks): applies the changes made
 *                  since the last sync to the host's registrations and says
 *                  how long the host may wait;
 *   eng_fd_ready() when the host reports a descriptor;
 *   eng_pass()     once per host iteration, from a callback of its own (never
 *                  from inside another one): collects due timers and ready
 *                  watches, dispatches them, then runs the free callbacks.
 *
 * The six libvirt functions only change the engine's state under its lock
 * and, when called from anywhere but a running pass, ask the host to wake
 * up; the host's own objects are touched only by the loop thread, in sync.
 * That keeps every host usable from any thread without its own locking
 * (libevent without evthread_use_pthreads(), libuv whose only thread-safe
 * call is uv_async_send()).
 *
 * Each integration library links its own copy of this file.  The external
 * names are renamed per library (ENGINE_NS) so that the static archives of
 * several integrations can be linked into one program.
 */
#ifndef VEVENT_INTEGRATION_ENGINE_H
#define VEVENT_INTEGRATION_ENGINE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vevent/vevent.h"

#ifndef ENGINE_NS
#error "build the engine with -DENGINE_NS=<prefix>"
#endif
#define ENG_CAT_(a, b) a##b
#define ENG_CAT(a, b) ENG_CAT_(a, b)
#define ENG_SYM(name) ENG_CAT(ENGINE_NS, name)

#define eng_add_handle ENG_SYM(add_handle)
#define eng_update_handle ENG_SYM(update_handle)
#define eng_remove_handle ENG_SYM(remove_handle)
#define eng_add_timer ENG_SYM(add_timer)
#define eng_update_timer ENG_SYM(update_timer)
#define eng_remove_timer ENG_SYM(remove_timer)
#define eng_bind ENG_SYM(bind)
#define eng_unbind ENG_SYM(unbind)
#define eng_is_bound ENG_SYM(is_bound)
#define eng_in_pass ENG_SYM(in_pass)
#define eng_sync ENG_SYM(sync)
#define eng_timeout ENG_SYM(timeout)
#define eng_fd_ready ENG_SYM(fd_ready)
#define eng_fd_lost ENG_SYM(fd_lost)
#define eng_pass ENG_SYM(pass)
#define eng_stat ENG_SYM(stat)
#define eng_verify ENG_SYM(verify)
#define eng_fail ENG_SYM(fail)
#define eng_last_error ENG_SYM(last_error)

/* Event bits: libvirt's values. */
#define ENG_READABLE 1u
#define ENG_WRITABLE 2u
#define ENG_ERROR 4u
#define ENG_HANGUP 8u
#define ENG_RW (ENG_READABLE | ENG_WRITABLE)
#define ENG_ALL (ENG_RW | ENG_ERROR | ENG_HANGUP)
/* Reported by a host that knows the descriptor is not open (POLLNVAL). */
#define ENG_NVAL 16u
/* In a record's masks: polled, for ERROR and HANGUP at least. */
#define ENG_POLLED 0x80u

struct eng;
struct eng_fd;
struct eng_watch;

/* What the engine knows of one descriptor number: the file it was opened
 * for, the watches on it and what the host polls. */
struct eng_fd {
	int fd;
	uint8_t want;      /* ENG_RW | ENG_POLLED wanted by live watches */
	uint8_t host;      /* the same, as registered with the host */
	uint8_t reported;  /* revents from an exact host, for this pass */
	uint16_t flags;    /* ENG_FD_* */
	uint32_t nwatches;
	uint64_t seen;     /* the pass that last examined it */
	dev_t dev;
	ino_t ino;
	struct eng_watch *head, *tail;
	struct eng_fd *dirty_next, *ready_next, *synth_next;
	struct eng_fd *armed_prev, *armed_next;
	void *host_data; /* the binding's object for this descriptor */
};

enum {
	ENG_FD_DIRTY = 1 << 0,    /* on the change list */
	ENG_FD_READY = 1 << 1,    /* on the host-reported list */
	ENG_FD_SYNTH = 1 << 2,    /* on the list the pass examines itself */
	ENG_FD_ALWAYS = 1 << 3,   /* a regular file or directory: always
	                           * ready, as poll(2) says, never polled */
	ENG_FD_DETACHED = 1 << 4, /* the file is gone; its watches are dead */
	ENG_FD_EDGE = 1 << 5,     /* set by the binding: the host reports
	                           * changes, not levels, for this record */
	ENG_FD_ARMED = 1 << 6,    /* on the armed list (host != 0) */
};

/* Operations of the host binding.  Unless said otherwise they run on the
 * loop thread (or on the thread unbinding), with the engine lock held, and
 * must not call back into the engine. */
struct eng_host_ops {
	/* Make the host poll rec->fd for `want` (ENG_RW bits, or ENG_POLLED
	 * alone for ERROR/HANGUP only) instead of rec->host; 0 stops.  May
	 * set or clear ENG_FD_EDGE.  Returns 0; -EPERM if the host cannot
	 * poll that kind of file; another negative errno if it cannot poll
	 * it at all. */
	int (*fd_set)(struct eng *e, struct eng_fd *rec, unsigned want);
	/* Forget rec->host_data for good (rec->host is 0 already). */
	void (*fd_release)(struct eng *e, struct eng_fd *rec);
	/* Exact hosts only (NULL otherwise): the revents of the last wait for
	 * an armed record, as ENG_* bits and ENG_NVAL. */
	unsigned (*revents)(struct eng *e, struct eng_fd *rec);
	/* Any thread, engine lock held: make the loop thread run its sync
	 * (and a pass) soon.  Must not block. */
	void (*wake)(struct eng *e);
	/* Hosts with no hook that runs before every wait (libevent): changes
	 * made on the loop thread outside a pass are applied at once, and
	 * every sync ends by calling arm() with its answer, to make the host
	 * run a pass after that many nanoseconds (-1: no limit). */
	bool apply_at_once;
	void (*arm)(struct eng *e, int64_t ns);
};

struct eng_reg; /* private: a watch or timer */

struct eng_idmap {
	uint32_t cap, count;
	struct eng_idslot {
		int id;
		void *ptr;
	} *slots;
};

#define ENG_FIFO(type)              \
	struct {                    \
		type *head, *tail; \
	}

struct eng {
	const char *name; /* prefix of error messages */
	const struct eng_host_ops *ops;
	pthread_mutex_t lock;
	void *host;   /* the binding's data; NULL while unbound */
	bool closing; /* eng_unbind() is running */
	bool wake_pending;
	bool in_pass;
	pthread_t pass_thread;
	/* The thread that runs the host loop, as last seen in a sync or a
	 * pass (at first, the one that bound): while it is calling us, it is
	 * not waiting, and needs no wake-up. */
	pthread_t loop_thread;
	uint64_t passes;

	int64_t next_watch_id, next_timer_id;
	struct eng_idmap watch_ids, timer_ids;

	struct eng_fd **fds; /* current record of each number, or NULL */
	uint32_t fds_len;
	uint32_t nrecords;
	ENG_FIFO(struct eng_fd) dirty, ready, synth, armed;

	struct eng_timer **heap;
	uint32_t heap_len, heap_cap;
	uint64_t timer_seq;
	ENG_FIFO(struct eng_timer) due;
	ENG_FIFO(struct eng_watch) deliver;

	ENG_FIFO(struct eng_reg) frees;
	uint32_t pending_frees;
	uint32_t nwatches_alloc, ntimers_alloc; /* live + awaiting free */

	uint64_t stats[VEV_STAT_COUNT_];
};

#define ENG_INITIALIZER(prefix, host_ops)                                \
	{                                                                \
		.name = (prefix), .ops = (host_ops),                     \
		.lock = PTHREAD_MUTEX_INITIALIZER, .next_watch_id = 1,   \
		.next_timer_id = 1,                                      \
	}

/* ---- the six functions: any thread, from callbacks too ----------------- */

/* Return an id, 0 or a negative errno; the message is in eng_last_error(). */
int eng_add_handle(struct eng *e, int fd, int events, vev_handle_cb cb,
		   void *opaque, vev_free_cb ff);
int eng_update_handle(struct eng *e, int watch, int events);
int eng_remove_handle(struct eng *e, int watch);
int eng_add_timer(struct eng *e, int timeout_ms, vev_timer_cb cb,
		  void *opaque, vev_free_cb ff);
int eng_update_timer(struct eng *e, int timer, int timeout_ms);
int eng_remove_timer(struct eng *e, int timer);

/* ---- binding ------------------------------------------------------------ */

/* Start serving the six functions for `host`.  -EBUSY if bound already. */
int eng_bind(struct eng *e, void *host);
/* Remove every registration, run every pending free callback on the calling
 * thread, release every host object, and stop serving.  -ENOENT if not
 * bound, -EBUSY during a pass (or another unbind). */
int eng_unbind(struct eng *e);
bool eng_is_bound(struct eng *e);
/* A pass is running (on any thread). */
bool eng_in_pass(struct eng *e);

/* ---- the host loop's side ---------------------------------------------- */

/* Flags of eng_sync(). */
enum {
	/* A pass follows in this same host iteration, after the host has
	 * waited: check what the sync newly armed there, since the host will
	 * not report it before its next wait. */
	ENG_SYNC_CHECK_NEW = 1 << 0,
};

/* Apply pending changes to the host.  Returns the nanoseconds the host may
 * wait before the next pass is due: -1 no limit, 0 must not wait. */
int64_t eng_sync(struct eng *e, unsigned flags);
/* The same answer without applying anything (for a host's "check"). */
int64_t eng_timeout(struct eng *e);
/* The host saw rec's descriptor ready; its revents are not exact (exact
 * hosts supply them through ops->revents instead). */
void eng_fd_ready(struct eng *e, struct eng_fd *rec);
/* The host stopped polling rec by itself (libuv does on POLLERR): the next
 * sync registers it again if it is still wanted. */
void eng_fd_lost(struct eng *e, struct eng_fd *rec);
/* One dispatch round.  Returns the watch and timer callbacks it called. */
unsigned eng_pass(struct eng *e);

/* ---- introspection ------------------------------------------------------ */

int eng_stat(struct eng *e, enum vev_stat which, uint64_t *value);
int eng_verify(struct eng *e);

/* Record a message "<name>: ..." for eng_last_error() on this thread and
 * return -err. */
int eng_fail(struct eng *e, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
const char *eng_last_error(void);

#endif
