/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The host-independent engine of the integrations; see engine.h. */
#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define NS_PER_MS 1000000LL

/* ---- registrations ------------------------------------------------------ */

/* What watches and timers share: enough to run the free callback. */
struct eng_reg {
	int id;
	bool removed;
	bool is_timer;
	void *opaque;
	vev_free_cb ff;
	struct eng_reg *free_next;
};

struct eng_watch {
	struct eng_reg r; /* first: freed through it */
	vev_handle_cb cb;
	int fd;
	uint8_t events;  /* asked for, masked to ENG_ALL */
	uint8_t flags;   /* W_* */
	uint8_t pending; /* bits collected for the running pass */
	struct eng_fd *rec;
	struct eng_watch *next, *prev; /* on rec */
	struct eng_watch *deliver_next;
};

enum {
	W_DEAD = 1 << 0,    /* its file is gone: never polled again */
	W_ERRPEND = 1 << 1, /* owes one ERROR report for that */
	W_DELIVER = 1 << 2, /* on the running pass's delivery list */
	W_SYNTH = 1 << 3,   /* `pending` is that ERROR report */
};

struct eng_timer {
	struct eng_reg r; /* first: freed through it */
	vev_timer_cb cb;
	int period;        /* ms; < 0 disabled */
	uint32_t heap_idx; /* or T_IDLE, T_DUE */
	int64_t deadline;  /* CLOCK_MONOTONIC ns */
	uint64_t seq;      /* arming order: breaks ties */
	struct eng_timer *due_next;
};

#define T_IDLE UINT32_MAX
#define T_DUE (UINT32_MAX - 1)

/* FIFO lists through a named link field. */
#define FIFO_PUSH(q, item, link)                      \
	do {                                          \
		(item)->link = NULL;                  \
		if ((q).tail)                         \
			(q).tail->link = (item);      \
		else                                  \
			(q).head = (item);            \
		(q).tail = (item);                    \
	} while (0)
#define FIFO_POP(q, item, link)                       \
	do {                                          \
		(item) = (q).head;                    \
		if (item) {                           \
			(q).head = (item)->link;      \
			if (!(q).head)                \
				(q).tail = NULL;      \
		}                                     \
	} while (0)

static _Thread_local char last_error[256];

int eng_fail(struct eng *e, int err, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(last_error, sizeof(last_error), "%s: ", e->name);

	if (n < 0 || (size_t)n >= sizeof(last_error))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(last_error + n, sizeof(last_error) - (size_t)n, fmt, ap);
	va_end(ap);
	return -err;
}

const char *eng_last_error(void)
{
	return last_error;
}

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- id table: open addressing, backward-shift deletion ---------------- */

static uint32_t id_slot(const struct eng_idmap *m, int id)
{
	return ((uint32_t)id * 2654435761u) & (m->cap - 1);
}

static void *idmap_find(const struct eng_idmap *m, int id)
{
	if (id <= 0 || m->cap == 0)
		return NULL;
	for (uint32_t i = id_slot(m, id);; i = (i + 1) & (m->cap - 1)) {
		if (m->slots[i].id == id)
			return m->slots[i].ptr;
		if (m->slots[i].id == 0)
			return NULL;
	}
}

static void idmap_put(struct eng_idmap *m, int id, void *ptr)
{
	uint32_t i = id_slot(m, id);
	while (m->slots[i].id != 0)
		i = (i + 1) & (m->cap - 1);
	m->slots[i].id = id;
	m->slots[i].ptr = ptr;
}

/* Room for one more entry, at most half full. */
static int idmap_reserve(struct eng_idmap *m)
{
	if ((m->count + 1) * 2 <= m->cap)
		return 0;
	uint32_t cap = m->cap ? m->cap * 2 : 16;
	if (cap == 0)
		return -ENOMEM;
	struct eng_idmap bigger = { cap, m->count,
				    calloc(cap, sizeof(*m->slots)) };
	if (!bigger.slots)
		return -ENOMEM;
	for (uint32_t i = 0; i < m->cap; i++)
		if (m->slots[i].id)
			idmap_put(&bigger, m->slots[i].id, m->slots[i].ptr);
	free(m->slots);
	*m = bigger;
	return 0;
}

static void idmap_insert(struct eng_idmap *m, int id, void *ptr)
{
	idmap_put(m, id, ptr);
	m->count++;
}

/* Empty slot i, moving later members of its cluster back so that every
 * lookup still finds them without tombstones. */
static void idmap_erase_at(struct eng_idmap *m, uint32_t i)
{
	uint32_t mask = m->cap - 1;

	for (uint32_t j = (i + 1) & mask; m->slots[j].id; j = (j + 1) & mask) {
		uint32_t home = id_slot(m, m->slots[j].id);
		/* j's entry may move to i unless its home lies cyclically in
		 * (i, j]. */
		bool stays = i <= j ? (home > i && home <= j) :
				      (home > i || home <= j);
		if (!stays) {
			m->slots[i] = m->slots[j];
			i = j;
		}
	}
	m->slots[i].id = 0;
	m->slots[i].ptr = NULL;
	m->count--;
}

static void *idmap_remove(struct eng_idmap *m, int id)
{
	if (id <= 0 || m->cap == 0)
		return NULL;
	for (uint32_t i = id_slot(m, id);; i = (i + 1) & (m->cap - 1)) {
		if (m->slots[i].id == 0)
			return NULL;
		if (m->slots[i].id == id) {
			void *ptr = m->slots[i].ptr;
			idmap_erase_at(m, i);
			return ptr;
		}
	}
}

static void idmap_fini(struct eng_idmap *m)
{
	free(m->slots);
	*m = (struct eng_idmap){ 0 };
}

/* ---- waking the loop thread -------------------------------------------- */

static bool on_pass_thread(const struct eng *e)
{
	return e->in_pass && pthread_equal(e->pass_thread, pthread_self());
}

static void sync_locked(struct eng *e, unsigned flags);

/* Something the loop thread must apply or dispatch changed.  A pass is
 * followed by a sync before the host waits again, and so is anything the
 * loop thread does when the host syncs before every wait: only calls from
 * other threads need a wake-up, and one is enough until the next sync. */
static void changed(struct eng *e)
{
	if (!e->host || e->closing || on_pass_thread(e))
		return;
	if (pthread_equal(e->loop_thread, pthread_self())) {
		if (e->ops->apply_at_once)
			sync_locked(e, 0);
		return;
	}
	if (e->wake_pending)
		return;
	e->wake_pending = true;
	e->stats[VEV_STAT_WAKEUPS]++;
	e->ops->wake(e);
}

/* ---- free callbacks ----------------------------------------------------- */

static void defer_free(struct eng *e, struct eng_reg *r)
{
	r->removed = true;
	FIFO_PUSH(e->frees, r, free_next);
	e->pending_frees++;
}

/* Called and returns with the lock held; drops it around each callback. */
static void run_frees(struct eng *e)
{
	struct eng_reg *r;

	for (;;) {
		FIFO_POP(e->frees, r, free_next);
		if (!r)
			break;
		e->pending_frees--;
		vev_free_cb ff = r->ff;
		void *opaque = r->opaque;
		pthread_mutex_unlock(&e->lock);
		if (ff)
			ff(opaque);
		/* Watch and timer memory is released only here, after every
		 * list of the pass that could still point to it was used. */
		bool is_timer = r->is_timer;
		free(r);
		pthread_mutex_lock(&e->lock);
		if (ff)
			e->stats[VEV_STAT_FREE_CALLS]++;
		if (is_timer)
			e->ntimers_alloc--;
		else
			e->nwatches_alloc--;
	}
}

/* ---- descriptor records ------------------------------------------------- */

static void mark_dirty(struct eng *e, struct eng_fd *rec)
{
	if (rec->flags & ENG_FD_DIRTY)
		return;
	rec->flags |= ENG_FD_DIRTY;
	FIFO_PUSH(e->dirty, rec, dirty_next);
}

static void mark_synth(struct eng *e, struct eng_fd *rec)
{
	if (rec->flags & ENG_FD_SYNTH)
		return;
	rec->flags |= ENG_FD_SYNTH;
	FIFO_PUSH(e->synth, rec, synth_next);
}

static unsigned want_of(const struct eng_watch *w)
{
	if (w->events == 0 || (w->flags & W_DEAD))
		return 0;
	return (w->events & ENG_RW) | ENG_POLLED;
}

static void refresh_want(struct eng *e, struct eng_fd *rec)
{
	unsigned want = 0;

	for (struct eng_watch *w = rec->head; w; w = w->next)
		want |= want_of(w);
	rec->want = (uint8_t)want;
	if (rec->want != rec->host || rec->nwatches == 0 ||
	    (rec->flags & ENG_FD_ALWAYS))
		mark_dirty(e, rec);
}

static bool same_file(const struct eng_fd *rec)
{
	struct stat st;
	return fstat(rec->fd, &st) == 0 && st.st_dev == rec->dev &&
	       st.st_ino == rec->ino;
}

/* The file rec was made for is gone (closed, or its number now names
 * another file): its watches report ERROR once and are never polled again.
 * A new watch on the number gets a new record. */
static void defunct(struct eng *e, struct eng_fd *rec)
{
	if (rec->flags & ENG_FD_DETACHED)
		return;
	for (struct eng_watch *w = rec->head; w; w = w->next)
		if (!(w->flags & W_DEAD))
			w->flags |= W_DEAD | W_ERRPEND;
	rec->flags |= ENG_FD_DETACHED;
	rec->flags &= ~ENG_FD_ALWAYS;
	if ((uint32_t)rec->fd < e->fds_len && e->fds[rec->fd] == rec)
		e->fds[rec->fd] = NULL;
	refresh_want(e, rec);
	mark_dirty(e, rec);
	mark_synth(e, rec);
}

static int fds_reserve(struct eng *e, int fd)
{
	if ((uint32_t)fd < e->fds_len)
		return 0;
	uint64_t len = (uint64_t)e->fds_len + e->fds_len / 2;
	if (len < (uint64_t)fd + 1)
		len = (uint64_t)fd + 1;
	len = (len + 63) & ~(uint64_t)63;
	struct eng_fd **fds = realloc(e->fds, (size_t)len * sizeof(*fds));
	if (!fds)
		return -ENOMEM;
	memset(fds + e->fds_len, 0,
	       (size_t)(len - e->fds_len) * sizeof(*fds));
	e->fds = fds;
	e->fds_len = (uint32_t)len;
	return 0;
}

static struct eng_fd *record_new(struct eng *e, int fd, const struct stat *st)
{
	struct eng_fd *rec = calloc(1, sizeof(*rec));
	if (!rec)
		return NULL;
	rec->fd = fd;
	rec->dev = st->st_dev;
	rec->ino = st->st_ino;
	/* Neither epoll nor libevent's epoll method accepts these; poll(2)
	 * calls them always readable and writable, and so does every
	 * integration. */
	if (S_ISREG(st->st_mode) || S_ISDIR(st->st_mode))
		rec->flags |= ENG_FD_ALWAYS;
	e->fds[fd] = rec;
	e->nrecords++;
	return rec;
}

static void armed_link(struct eng *e, struct eng_fd *rec)
{
	if (rec->flags & ENG_FD_ARMED)
		return;
	rec->flags |= ENG_FD_ARMED;
	rec->armed_next = NULL;
	rec->armed_prev = e->armed.tail;
	if (e->armed.tail)
		e->armed.tail->armed_next = rec;
	else
		e->armed.head = rec;
	e->armed.tail = rec;
}

static void armed_unlink(struct eng *e, struct eng_fd *rec)
{
	if (!(rec->flags & ENG_FD_ARMED))
		return;
	rec->flags &= ~ENG_FD_ARMED;
	if (rec->armed_prev)
		rec->armed_prev->armed_next = rec->armed_next;
	else
		e->armed.head = rec->armed_next;
	if (rec->armed_next)
		rec->armed_next->armed_prev = rec->armed_prev;
	else
		e->armed.tail = rec->armed_prev;
	rec->armed_next = rec->armed_prev = NULL;
}

static void host_set(struct eng *e, struct eng_fd *rec, unsigned want)
{
	int rc = e->ops->fd_set(e, rec, want);

	if (rc == 0) {
		rec->host = (uint8_t)want;
	} else {
		rec->host = 0;
		if (want == 0) {
			/* Failing to stop leaves nothing we could retry. */
		} else if (rc == -EPERM) {
			rec->flags |= ENG_FD_ALWAYS;
		} else {
			/* Closed under us, or not pollable by this host at
			 * all: ERROR to the watches rather than silence. */
			defunct(e, rec);
		}
	}
	if (rec->host)
		armed_link(e, rec);
	else
		armed_unlink(e, rec);
}

/* Bring the host in line with one record (taken off the dirty list by the
 * caller); release its host object once it is gone, and free it once
 * nothing refers to it any more. */
static void apply(struct eng *e, struct eng_fd *rec, unsigned flags)
{
	bool gone = (rec->flags & ENG_FD_DETACHED) || rec->nwatches == 0;
	unsigned want = gone || (rec->flags & ENG_FD_ALWAYS) ? 0 : rec->want;

	/* A number whose file changed since it was registered must not be
	 * handed to the host as if it were the same (libuv aborts on a
	 * closed one; any host would watch the wrong file).  Checked on every
	 * change, since an epoll-based host does not tell. */
	if (want && !same_file(rec)) {
		defunct(e, rec);
		gone = true;
		want = 0;
	}
	if (want != rec->host) {
		host_set(e, rec, want);
		if (rec->host && (flags & ENG_SYNC_CHECK_NEW))
			mark_synth(e, rec);
		/* A host that cannot poll it at all made it defunct. */
		gone = gone || (rec->flags & ENG_FD_DETACHED);
	}
	if ((rec->flags & ENG_FD_ALWAYS) && (rec->want & ENG_RW) && !gone)
		mark_synth(e, rec);
	if (!gone)
		return;
	/* Some registrations have no object of their own (libevent's
	 * ERROR/HANGUP-only ones without EV_ET), some objects outlive their
	 * registration (a stopped libuv poll handle): stop, then release. */
	if (rec->host)
		host_set(e, rec, 0);
	if (rec->host_data) {
		e->ops->fd_release(e, rec);
		rec->host_data = NULL;
	}
	if (rec->nwatches ||
	    (rec->flags & (ENG_FD_READY | ENG_FD_SYNTH | ENG_FD_DIRTY))) {
		/* Still referenced: a pass releases it from its lists and
		 * marks it dirty again. */
		return;
	}
	if ((uint32_t)rec->fd < e->fds_len && e->fds[rec->fd] == rec)
		e->fds[rec->fd] = NULL;
	e->nrecords--;
	free(rec);
}

/* ---- timers ------------------------------------------------------------- */

static bool timer_before(const struct eng_timer *a, const struct eng_timer *b)
{
	return a->deadline < b->deadline ||
	       (a->deadline == b->deadline && a->seq < b->seq);
}

static void heap_set(struct eng *e, uint32_t i, struct eng_timer *t)
{
	e->heap[i] = t;
	t->heap_idx = i;
}

static void heap_up(struct eng *e, uint32_t i)
{
	struct eng_timer *t = e->heap[i];
	while (i > 0) {
		uint32_t parent = (i - 1) / 2;
		if (!timer_before(t, e->heap[parent]))
			break;
		heap_set(e, i, e->heap[parent]);
		i = parent;
	}
	heap_set(e, i, t);
}

static void heap_down(struct eng *e, uint32_t i)
{
	struct eng_timer *t = e->heap[i];
	for (;;) {
		uint32_t c = 2 * i + 1;
		if (c >= e->heap_len)
			break;
		if (c + 1 < e->heap_len &&
		    timer_before(e->heap[c + 1], e->heap[c]))
			c++;
		if (!timer_before(e->heap[c], t))
			break;
		heap_set(e, i, e->heap[c]);
		i = c;
	}
	heap_set(e, i, t);
}

static void heap_remove(struct eng *e, struct eng_timer *t)
{
	uint32_t i = t->heap_idx;
	struct eng_timer *last = e->heap[--e->heap_len];

	t->heap_idx = T_IDLE;
	if (last == t)
		return;
	heap_set(e, i, last);
	heap_up(e, i);
	heap_down(e, last->heap_idx);
}

static struct eng_timer *heap_pop(struct eng *e)
{
	struct eng_timer *t = e->heap[0];
	heap_remove(e, t);
	return t;
}

/* The heap always has room for every live timer, so that arming never
 * needs memory. */
static int heap_reserve(struct eng *e, uint32_t n)
{
	if (n <= e->heap_cap)
		return 0;
	uint32_t cap = e->heap_cap ? e->heap_cap * 2 : 16;
	while (cap < n)
		cap *= 2;
	struct eng_timer **h = realloc(e->heap, (size_t)cap * sizeof(*h));
	if (!h)
		return -ENOMEM;
	e->heap = h;
	e->heap_cap = cap;
	return 0;
}

static void arm(struct eng *e, struct eng_timer *t, int64_t now)
{
	if (t->period < 0) {
		t->heap_idx = T_IDLE;
		return;
	}
	t->deadline = now + (int64_t)t->period * NS_PER_MS;
	t->seq = e->timer_seq++;
	t->heap_idx = e->heap_len++;
	e->heap[t->heap_idx] = t;
	heap_up(e, t->heap_idx);
}

/* Out of the heap, or out of this pass's due list. */
static void disarm(struct eng *e, struct eng_timer *t)
{
	if (t->heap_idx == T_DUE)
		t->heap_idx = T_IDLE;
	else if (t->heap_idx != T_IDLE)
		heap_remove(e, t);
}

/* ---- the six functions -------------------------------------------------- */

static int not_bound(struct eng *e, const char *what)
{
	if (e->closing)
		return eng_fail(e, ESHUTDOWN, "%s: the integration is being "
				"unbound", what);
	return eng_fail(e, ENOTCONN, "%s: not bound to a host loop yet "
			"(call the bind function first)", what);
}

int eng_add_handle(struct eng *e, int fd, int events, vev_handle_cb cb,
		   void *opaque, vev_free_cb ff)
{
	struct stat st;
	int ret;

	if (!cb)
		return eng_fail(e, EINVAL, "add handle: callback is NULL");
	if (fd < 0)
		return eng_fail(e, EBADF, "add handle: fd %d is negative", fd);
	if (fstat(fd, &st) < 0)
		return eng_fail(e, EBADF, "add handle: fd %d is not an open "
				"descriptor", fd);

	pthread_mutex_lock(&e->lock);
	if (!e->host || e->closing) {
		ret = not_bound(e, "add handle");
		goto out;
	}
	if (e->next_watch_id > INT_MAX) {
		ret = eng_fail(e, EOVERFLOW, "add handle: all %d watch ids "
			       "have been used", INT_MAX);
		goto out;
	}
	struct eng_watch *w = calloc(1, sizeof(*w));
	if (!w || fds_reserve(e, fd) < 0 || idmap_reserve(&e->watch_ids) < 0) {
		free(w);
		ret = eng_fail(e, ENOMEM, "add handle: out of memory");
		goto out;
	}
	struct eng_fd *rec = e->fds[fd];
	/* The number may name another file than the one its record was made
	 * for: the old watches must not see the new file. */
	if (rec && (st.st_dev != rec->dev || st.st_ino != rec->ino)) {
		defunct(e, rec);
		rec = NULL;
	}
	if (!rec && !(rec = record_new(e, fd, &st))) {
		free(w);
		ret = eng_fail(e, ENOMEM, "add handle: out of memory");
		goto out;
	}
	w->r.id = (int)e->next_watch_id++;
	w->r.opaque = opaque;
	w->r.ff = ff;
	w->cb = cb;
	w->fd = fd;
	w->events = (uint8_t)(events & ENG_ALL);
	w->rec = rec;
	w->prev = rec->tail;
	if (rec->tail)
		rec->tail->next = w;
	else
		rec->head = w;
	rec->tail = w;
	rec->nwatches++;
	idmap_insert(&e->watch_ids, w->r.id, w);
	e->nwatches_alloc++;
	refresh_want(e, rec);
	changed(e);
	ret = w->r.id;
out:
	pthread_mutex_unlock(&e->lock);
	return ret;
}

int eng_update_handle(struct eng *e, int watch, int events)
{
	int ret = 0;

	pthread_mutex_lock(&e->lock);
	struct eng_watch *w = idmap_find(&e->watch_ids, watch);
	if (!w) {
		ret = eng_fail(e, ENOENT, "update handle: no watch %d", watch);
	} else {
		w->events = (uint8_t)(events & ENG_ALL);
		refresh_want(e, w->rec);
		/* Touching a watch makes the next sync check that its number
		 * still names its file (epoll forgets closed files quietly). */
		mark_dirty(e, w->rec);
		changed(e);
	}
	pthread_mutex_unlock(&e->lock);
	return ret;
}

static void watch_unlink(struct eng *e, struct eng_watch *w)
{
	struct eng_fd *rec = w->rec;

	if (w->prev)
		w->prev->next = w->next;
	else
		rec->head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		rec->tail = w->prev;
	w->next = w->prev = NULL;
	rec->nwatches--;
	refresh_want(e, rec);
	defer_free(e, &w->r);
}

int eng_remove_handle(struct eng *e, int watch)
{
	int ret = 0;

	pthread_mutex_lock(&e->lock);
	struct eng_watch *w = idmap_remove(&e->watch_ids, watch);
	if (!w) {
		ret = eng_fail(e, ENOENT, "remove handle: no watch %d", watch);
	} else {
		watch_unlink(e, w);
		changed(e);
	}
	pthread_mutex_unlock(&e->lock);
	return ret;
}

int eng_add_timer(struct eng *e, int timeout_ms, vev_timer_cb cb,
		  void *opaque, vev_free_cb ff)
{
	int ret;

	if (!cb)
		return eng_fail(e, EINVAL, "add timeout: callback is NULL");
	pthread_mutex_lock(&e->lock);
	if (!e->host || e->closing) {
		ret = not_bound(e, "add timeout");
		goto out;
	}
	if (e->next_timer_id > INT_MAX) {
		ret = eng_fail(e, EOVERFLOW, "add timeout: all %d timer ids "
			       "have been used", INT_MAX);
		goto out;
	}
	struct eng_timer *t = calloc(1, sizeof(*t));
	if (!t || heap_reserve(e, e->timer_ids.count + 1) < 0 ||
	    idmap_reserve(&e->timer_ids) < 0) {
		free(t);
		ret = eng_fail(e, ENOMEM, "add timeout: out of memory");
		goto out;
	}
	t->r.id = (int)e->next_timer_id++;
	t->r.is_timer = true;
	t->r.opaque = opaque;
	t->r.ff = ff;
	t->cb = cb;
	t->period = timeout_ms;
	idmap_insert(&e->timer_ids, t->r.id, t);
	e->ntimers_alloc++;
	arm(e, t, now_ns());
	changed(e);
	ret = t->r.id;
out:
	pthread_mutex_unlock(&e->lock);
	return ret;
}

int eng_update_timer(struct eng *e, int timer, int timeout_ms)
{
	int ret = 0;

	pthread_mutex_lock(&e->lock);
	struct eng_timer *t = idmap_find(&e->timer_ids, timer);
	if (!t) {
		ret = eng_fail(e, ENOENT, "update timeout: no timer %d", timer);
	} else {
		/* Even with the same period: every update restarts the
		 * countdown. */
		disarm(e, t);
		t->period = timeout_ms;
		arm(e, t, now_ns());
		changed(e);
	}
	pthread_mutex_unlock(&e->lock);
	return ret;
}

int eng_remove_timer(struct eng *e, int timer)
{
	int ret = 0;

	pthread_mutex_lock(&e->lock);
	struct eng_timer *t = idmap_remove(&e->timer_ids, timer);
	if (!t) {
		ret = eng_fail(e, ENOENT, "remove timeout: no timer %d", timer);
	} else {
		disarm(e, t);
		defer_free(e, &t->r);
		changed(e);
	}
	pthread_mutex_unlock(&e->lock);
	return ret;
}

/* ---- binding ------------------------------------------------------------ */

int eng_bind(struct eng *e, void *host)
{
	int ret = 0;

	pthread_mutex_lock(&e->lock);
	if (e->host) {
		ret = -EBUSY;
	} else {
		e->host = host;
		e->loop_thread = pthread_self();
		e->wake_pending = false;
	}
	pthread_mutex_unlock(&e->lock);
	return ret;
}

bool eng_is_bound(struct eng *e)
{
	pthread_mutex_lock(&e->lock);
	bool bound = e->host != NULL;
	pthread_mutex_unlock(&e->lock);
	return bound;
}

bool eng_in_pass(struct eng *e)
{
	pthread_mutex_lock(&e->lock);
	bool in = e->in_pass;
	pthread_mutex_unlock(&e->lock);
	return in;
}

static void remove_everything(struct eng *e)
{
	struct eng_idmap *m = &e->watch_ids;
	for (uint32_t i = 0; i < m->cap;) {
		if (!m->slots[i].id) {
			i++;
			continue;
		}
		/* Erasing may pull a later entry into slot i: look again. */
		struct eng_watch *w = m->slots[i].ptr;
		idmap_erase_at(m, i);
		watch_unlink(e, w);
	}
	m = &e->timer_ids;
	for (uint32_t i = 0; i < m->cap;) {
		if (!m->slots[i].id) {
			i++;
			continue;
		}
		struct eng_timer *t = m->slots[i].ptr;
		idmap_erase_at(m, i);
		disarm(e, t);
		defer_free(e, &t->r);
	}
}

int eng_unbind(struct eng *e)
{
	struct eng_fd *rec;

	pthread_mutex_lock(&e->lock);
	if (!e->host || e->in_pass || e->closing) {
		int err = !e->host ? ENOENT : EBUSY;
		pthread_mutex_unlock(&e->lock);
		return -err;
	}
	e->closing = true;
	/* Free callbacks may remove more (adds fail while closing). */
	do {
		remove_everything(e);
		run_frees(e);
	} while (e->watch_ids.count || e->timer_ids.count);

	/* Nothing refers to the records any more but these lists. */
	for (;;) {
		FIFO_POP(e->ready, rec, ready_next);
		if (!rec)
			break;
		rec->flags &= ~ENG_FD_READY;
	}
	for (;;) {
		FIFO_POP(e->synth, rec, synth_next);
		if (!rec)
			break;
		rec->flags &= ~ENG_FD_SYNTH;
	}
	for (;;) {
		FIFO_POP(e->dirty, rec, dirty_next);
		if (!rec)
			break;
		rec->flags &= ~ENG_FD_DIRTY;
		apply(e, rec, 0);
	}
	idmap_fini(&e->watch_ids);
	idmap_fini(&e->timer_ids);
	free(e->fds);
	e->fds = NULL;
	e->fds_len = 0;
	free(e->heap);
	e->heap = NULL;
	e->heap_cap = e->heap_len = 0;
	e->host = NULL;
	e->closing = false;
	e->wake_pending = false;
	pthread_mutex_unlock(&e->lock);
	return 0;
}

/* ---- the host loop's side ---------------------------------------------- */

static int64_t timeout_locked(struct eng *e)
{
	if (!e->host)
		return -1;
	if (e->frees.head || e->synth.head || e->ready.head)
		return 0;
	if (e->heap_len == 0)
		return -1;
	int64_t left = e->heap[0]->deadline - now_ns();
	return left > 0 ? left : 0;
}

int64_t eng_timeout(struct eng *e)
{
	pthread_mutex_lock(&e->lock);
	int64_t t = timeout_locked(e);
	pthread_mutex_unlock(&e->lock);
	return t;
}

/* Stops and releases first, so that a number handed from a dead record to
 * a new one is free in the host when the new one registers it (libuv
 * refuses a second poll handle for a descriptor). */
static void sync_round(struct eng *e, unsigned flags)
{
	struct eng_fd *rec;
	ENG_FIFO(struct eng_fd) later = { NULL, NULL };

	for (;;) {
		FIFO_POP(e->dirty, rec, dirty_next);
		if (!rec)
			break;
		bool gone = (rec->flags & ENG_FD_DETACHED) ||
			    rec->nwatches == 0;
		if (!gone && rec->want && !(rec->flags & ENG_FD_ALWAYS)) {
			FIFO_PUSH(later, rec, dirty_next);
			continue;
		}
		rec->flags &= ~ENG_FD_DIRTY;
		apply(e, rec, flags);
	}
	for (;;) {
		FIFO_POP(later, rec, dirty_next);
		if (!rec)
			break;
		rec->flags &= ~ENG_FD_DIRTY;
		apply(e, rec, flags);
	}
}

static void sync_locked(struct eng *e, unsigned flags)
{
	e->wake_pending = false;
	if (!e->host || e->in_pass)
		return;
	e->loop_thread = pthread_self();
	/* Two rounds at most: the second serves records a failed arming in
	 * the first declared gone. */
	for (int round = 0; round < 2 && e->dirty.head; round++)
		sync_round(e, flags);
	if (e->ops->arm)
		e->ops->arm(e, timeout_locked(e));
}

int64_t eng_sync(struct eng *e, unsigned flags)
{
	pthread_mutex_lock(&e->lock);
	sync_locked(e, flags);
	int64_t t = timeout_locked(e);
	pthread_mutex_unlock(&e->lock);
	return t;
}

void eng_fd_ready(struct eng *e, struct eng_fd *rec)
{
	pthread_mutex_lock(&e->lock);
	if (!(rec->flags & ENG_FD_READY)) {
		rec->flags |= ENG_FD_READY;
		FIFO_PUSH(e->ready, rec, ready_next);
	}
	pthread_mutex_unlock(&e->lock);
}

void eng_fd_lost(struct eng *e, struct eng_fd *rec)
{
	pthread_mutex_lock(&e->lock);
	rec->host = 0;
	armed_unlink(e, rec);
	mark_dirty(e, rec);
	pthread_mutex_unlock(&e->lock);
}

static unsigned from_poll(short revents)
{
	unsigned out = 0;
	if (revents & POLLIN)
		out |= ENG_READABLE;
	if (revents & POLLOUT)
		out |= ENG_WRITABLE;
	if (revents & POLLERR)
		out |= ENG_ERROR;
	if (revents & POLLHUP)
		out |= ENG_HANGUP;
	if (revents & POLLNVAL)
		out |= ENG_NVAL;
	return out;
}

/* What the descriptor reports right now, for what its watches want. */
static unsigned poll_now(const struct eng_fd *rec)
{
	struct pollfd p = { .fd = rec->fd };
	if (rec->want & ENG_READABLE)
		p.events |= POLLIN;
	if (rec->want & ENG_WRITABLE)
		p.events |= POLLOUT;
	/* events 0 still reports POLLERR, POLLHUP and POLLNVAL. */
	if (poll(&p, 1, 0) <= 0)
		return 0;
	return from_poll(p.revents);
}

static void deliver(struct eng *e, struct eng_watch *w, unsigned bits,
		    bool synth)
{
	w->pending = (uint8_t)bits;
	if (synth)
		w->flags |= W_SYNTH;
	else
		w->flags &= ~W_SYNTH;
	if (!(w->flags & W_DELIVER)) {
		w->flags |= W_DELIVER;
		FIFO_PUSH(e->deliver, w, deliver_next);
	}
}

/* Work out what rec's watches get in this pass.  `exact` is the host's
 * revents, or -1 when the engine must ask the kernel itself. */
static void examine(struct eng *e, struct eng_fd *rec, int exact)
{
	if (rec->seen == e->passes)
		return;
	rec->seen = e->passes;

	if (!(rec->flags & ENG_FD_DETACHED) && rec->want) {
		unsigned rev;
		if (rec->flags & ENG_FD_ALWAYS)
			rev = rec->want & ENG_RW;
		else if (exact >= 0)
			rev = (unsigned)exact;
		else
			rev = poll_now(rec);
		/* poll(2) knows numbers, not files: check that this one still
		 * names the file it was registered for. */
		if ((rev & ENG_NVAL) || (rev && !same_file(rec))) {
			defunct(e, rec);
		} else if (rev) {
			bool any = false;
			for (struct eng_watch *w = rec->head; w; w = w->next) {
				if (!want_of(w))
					continue;
				unsigned bits = rev & (w->events | ENG_ERROR |
						       ENG_HANGUP);
				if (bits) {
					deliver(e, w, bits, false);
					any = true;
				}
			}
			/* A host that reports changes, not levels, will not
			 * say again that the condition still holds: the next
			 * pass looks for itself. */
			bool always = (rec->flags & ENG_FD_ALWAYS) &&
				      (rec->want & ENG_RW);
			if ((any && (rec->flags & ENG_FD_EDGE)) || always)
				mark_synth(e, rec);
		}
	}
	if (rec->flags & ENG_FD_DETACHED) {
		for (struct eng_watch *w = rec->head; w; w = w->next) {
			if (!(w->flags & W_ERRPEND))
				continue;
			w->flags &= ~W_ERRPEND;
			if (w->events)
				deliver(e, w, ENG_ERROR, true);
		}
	}
	if (rec->nwatches == 0 || (rec->flags & ENG_FD_DETACHED))
		mark_dirty(e, rec);
}

static void collect_fds(struct eng *e)
{
	struct eng_fd *rec;

	/* Take the records to look at ourselves first: examining one may put
	 * it back on the (now empty) list for the next pass. */
	ENG_FIFO(struct eng_fd) todo = { e->synth.head, e->synth.tail };
	e->synth.head = e->synth.tail = NULL;
	for (;;) {
		FIFO_POP(todo, rec, synth_next);
		if (!rec)
			break;
		rec->flags &= ~ENG_FD_SYNTH;
		examine(e, rec, -1);
	}
	if (e->ops->revents) {
		for (rec = e->armed.head; rec; rec = rec->armed_next) {
			unsigned rev = e->ops->revents(e, rec);
			if (rev)
				examine(e, rec, (int)rev);
		}
	}
	for (;;) {
		FIFO_POP(e->ready, rec, ready_next);
		if (!rec)
			break;
		rec->flags &= ~ENG_FD_READY;
		examine(e, rec, -1);
	}
}

static void collect_timers(struct eng *e, int64_t now)
{
	while (e->heap_len > 0 && e->heap[0]->deadline <= now) {
		struct eng_timer *t = heap_pop(e);
		t->heap_idx = T_DUE;
		FIFO_PUSH(e->due, t, due_next);
	}
}

static unsigned dispatch_timers(struct eng *e)
{
	unsigned calls = 0;
	struct eng_timer *t;

	for (;;) {
		FIFO_POP(e->due, t, due_next);
		if (!t)
			break;
		/* Removed, disabled or updated by an earlier callback. */
		if (t->r.removed || t->heap_idx != T_DUE)
			continue;
		/* Re-armed from this dispatch, before the call, so that the
		 * callback may update or remove it. */
		t->heap_idx = T_IDLE;
		arm(e, t, now_ns());
		vev_timer_cb cb = t->cb;
		void *opaque = t->r.opaque;
		int id = t->r.id;
		calls++;
		e->stats[VEV_STAT_TIMER_CALLS]++;
		pthread_mutex_unlock(&e->lock);
		cb(id, opaque);
		pthread_mutex_lock(&e->lock);
	}
	return calls;
}

/* Hosts report ready descriptors in their own order (libevent's poll and
 * select methods start each scan at a random one): dispatch in
 * registration order instead, the same on every host.  A merge sort of the
 * list, which needs no memory. */
static struct eng_watch *merge_by_id(struct eng_watch *a, struct eng_watch *b)
{
	struct eng_watch head, *tail = &head;

	while (a && b) {
		struct eng_watch **min = a->r.id < b->r.id ? &a : &b;
		tail->deliver_next = *min;
		tail = *min;
		*min = (*min)->deliver_next;
	}
	tail->deliver_next = a ? a : b;
	return head.deliver_next;
}

static struct eng_watch *sort_by_id(struct eng_watch *list)
{
	if (!list || !list->deliver_next)
		return list;
	struct eng_watch *slow = list, *fast = list->deliver_next;
	while (fast && fast->deliver_next) {
		slow = slow->deliver_next;
		fast = fast->deliver_next->deliver_next;
	}
	struct eng_watch *second = slow->deliver_next;
	slow->deliver_next = NULL;
	return merge_by_id(sort_by_id(list), sort_by_id(second));
}

static void sort_deliveries(struct eng *e)
{
	e->deliver.head = sort_by_id(e->deliver.head);
	struct eng_watch *w = e->deliver.head;
	while (w && w->deliver_next)
		w = w->deliver_next;
	e->deliver.tail = w;
}

static unsigned dispatch_watches(struct eng *e)
{
	unsigned calls = 0;
	struct eng_watch *w;

	for (;;) {
		FIFO_POP(e->deliver, w, deliver_next);
		if (!w)
			break;
		w->flags &= ~W_DELIVER;
		/* Re-check: an earlier callback may have removed, updated or
		 * killed this watch since its readiness was collected. */
		if (w->r.removed || w->events == 0)
			continue;
		if ((w->flags & W_DEAD) && !(w->flags & W_SYNTH))
			continue;
		unsigned bits = w->pending &
				(w->events | ENG_ERROR | ENG_HANGUP);
		if (!bits)
			continue;
		vev_handle_cb cb = w->cb;
		void *opaque = w->r.opaque;
		int id = w->r.id, fd = w->fd;
		calls++;
		e->stats[VEV_STAT_HANDLE_CALLS]++;
		pthread_mutex_unlock(&e->lock);
		cb(id, fd, (int)bits, opaque);
		pthread_mutex_lock(&e->lock);
	}
	return calls;
}

unsigned eng_pass(struct eng *e)
{
	unsigned calls = 0;

	pthread_mutex_lock(&e->lock);
	if (!e->host || e->in_pass || e->closing) {
		pthread_mutex_unlock(&e->lock);
		return 0;
	}
	e->in_pass = true;
	e->pass_thread = e->loop_thread = pthread_self();
	e->passes++;
	e->stats[VEV_STAT_ITERATIONS]++;
	/* Collect everything first: what is added or re-armed by the
	 * callbacks of this pass waits for the next one. */
	collect_timers(e, now_ns());
	collect_fds(e);
	sort_deliveries(e);
	calls += dispatch_timers(e);
	calls += dispatch_watches(e);
	run_frees(e);
	e->in_pass = false;
	pthread_mutex_unlock(&e->lock);
	return calls;
}

/* ---- introspection ------------------------------------------------------ */

static uint64_t memory_locked(const struct eng *e)
{
	return (uint64_t)e->nwatches_alloc * sizeof(struct eng_watch) +
	       (uint64_t)e->ntimers_alloc * sizeof(struct eng_timer) +
	       (uint64_t)e->nrecords * sizeof(struct eng_fd) +
	       (uint64_t)e->fds_len * sizeof(*e->fds) +
	       (uint64_t)e->heap_cap * sizeof(*e->heap) +
	       (uint64_t)(e->watch_ids.cap + e->timer_ids.cap) *
		       sizeof(struct eng_idslot);
}

int eng_stat(struct eng *e, enum vev_stat which, uint64_t *value)
{
	if (!value || (unsigned)which >= VEV_STAT_COUNT_)
		return eng_fail(e, EINVAL, "stat: %s",
				value ? "unknown counter" : "value is NULL");
	pthread_mutex_lock(&e->lock);
	switch (which) {
	case VEV_STAT_HANDLES:
		*value = e->watch_ids.count;
		break;
	case VEV_STAT_TIMERS:
		*value = e->timer_ids.count;
		break;
	case VEV_STAT_PENDING_FREES:
		*value = e->pending_frees;
		break;
	case VEV_STAT_MEMORY:
		*value = memory_locked(e);
		break;
	default:
		*value = e->stats[which];
		break;
	}
	pthread_mutex_unlock(&e->lock);
	return 0;
}

static int verify_locked(struct eng *e)
{
	uint32_t listed = 0;

	for (uint32_t i = 0; i < e->watch_ids.cap; i++) {
		if (!e->watch_ids.slots[i].id)
			continue;
		struct eng_watch *w = e->watch_ids.slots[i].ptr;
		if (w->r.id != e->watch_ids.slots[i].id || w->r.removed)
			return eng_fail(e, EPROTO, "watch table slot %u holds "
					"watch %d", i, w->r.id);
		if (idmap_find(&e->watch_ids, w->r.id) != w)
			return eng_fail(e, EPROTO, "watch %d cannot be found",
					w->r.id);
		struct eng_fd *rec = w->rec;
		if (!rec || rec->fd != w->fd)
			return eng_fail(e, EPROTO, "watch %d has no record of "
					"fd %d", w->r.id, w->fd);
		bool found = false;
		for (struct eng_watch *x = rec->head; x && !found; x = x->next)
			found = x == w;
		if (!found)
			return eng_fail(e, EPROTO, "watch %d is not on its "
					"record", w->r.id);
		if (!(rec->flags & ENG_FD_DETACHED) && e->fds[w->fd] != rec)
			return eng_fail(e, EPROTO, "fd %d: watch %d's record "
					"is not the current one", w->fd,
					w->r.id);
	}
	for (uint32_t fd = 0; fd < e->fds_len; fd++) {
		struct eng_fd *rec = e->fds[fd];
		if (!rec)
			continue;
		if (rec->fd != (int)fd || (rec->flags & ENG_FD_DETACHED))
			return eng_fail(e, EPROTO, "fd %u: bad record", fd);
		unsigned want = 0, n = 0;
		for (struct eng_watch *w = rec->head; w; w = w->next) {
			if (w->rec != rec || w->r.removed ||
			    (w->next && w->next->prev != w))
				return eng_fail(e, EPROTO, "fd %u: broken "
						"watch list", fd);
			want |= want_of(w);
			n++;
		}
		listed += n;
		if (n != rec->nwatches || want != rec->want)
			return eng_fail(e, EPROTO, "fd %u: %u watches wanting "
					"0x%x, record says %u and 0x%x", fd, n,
					want, rec->nwatches, rec->want);
		if (!e->in_pass && !(rec->flags & ENG_FD_DIRTY) &&
		    !(rec->flags & ENG_FD_ALWAYS) && rec->host != rec->want)
			return eng_fail(e, EPROTO, "fd %u: host polls 0x%x, "
					"watches want 0x%x, not queued", fd,
					rec->host, rec->want);
		if (!!(rec->flags & ENG_FD_ARMED) != !!rec->host)
			return eng_fail(e, EPROTO, "fd %u: armed list out of "
					"step", fd);
	}
	uint32_t armed = 0;
	for (struct eng_fd *rec = e->armed.head; rec; rec = rec->armed_next) {
		if (!rec->host || (rec->armed_next &&
				   rec->armed_next->armed_prev != rec))
			return eng_fail(e, EPROTO, "broken armed list at fd %d",
					rec->fd);
		if (++armed > e->nrecords)
			return eng_fail(e, EPROTO, "armed list longer than the "
					"records");
	}
	/* Watches on detached records are in the table but not in fds[]. */
	if (listed > e->watch_ids.count)
		return eng_fail(e, EPROTO, "%u watches on records, %u in the "
				"table", listed, e->watch_ids.count);

	uint32_t armed_timers = 0;
	for (uint32_t i = 0; i < e->timer_ids.cap; i++) {
		if (!e->timer_ids.slots[i].id)
			continue;
		struct eng_timer *t = e->timer_ids.slots[i].ptr;
		if (idmap_find(&e->timer_ids, t->r.id) != t || t->r.removed)
			return eng_fail(e, EPROTO, "timer %d: bad table entry",
					t->r.id);
		bool in_heap = t->heap_idx < e->heap_len;
		if (in_heap && e->heap[t->heap_idx] != t)
			return eng_fail(e, EPROTO, "timer %d: wrong heap index",
					t->r.id);
		if (!e->in_pass && in_heap != (t->period >= 0))
			return eng_fail(e, EPROTO, "timer %d (period %d) %s in "
					"the heap", t->r.id, t->period,
					in_heap ? "is" : "is not");
		armed_timers += in_heap;
	}
	if (armed_timers != e->heap_len)
		return eng_fail(e, EPROTO, "%u timers in the heap, %u armed",
				e->heap_len, armed_timers);
	for (uint32_t i = 1; i < e->heap_len; i++)
		if (timer_before(e->heap[i], e->heap[(i - 1) / 2]))
			return eng_fail(e, EPROTO, "heap order broken at %u",
					i);
	uint32_t frees = 0;
	for (struct eng_reg *r = e->frees.head; r; r = r->free_next)
		if (!r->removed || ++frees > e->pending_frees)
			return eng_fail(e, EPROTO, "bad free list");
	if (frees != e->pending_frees)
		return eng_fail(e, EPROTO, "%u pending frees listed, %u "
				"counted", frees, e->pending_frees);
	return 0;
}

int eng_verify(struct eng *e)
{
	pthread_mutex_lock(&e->lock);
	int rc = verify_locked(e);
	pthread_mutex_unlock(&e->lock);
	return rc;
}
