/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Watches: the id table, the per-descriptor records with their combined
 * masks, the list of descriptors whose kernel registration must change, and
 * the dispatch of ready watches. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

#include "loop-private.h"

#define VEV__SYNTHETIC (1u << 5) /* ready entry made by the loop, not the kernel */

_Static_assert(offsetof(struct vev_handle, link) ==
		       offsetof(struct vev_record, link),
	       "free-list link must overlay the same bytes in every record");

/* ---- descriptor lists -------------------------------------------------- */

static void fdlist_push(struct vev_fdlist *list, int fd)
{
	if (list->overflow)
		return;
	if (list->len == list->cap) {
		uint32_t cap = list->cap ? list->cap * 2 : 16;
		int *fds = vev__reallocarray(list->fds, cap, sizeof(*fds));
		if (!fds) {
			list->overflow = true;
			return;
		}
		list->fds = fds;
		list->cap = cap;
	}
	list->fds[list->len++] = fd;
}

/* Walk the members of a list: the array, or after an overflow every fd
 * record carrying `flag`. */
#define FDLIST_FOREACH(loop, list, flag, fd)                                  \
	for (uint32_t i_ = 0,                                                 \
		      n_ = (list)->overflow ? (loop)->fds_len : (list)->len; \
	     i_ < n_; i_++)                                                   \
		if (((fd) = (list)->overflow ? (int)i_ : (list)->fds[i_]),   \
		    (loop)->fds[(fd)].flags & (flag))

static void fdlist_clear(struct vev_fdlist *list)
{
	list->len = 0;
	list->overflow = false;
}

static void mark_dirty(struct vev_loop *loop, int fd)
{
	struct vev_fdrec *rec = &loop->fds[fd];
	if (rec->flags & VEV_FD_DIRTY)
		return;
	rec->flags |= VEV_FD_DIRTY;
	fdlist_push(&loop->dirty, fd);
}

static void mark_synth(struct vev_loop *loop, int fd)
{
	struct vev_fdrec *rec = &loop->fds[fd];
	if (rec->flags & VEV_FD_SYNTH)
		return;
	rec->flags |= VEV_FD_SYNTH;
	fdlist_push(&loop->synth, fd);
}

/* ---- the watches on one descriptor -------------------------------------- */

#define FD_WATCHES_FOREACH(loop, rec, idx, h)                           \
	for (uint32_t idx = (rec)->head; idx != VEV_NIL; idx = (h)->next) \
		if (((h) = vev__handle_at((loop), idx)), 1)

/* The watches on one fd form a singly linked list in the order they were
 * added; every change already walks it to recompute the combined mask, so
 * a back link would only cost memory. */
static void fd_append(struct vev_loop *loop, struct vev_fdrec *rec,
		      uint32_t idx)
{
	uint32_t *link = &rec->head;

	while (*link != VEV_NIL)
		link = &vev__handle_at(loop, *link)->next;
	vev__handle_at(loop, idx)->next = VEV_NIL;
	*link = idx;
}

static void fd_unlink(struct vev_loop *loop, struct vev_fdrec *rec,
		      uint32_t idx)
{
	uint32_t *link = &rec->head;

	while (*link != idx)
		link = &vev__handle_at(loop, *link)->next;
	*link = vev__handle_at(loop, idx)->next;
}

/* A 32-bit name for the file behind fd, or 0 if fd is not open.  Two
 * files share a name with probability 2^-32: that is the chance that a
 * number reused behind the loop's back goes unnoticed. */
static uint32_t file_ident(int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return 0;
	uint64_t x = (uint64_t)st.st_ino * 0x9e3779b97f4a7c15ULL ^
		     (uint64_t)st.st_dev;
	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 29;
	return (uint32_t)(x >> 32) | 1; /* never 0 */
}

static bool same_file(const struct vev_fdrec *rec, int fd)
{
	return file_ident(fd) == rec->ident;
}

static unsigned want_of(const struct vev_handle *h)
{
	if (h->events == 0 || (h->flags & VEV_H_DEAD))
		return 0;
	return (h->events & VEV_RW) | VEV__POLLED;
}

static unsigned combined_want(struct vev_loop *loop, struct vev_fdrec *rec)
{
	unsigned want = 0;
	struct vev_handle *h;

	FD_WATCHES_FOREACH(loop, rec, idx, h)
		want |= want_of(h);
	return want;
}

static void refresh_want(struct vev_loop *loop, int fd)
{
	struct vev_fdrec *rec = &loop->fds[fd];

	rec->want = (uint8_t)combined_want(loop, rec);
	if (rec->want != rec->kernel)
		mark_dirty(loop, fd);
	if ((rec->flags & VEV_FD_ALWAYS) && (rec->want & VEV_RW))
		mark_synth(loop, fd);
}

/* The file behind fd is gone: every watch on it reports ERROR once and is
 * never polled again (the number may already name another file). */
static void fd_defunct(struct vev_loop *loop, int fd)
{
	struct vev_fdrec *rec = &loop->fds[fd];
	struct vev_handle *h;

	FD_WATCHES_FOREACH(loop, rec, idx, h)
		if (!(h->flags & VEV_H_DEAD))
			h->flags |= VEV_H_DEAD | VEV_H_ERRPEND;
	rec->flags &= ~VEV_FD_ALWAYS;
	refresh_want(loop, fd);
	mark_synth(loop, fd);
}

static int fds_reserve(struct vev_loop *loop, int fd)
{
	if ((uint32_t)fd < loop->fds_len)
		return 0;
	/* Descriptor numbers grow by small steps: a fixed step of spare
	 * records keeps reallocations rare without a proportional slack. */
	uint32_t len = ((uint32_t)fd + 1024) & ~1023u;
	struct vev_fdrec *fds = vev__reallocarray(loop->fds, len, sizeof(*fds));
	if (!fds)
		return -ENOMEM;
	for (uint32_t i = loop->fds_len; i < len; i++)
		fds[i] = (struct vev_fdrec){ .head = VEV_NIL };
	loop->fds = fds;
	loop->fds_len = len;
	return 0;
}

/* ---- public API --------------------------------------------------------- */

int vev_add_handle(vev_loop *loop, int fd, int events, vev_handle_cb cb,
		   void *opaque, vev_free_cb ff)
{
	int ret;

	if (!loop)
		return vev__error(EINVAL, "vev_add_handle: loop is NULL");
	if (!cb)
		return vev__error(EINVAL, "vev_add_handle: callback is NULL");
	if (fd < 0)
		return vev__error(EBADF, "vev_add_handle: fd %d is negative",
				  fd);
	if (fcntl(fd, F_GETFD) < 0 && errno == EBADF)
		return vev__error(EBADF, "vev_add_handle: fd %d is not an open "
				  "descriptor", fd);

	vev__lock(&loop->lock);
	if (loop->closing) {
		ret = vev__error(ESHUTDOWN, "vev_add_handle: the loop is being "
				 "%s", loop->freeing ? "freed" : "cleared");
		goto out;
	}
	if (loop->next_handle_id > INT_MAX) {
		ret = vev__error(EOVERFLOW, "vev_add_handle: all %d watch ids "
				 "have been used", INT_MAX);
		goto out;
	}
	if (fds_reserve(loop, fd) < 0 ||
	    vev__idmap_reserve(&loop->handle_ids) < 0) {
		ret = vev__error(ENOMEM, "vev_add_handle: out of memory");
		goto out;
	}
	uint32_t idx = vev__pool_alloc(&loop->handles);
	if (idx == VEV_NIL) {
		ret = vev__error(ENOMEM, "vev_add_handle: out of memory");
		goto out;
	}

	struct vev_fdrec *rec = &loop->fds[fd];
	uint32_t ident = file_ident(fd);
	/* Watches made for a file whose number now names another must not
	 * see the new one. */
	if (rec->head == VEV_NIL || ident != rec->ident) {
		if (rec->head != VEV_NIL) {
			vev__fd_stale(loop, fd);
		} else if (ident != rec->ident && rec->kernel) {
			/* A registration left by removed watches was for the
			 * old file: the new one must be registered afresh. */
			loop->be->set(loop, fd, rec->kernel, 0);
			rec->kernel = 0;
		}
		rec->ident = ident;
		rec->flags &= ~VEV_FD_ALWAYS;
	}

	struct vev_handle *h = vev__handle_at(loop, idx);
	h->cb = (void (*)(void))cb;
	h->opaque = opaque;
	h->ff = ff;
	h->id = (int)loop->next_handle_id++;
	h->fd = fd;
	h->events = (uint8_t)(events & VEV_ALL_EVENTS);
	vev__idmap_insert(&loop->handle_ids, h->id, idx);
	fd_append(loop, rec, idx);
	refresh_want(loop, fd);
	vev__wake_locked(loop);
	ret = h->id;
out:
	vev__unlock(&loop->lock);
	return ret;
}

int vev_update_handle(vev_loop *loop, int watch, int events)
{
	int ret = 0;

	if (!loop)
		return vev__error(EINVAL, "vev_update_handle: loop is NULL");
	vev__lock(&loop->lock);
	uint32_t idx = watch > 0 ? vev__idmap_find(&loop->handle_ids, watch) :
				   VEV_NIL;
	if (idx == VEV_NIL) {
		ret = vev__error(ENOENT, "vev_update_handle: no watch %d",
				 watch);
	} else {
		struct vev_handle *h = vev__handle_at(loop, idx);
		h->events = (uint8_t)(events & VEV_ALL_EVENTS);
		refresh_want(loop, h->fd);
		vev__wake_locked(loop);
	}
	vev__unlock(&loop->lock);
	return ret;
}

/* Take a watch out of its descriptor's list (its id is gone already) and
 * queue it for its free callback. */
static void remove_locked(struct vev_loop *loop, uint32_t idx)
{
	struct vev_handle *h = vev__handle_at(loop, idx);
	int fd = h->fd;
	struct vev_fdrec *rec = &loop->fds[fd];

	fd_unlink(loop, rec, idx);
	h->cb = NULL;
	if (rec->head == VEV_NIL) /* what we knew of the file goes too */
		rec->flags &= ~VEV_FD_ALWAYS;
	refresh_want(loop, fd);
	/* Callers close the descriptor as soon as this returns (libvirt
	 * does, from any thread): drop the kernel registration now, not at
	 * the next iteration, when the number may name another file.  (Not
	 * in a forked child before its first iteration: the epoll instance
	 * is still the parent's; nor when the loop is being freed, which
	 * drops every registration at once.) */
	if (rec->head == VEV_NIL && rec->kernel && !loop->freeing &&
	    loop->be->set_from_any_thread &&
	    loop->fork_gen == atomic_load(&vev__fork_generation) &&
	    loop->be->set(loop, fd, rec->kernel, 0) == 0)
		rec->kernel = 0;
	vev__freelist_push(loop, &loop->handle_frees, &loop->handles, idx);
	vev__wake_locked(loop);
}

int vev_remove_handle(vev_loop *loop, int watch)
{
	int ret = 0;

	if (!loop)
		return vev__error(EINVAL, "vev_remove_handle: loop is NULL");
	vev__lock(&loop->lock);
	uint32_t idx = watch > 0 ? vev__idmap_remove(&loop->handle_ids, watch) :
				   VEV_NIL;
	if (idx == VEV_NIL) {
		ret = vev__error(ENOENT, "vev_remove_handle: no watch %d",
				 watch);
	} else {
		remove_locked(loop, idx);
	}
	vev__unlock(&loop->lock);
	return ret;
}

/* ---- the iteration ------------------------------------------------------ */

void vev__handles_init(struct vev_loop *loop)
{
	vev__pool_init(&loop->handles, sizeof(struct vev_handle));
	vev__idmap_init(&loop->handle_ids, &loop->handles);
	loop->next_handle_id = 1;
	loop->handle_frees = (struct vev_freelist){ VEV_NIL, VEV_NIL, 0 };
}

void vev__handles_fini(struct vev_loop *loop)
{
	vev__idmap_fini(&loop->handle_ids);
	vev__pool_fini(&loop->handles);
	vev__free(loop->fds);
	vev__free(loop->dirty.fds);
	vev__free(loop->synth.fds);
	vev__free(loop->ready);
}

static void apply_fd(struct vev_loop *loop, int fd)
{
	struct vev_fdrec *rec = &loop->fds[fd];

	if (rec->flags & VEV_FD_ALWAYS) {
		if (!(rec->want & VEV_RW))
			rec->flags &= ~VEV_FD_ALWAYS;
		else
			return;
	}
	if (rec->want == rec->kernel)
		return;
	/* (Re)registering or dropping fd for watches made for a file the
	 * number may no longer name: check first, or the new file would be
	 * watched on their behalf. */
	bool modify = rec->kernel && rec->want;
	if (rec->head != VEV_NIL &&
	    (!modify || !loop->be->modify_checks_file) && !same_file(rec, fd)) {
		vev__fd_stale(loop, fd);
		return;
	}

	int rc = loop->be->set(loop, fd, rec->kernel, rec->want);
	if (rc == 0) {
		rec->kernel = rec->want;
	} else if (rc == -EPERM && rec->kernel == 0) {
		/* epoll refuses regular files; poll(2) calls them always
		 * readable and writable, and so do we. */
		rec->flags |= VEV_FD_ALWAYS;
		mark_synth(loop, fd);
	} else {
		/* EBADF/ENOENT: the file is gone.  Anything else (ENOSPC for
		 * the epoll watch limit, ENOMEM): it cannot be watched.  Both
		 * end with ERROR to the watches rather than silence. */
		rec->kernel = 0;
		if (rc != -EBADF && rc != -ENOENT && rec->want == 0)
			return;
		fd_defunct(loop, fd);
	}
}

void vev__handles_apply(struct vev_loop *loop)
{
	int fd;

	/* fd_defunct() may append to the list while we walk it; the walk
	 * reads the length afresh, and re-visits are no-ops. */
	for (uint32_t i = 0; i < (loop->dirty.overflow ? loop->fds_len :
							 loop->dirty.len); i++) {
		fd = loop->dirty.overflow ? (int)i : loop->dirty.fds[i];
		if (!(loop->fds[fd].flags & VEV_FD_DIRTY))
			continue;
		loop->fds[fd].flags &= ~VEV_FD_DIRTY;
		apply_fd(loop, fd);
	}
	fdlist_clear(&loop->dirty);
	/* A burst of changes (thousands of adds) leaves a large, empty list:
	 * give it back rather than hold 4 bytes per descriptor for good. */
	if (loop->dirty.cap > 256) {
		vev__free(loop->dirty.fds);
		loop->dirty.fds = NULL;
		loop->dirty.cap = 0;
	}
}

static bool ready_push(struct vev_loop *loop, uint32_t idx, unsigned events)
{
	if (loop->ready_len == loop->ready_cap) {
		uint32_t cap = loop->ready_cap ? loop->ready_cap * 2 : 64;
		struct vev_ready *r = vev__reallocarray(loop->ready, cap,
							sizeof(*r));
		/* Level-triggered readiness comes back next iteration; the
		 * synthetic kind keeps its pending mark until it is queued. */
		if (!r)
			return false;
		loop->ready = r;
		loop->ready_cap = cap;
	}
	loop->ready[loop->ready_len++] = (struct vev_ready){ idx, events };
	return true;
}

void vev__fd_ready(struct vev_loop *loop, int fd, unsigned events)
{
	if (fd < 0 || (uint32_t)fd >= loop->fds_len)
		return;
	struct vev_fdrec *rec = &loop->fds[fd];
	struct vev_handle *h;

	if (events & VEV__NVAL) {
		fd_defunct(loop, fd);
		return;
	}
	bool always = rec->flags & VEV_FD_ALWAYS;
	/* "Running" counts backend waits: one iteration may wait several
	 * times when nothing it can dispatch comes back. */
	uint8_t wait = (uint8_t)loop->waits;
	if (rec->kernel == 0 && !always) {
		/* We hold no registration for fd, yet the kernel reports it.
		 * Once, it may be a report collected just before another
		 * thread dropped the registration; twice running, a file
		 * closed under its number lives on in a copy (dup, fork) and
		 * its registration can no longer be deleted. */
		if (rec->last_ready == (uint8_t)(wait - 1))
			loop->rebuild = true;
		rec->last_ready = wait;
		return;
	}
	/* A watch reported ready two iterations running is checked against
	 * its file once per report: a closed or reused number whose old file
	 * lives on (dup, fork) would otherwise be reported forever, and to the
	 * wrong file.  Watches that consume their events are never checked.
	 * poll(2) reports by number, so there every report is checked. */
	if ((always || !loop->be->modify_checks_file ||
	     rec->last_ready == (uint8_t)(wait - 1)) &&
	    !same_file(rec, fd)) {
		vev__fd_stale(loop, fd);
		return;
	}
	rec->last_ready = wait;
	FD_WATCHES_FOREACH(loop, rec, idx, h)
	{
		if (!want_of(h))
			continue;
		unsigned bits = events & (h->events | VEV_ERROR | VEV_HANGUP);
		if (bits && !ready_push(loop, idx, bits))
			return;
	}
}

void vev__fd_stale(struct vev_loop *loop, int fd)
{
	if (fd < 0 || (uint32_t)fd >= loop->fds_len)
		return;
	struct vev_fdrec *rec = &loop->fds[fd];
	/* Drop what can be dropped; an epoll registration for the old file
	 * cannot be, if a copy keeps it open, and then shows up as a report
	 * nobody owns, which makes the loop rebuild its kernel state. */
	if (rec->kernel)
		loop->be->set(loop, fd, rec->kernel, 0);
	rec->kernel = 0;
	fd_defunct(loop, fd);
}

void vev__handles_forget_kernel(struct vev_loop *loop)
{
	for (uint32_t fd = 0; fd < loop->fds_len; fd++) {
		struct vev_fdrec *rec = &loop->fds[fd];
		if (rec->kernel == 0)
			continue;
		rec->kernel = 0;
		mark_dirty(loop, (int)fd);
	}
}

void vev__handles_collect_synth(struct vev_loop *loop)
{
	struct vev_fdlist *list = &loop->synth;
	uint32_t kept = 0;
	int fd;

	FDLIST_FOREACH(loop, list, VEV_FD_SYNTH, fd)
	{
		struct vev_fdrec *rec = &loop->fds[fd];
		struct vev_handle *h;
		bool keep = false;

		FD_WATCHES_FOREACH(loop, rec, idx, h)
		{
			if (!(h->flags & VEV_H_ERRPEND))
				continue;
			if (h->events == 0 ||
			    ready_push(loop, idx, VEV_ERROR | VEV__SYNTHETIC))
				h->flags &= ~VEV_H_ERRPEND;
			else
				keep = true;
		}
		if ((rec->flags & VEV_FD_ALWAYS) && (rec->want & VEV_RW)) {
			vev__fd_ready(loop, fd, rec->want & VEV_RW);
			keep = true;
		}
		if (!keep)
			rec->flags &= ~VEV_FD_SYNTH;
		else if (!list->overflow)
			list->fds[kept++] = fd;
	}
	if (list->overflow) {
		/* Rebuild the array from the flags the scan left set. */
		fdlist_clear(list);
		for (uint32_t f = 0; f < loop->fds_len; f++)
			if (loop->fds[f].flags & VEV_FD_SYNTH)
				fdlist_push(list, (int)f);
	} else {
		list->len = kept;
	}
}

unsigned vev__handles_dispatch(struct vev_loop *loop)
{
	unsigned calls = 0;

	for (uint32_t i = 0; i < loop->ready_len; i++) {
		struct vev_ready r = loop->ready[i];
		struct vev_handle *h = vev__handle_at(loop, r.idx);

		/* Re-check: an earlier callback may have removed, updated or
		 * killed this watch since readiness was collected. */
		if (!h->cb || h->events == 0)
			continue;
		if ((h->flags & VEV_H_DEAD) && !(r.events & VEV__SYNTHETIC))
			continue;
		unsigned bits = r.events & (h->events | VEV_ERROR | VEV_HANGUP);
		if (!bits)
			continue;
		vev_handle_cb cb = (vev_handle_cb)h->cb;
		void *opaque = h->opaque;
		int id = h->id, fd = h->fd;
		calls++;
		loop->stats[VEV_STAT_HANDLE_CALLS]++;
		VEV_CALL_UNLOCKED(loop, cb(id, fd, (int)bits, opaque));
	}
	loop->ready_len = 0;
	return calls;
}

void vev__handles_remove_all(struct vev_loop *loop)
{
	for (uint32_t idx = 0; idx < loop->handles.top; idx++) {
		struct vev_handle *h = vev__handle_at(loop, idx);
		/* Released slots hold stale bytes; only the id table says
		 * which slots are live. */
		if (vev__idmap_find(&loop->handle_ids, h->id) != idx)
			continue;
		vev__idmap_remove(&loop->handle_ids, h->id);
		remove_locked(loop, idx);
	}
}

int vev__handles_verify(const struct vev_loop *loop_c)
{
	struct vev_loop *loop = (struct vev_loop *)loop_c;
	uint32_t listed = 0;

	for (uint32_t fd = 0; fd < loop->fds_len; fd++) {
		struct vev_fdrec *rec = &loop->fds[fd];
		struct vev_handle *h;

		FD_WATCHES_FOREACH(loop, rec, idx, h)
		{
			if (!h->cb)
				return vev__error(EPROTO, "fd %u lists a removed "
						  "watch", fd);
			if (h->fd != (int)fd)
				return vev__error(EPROTO, "watch %d (fd %d) is "
						  "listed on fd %u", h->id,
						  h->fd, fd);
			if (vev__idmap_find(&loop->handle_ids, h->id) != idx)
				return vev__error(EPROTO, "watch %d is not in "
						  "the id table", h->id);
			if (++listed > loop->handle_ids.count)
				return vev__error(EPROTO, "fd lists hold more "
						  "watches than the id table");
		}
		if (rec->want != combined_want(loop, rec))
			return vev__error(EPROTO, "fd %u: combined mask 0x%x, "
					  "watches want 0x%x", fd, rec->want,
					  combined_want(loop, rec));
		if (!(rec->flags & (VEV_FD_DIRTY | VEV_FD_ALWAYS)) &&
		    rec->want != rec->kernel)
			return vev__error(EPROTO, "fd %u: kernel mask 0x%x differs "
					  "from 0x%x and is not queued", fd,
					  rec->kernel, rec->want);
	}
	if (listed != loop->handle_ids.count)
		return vev__error(EPROTO, "%u watches listed, %u in the id table",
				  listed, loop->handle_ids.count);
	return 0;
}

size_t vev__handles_memory(const struct vev_loop *loop)
{
	return vev__pool_memory(&loop->handles) +
	       vev__idmap_memory(&loop->handle_ids) +
	       (size_t)loop->fds_len * sizeof(struct vev_fdrec) +
	       (size_t)(loop->dirty.cap + loop->synth.cap) * sizeof(int) +
	       (size_t)loop->ready_cap * sizeof(struct vev_ready);
}
