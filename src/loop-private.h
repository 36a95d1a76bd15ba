/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The loop object and the helpers its files share.  Private to libvevent. */
#ifndef VEVENT_LOOP_PRIVATE_H
#define VEVENT_LOOP_PRIVATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vevent/vevent.h"

#include "alloc.h"
#include "error.h"
#include "idmap.h"
#include "lock.h"
#include "pool.h"

/* Rarely taken paths, kept out of the hot code around them. */
#ifdef __GNUC__
#define VEV_COLD __attribute__((cold, noinline))
#else
#define VEV_COLD
#endif

#define VEV_RW (VEV_READABLE | VEV_WRITABLE)
#define VEV_ALL_EVENTS (VEV_READABLE | VEV_WRITABLE | VEV_ERROR | VEV_HANGUP)
/* Backend-only bit: poll(2) said the descriptor is not open (POLLNVAL). */
#define VEV__NVAL (1 << 4)
/* In an fd record's masks: at least one live watch polls this descriptor,
 * even if it asks for neither READABLE nor WRITABLE (ERROR/HANGUP only). */
#define VEV__POLLED (1 << 7)

/* Both record kinds start with these fields, so the id map can read the id
 * of either through one layout. */
#define VEV_RECORD_HEAD      \
	void (*cb)(void);    \
	void *opaque;        \
	vev_free_cb ff;      \
	int id

/* The common view; `link` overlays a field the record no longer needs once
 * removed (a watch's fd, a timer's period) and chains the free list. */
struct vev_record {
	VEV_RECORD_HEAD;
	uint32_t link;
};

/* A watch.  cb == NULL once removed (then it waits on the free list). */
struct vev_handle {
	VEV_RECORD_HEAD;
	union {
		int fd;
		uint32_t link;
	};
	uint8_t events;  /* requested, masked to VEV_ALL_EVENTS */
	uint8_t flags;   /* VEV_H_* */
	uint32_t next;   /* next watch on the same fd, VEV_NIL at the end */
};

enum {
	VEV_H_DEAD = 1 << 0,    /* its descriptor was closed: never polled again */
	VEV_H_ERRPEND = 1 << 1, /* owes one ERROR report for that closure */
};

/* A timer.  cb == NULL once removed.  heap_idx is its place in the heap, or
 * one of the markers below; its deadline is in its heap entry.  Timers of
 * period 0 are due every iteration: they skip the heap and wait on a list in
 * arming order, linked through the period they are known to have and the
 * sequence number only the heap needs. */
struct vev_timer {
	VEV_RECORD_HEAD;
	union {
		int period;     /* ms; < 0 disabled */
		uint32_t link;  /* on a free list */
		uint32_t zprev; /* on the period-0 list (heap_idx ZERO) */
	};
	uint32_t heap_idx;
	union {
		uint32_t seq;   /* arming order, breaks deadline ties */
		uint32_t znext; /* on the period-0 list */
	};
};

/* One heap slot: the deadline (CLOCK_MONOTONIC ns, as two words so that the
 * entry takes 12 bytes) and the timer's pool index. */
struct vev_heap_entry {
	uint32_t deadline[2];
	uint32_t idx;
};

#define VEV_TIMER_IDLE UINT32_MAX        /* not armed */
#define VEV_TIMER_READY (UINT32_MAX - 1) /* collected, awaiting its callback */
#define VEV_TIMER_ZERO (UINT32_MAX - 2)  /* on the period-0 list */

/* What the loop knows of one descriptor number.  Indexed by fd. */
struct vev_fdrec {
	/* The file the watches on this number were made for (a 32-bit hash
	 * of its device and inode, taken when the first one was added): the
	 * number may be closed and reused behind the loop's back. */
	uint32_t ident;
	uint32_t head;  /* first watch on this fd, VEV_NIL if none */
	uint8_t want;   /* VEV_RW bits + VEV__POLLED wanted by live watches */
	uint8_t kernel; /* same encoding, as registered in the backend */
	uint8_t flags;  /* VEV_FD_* */
	uint8_t last_ready; /* low byte of the backend wait it was last reported */
};

enum {
	VEV_FD_DIRTY = 1 << 0,  /* on the change list */
	VEV_FD_SYNTH = 1 << 1,  /* on the synthetic-event list */
	VEV_FD_ALWAYS = 1 << 2, /* the backend cannot poll it (a regular file
	                          * under epoll): always ready, as poll(2) says */
};

/* The per-registration memory budget (docs/design.md, "Performance
 * targets": at most 64 bytes of loop memory per idle watch or timer) rests
 * on these sizes. */
_Static_assert(sizeof(struct vev_handle) == 40, "watch record grew");
_Static_assert(sizeof(struct vev_timer) == 40, "timer record grew");
_Static_assert(sizeof(struct vev_heap_entry) == 12, "heap entry grew");
_Static_assert(sizeof(struct vev_fdrec) == 12, "fd record grew");

struct vev_ready {
	uint32_t idx;
	uint32_t events;
};

/* A FIFO of removed records whose free callback has not run yet. */
struct vev_freelist {
	uint32_t head, tail;
	uint32_t count;
};

/* A list of descriptor numbers that never fails to take one more: when it
 * cannot grow, it sets `overflow` and its users scan the fd table for the
 * record flag instead.  Removal paths must not fail for lack of memory. */
struct vev_fdlist {
	int *fds;
	uint32_t len, cap;
	bool overflow;
};

struct vev_backend;
struct vev_embed;

struct vev_loop {
	struct vev_lock lock;
	const struct vev_backend *be;
	void *be_data;

	int wake_rfd, wake_wfd; /* eventfd: both the same */
	atomic_bool wake_pending;

	bool running;      /* an iteration is in progress */
	bool polling;      /* the loop thread is blocked in the backend */
	bool woken;        /* the backend saw the wake-up descriptor */
	bool quit;         /* vev_quit() not yet consumed by vev_run() */
	bool closing;      /* vev_loop_free() or vev_loop_clear() is running
	                    * free callbacks: adds are refused */
	bool freeing;      /* vev_loop_free(): leave the kernel state alone */
	bool rebuild;      /* the kernel holds a registration we cannot remove */
	unsigned long fork_gen; /* vev__fork_generation when the kernel state
	                         * was made; differs in a forked child */
	bool thread_active;
	/* Called by the helper thread around its vev_run() (may be NULL). */
	void (*thread_enter)(void *arg);
	void (*thread_leave)(void *arg);
	void *thread_arg;
	pthread_t runner;  /* valid while running */
	pthread_t thread;  /* the helper thread, valid while thread_active */

	/* watches */
	struct vev_pool handles;
	struct vev_idmap handle_ids;
	int64_t next_handle_id;
	struct vev_fdrec *fds;
	uint32_t fds_len;
	struct vev_fdlist dirty; /* fds whose want may differ from kernel */
	struct vev_fdlist synth; /* fds with synthetic events to deliver */
	struct vev_ready *ready;
	uint32_t ready_len, ready_cap;
	struct vev_freelist handle_frees;

	/* timers */
	struct vev_pool timers;
	struct vev_idmap timer_ids;
	int64_t next_timer_id;
	uint32_t zero_head, zero_tail; /* period-0 timers, VEV_NIL if none */
	struct vev_heap_entry *heap; /* a binary min-heap */
	uint32_t heap_len, heap_cap;
	uint32_t seq;
	uint32_t *due;     /* timers collected this iteration */
	uint32_t due_len, due_cap;
	struct vev_freelist timer_frees;

	struct vev_embed *embed; /* NULL until vev_loop_fd() is first called */

	uint64_t stats[VEV_STAT_COUNT_];
	uint64_t waits; /* backend waits, for tests that prove nothing spins */
};

/* ---- backend interface (one file per backend) ------------------------- */

struct vev_backend {
	const char *name;
	/* Set up be_data and watch loop->wake_rfd. */
	int (*init)(struct vev_loop *loop);
	void (*fini)(struct vev_loop *loop);
	/* Change what the kernel watches on fd from `old` to `want` (VEV_RW bits
	 * plus VEV__POLLED; 0 = not registered).  Called with the lock held.
	 * Returns 0, -EBADF or -ENOENT (the descriptor, or the file it was
	 * registered for, is gone), -EPERM (cannot be polled), or another
	 * -errno. */
	int (*set)(struct vev_loop *loop, int fd, unsigned old, unsigned want);
	/* The backend's modify operation fails when the number no longer
	 * names the registered file (epoll does; poll(2) knows only numbers
	 * and must be checked on every report too). */
	bool modify_checks_file;
	/* set() may run on any thread, while another waits (epoll; poll's
	 * array belongs to the thread in poll()). */
	bool set_from_any_thread;
	/* Drop all kernel state and start afresh (watching loop->wake_rfd,
	 * which may be new): after fork(), or to get rid of a registration
	 * for a file whose number was closed while a copy keeps it alive.
	 * Lock held.  Returns 0 or -errno (the old state is then kept). */
	int (*rebuild)(struct vev_loop *loop);
	/* Wait up to timeout_ms (-1 forever).  Called WITHOUT the lock, only by
	 * the thread running the iteration.  Returns 0 or -errno. */
	int (*wait)(struct vev_loop *loop, int timeout_ms);
	/* Report what wait() found: vev__fd_ready() per ready descriptor,
	 * loop->woken for the wake-up descriptor.  Lock held. */
	void (*collect)(struct vev_loop *loop);
	size_t (*memory)(const struct vev_loop *loop);
	/* The descriptor that is readable while a registered descriptor is
	 * ready (the epoll instance), for embedding; NULL if there is none. */
	int (*kernel_fd)(const struct vev_loop *loop);
};

extern const struct vev_backend vev__backend_epoll;
extern const struct vev_backend vev__backend_poll;

/* Called by backends from collect(): fd is ready with `events` (VEV_ bits,
 * possibly VEV__NVAL). */
void vev__fd_ready(struct vev_loop *loop, int fd, unsigned events);
/* Called by backends from collect(): fd no longer names the file it was
 * registered for.  Its watches get ERROR once and the kernel state is
 * rebuilt before the next wait. */
void vev__fd_stale(struct vev_loop *loop, int fd);

/* Bumped in every child after fork() (pthread_atfork). */
extern atomic_ulong vev__fork_generation;

/* ---- shared by loop.c, handles.c, timers.c ---------------------------- */

void vev__wake_polling(struct vev_loop *loop);
/* In a forked child: give the loop its own kernel state.  0 or -errno,
 * with a message prefixed by `what`. */
int vev__refresh_after_fork(struct vev_loop *loop, const char *what);

/* embed.c: bring the embedding descriptor up to date (lock held). */
void vev__embed_sync(struct vev_loop *loop);
void vev__embed_before_rebuild(struct vev_loop *loop);
void vev__embed_fini(struct vev_loop *loop);
int vev__embed_verify(const struct vev_loop *loop);
size_t vev__embed_memory(const struct vev_loop *loop);

/* A change was made (lock held): wake the loop thread if it is blocked in
 * the backend.  One that is dispatching reads the new state under the lock
 * before it waits.  An embedded loop between iterations is waited on by its
 * host, through the embedding descriptor, which must show the change now. */
static inline void vev__wake_locked(struct vev_loop *loop)
{
	if (loop->polling)
		vev__wake_polling(loop);
	else if (__builtin_expect(loop->embed != NULL, 0) && !loop->running)
		vev__embed_sync(loop);
}
/* Queue a removed record (cb already NULL) for its free callback. */
void vev__freelist_push(struct vev_loop *loop, struct vev_freelist *list,
			struct vev_pool *pool, uint32_t idx);
/* Run a callback with the lock released. */
#define VEV_CALL_UNLOCKED(loop, call)                  \
	do {                                           \
		vev__unlock(&(loop)->lock);            \
		call;                                  \
		vev__lock(&(loop)->lock);              \
	} while (0)

/* handles.c */
void vev__handles_init(struct vev_loop *loop);
void vev__handles_fini(struct vev_loop *loop);
void vev__handles_apply(struct vev_loop *loop);
/* The kernel state was rebuilt: register every descriptor again. */
void vev__handles_forget_kernel(struct vev_loop *loop);
static inline bool vev__handles_have_synth(const struct vev_loop *loop)
{
	return loop->synth.len > 0 || loop->synth.overflow;
}
void vev__handles_collect_synth(struct vev_loop *loop);
unsigned vev__handles_dispatch(struct vev_loop *loop);
void vev__handles_remove_all(struct vev_loop *loop);
int vev__handles_verify(const struct vev_loop *loop);
size_t vev__handles_memory(const struct vev_loop *loop);

/* timers.c */
void vev__timers_init(struct vev_loop *loop);
void vev__timers_fini(struct vev_loop *loop);
/* ms until the first deadline (0 if one is due), or -1 if none is armed. */
int vev__timers_timeout(const struct vev_loop *loop, int64_t now);
void vev__timers_collect(struct vev_loop *loop, int64_t now);
unsigned vev__timers_dispatch(struct vev_loop *loop);
void vev__timers_remove_all(struct vev_loop *loop);
int vev__timers_verify(const struct vev_loop *loop);
size_t vev__timers_memory(const struct vev_loop *loop);

/* ---- timers (timer-heap.c) --------------------------------------------- */

void vev__heap_push(struct vev_loop *loop, uint32_t idx, int64_t deadline);
void vev__heap_remove(struct vev_loop *loop, uint32_t idx);
/* The timer, in the heap, gets a new deadline: move it to its place. */
void vev__heap_reposition(struct vev_loop *loop, uint32_t idx,
			  int64_t deadline);
uint32_t vev__heap_pop(struct vev_loop *loop);
/* The first deadline; the heap must not be empty. */
int64_t vev__heap_top_deadline(const struct vev_loop *loop);
int vev__heap_grow(struct vev_loop *loop, uint32_t n);

/* Make room for n entries in total; 0 or -ENOMEM. */
static inline int vev__heap_reserve(struct vev_loop *loop, uint32_t n)
{
	return n <= loop->heap_cap ? 0 : vev__heap_grow(loop, n);
}
int vev__heap_verify(const struct vev_loop *loop);

static inline struct vev_timer *vev__timer_at(const struct vev_loop *loop,
					      uint32_t idx)
{
	return (struct vev_timer *)vev__pool_at_sized(&loop->timers, idx,
						      sizeof(struct vev_timer));
}

static inline struct vev_handle *vev__handle_at(const struct vev_loop *loop,
						uint32_t idx)
{
	return (struct vev_handle *)vev__pool_at_sized(
		&loop->handles, idx, sizeof(struct vev_handle));
}

int64_t vev__now_ns(void);

/* Test hook: whether the loop thread is blocked in the backend now. */
bool vev__test_is_polling(struct vev_loop *loop);
/* Test hook: the next ids handed out (to test the end of the id space). */
void vev__test_set_next_ids(struct vev_loop *loop, int handle_id, int timer_id);

#endif /* VEVENT_LOOP_PRIVATE_H */
