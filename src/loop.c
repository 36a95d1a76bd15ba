/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The loop object: creation and destruction, the iteration, deferred free
 * callbacks, cross-thread wake-ups, the helper thread and introspection. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#ifdef VEV_HAVE_EVENTFD
#include <sys/eventfd.h>
#endif

#include "loop-private.h"
#include "sys.h"

const char *vev_version(void)
{
	return VEV_VERSION_STRING;
}

int vev_version_number(void)
{
	return VEV_VERSION_NUMBER;
}

atomic_ulong vev__fork_generation;

static void after_fork_in_child(void)
{
	atomic_fetch_add(&vev__fork_generation, 1);
}

static void watch_forks(void)
{
	pthread_atfork(NULL, NULL, after_fork_in_child);
}

int64_t vev__now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- creation ----------------------------------------------------------- */

static int pick_backend(unsigned flags, const struct vev_backend **be)
{
	const unsigned known = VEV_LOOP_EPOLL | VEV_LOOP_POLL;

	if (flags & ~known)
		return vev__error(EINVAL, "vev_loop_new: unknown flags 0x%x",
				  flags & ~known);
	if ((flags & known) == known)
		return vev__error(EINVAL, "vev_loop_new: choose one backend, "
				  "not both");
	if (flags == VEV_LOOP_AUTO) {
		const char *env = getenv("VEVENT_BACKEND");
		if (!env || !*env)
#ifdef VEV_HAVE_EPOLL
			flags = VEV_LOOP_EPOLL;
#else
			flags = VEV_LOOP_POLL;
#endif
		else if (strcmp(env, "epoll") == 0)
			flags = VEV_LOOP_EPOLL;
		else if (strcmp(env, "poll") == 0)
			flags = VEV_LOOP_POLL;
		else
			return vev__error(EINVAL, "VEVENT_BACKEND=\"%.40s\": "
					  "expected \"epoll\" or \"poll\"", env);
	}
	if (flags == VEV_LOOP_EPOLL) {
#ifdef VEV_HAVE_EPOLL
		*be = &vev__backend_epoll;
		return 0;
#else
		return vev__error(ENOTSUP, "vev_loop_new: epoll is not "
				  "available on this system");
#endif
	}
	*be = &vev__backend_poll;
	return 0;
}

/* Returns 0 or -errno, with a message prefixed by `what`. */
static int make_wake_fd(struct vev_loop *loop, const char *what)
{
#ifdef VEV_HAVE_EVENTFD
	int fd = vev__sys_eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return vev__error(errno, "%s: eventfd: %s", what,
				  strerror(errno));
	loop->wake_rfd = loop->wake_wfd = fd;
#else
	int p[2];
	if (vev__sys_pipe(p) < 0)
		return vev__error(errno, "%s: pipe: %s", what,
				  strerror(errno));
	for (int i = 0; i < 2; i++) {
		fcntl(p[i], F_SETFD, FD_CLOEXEC);
		fcntl(p[i], F_SETFL, fcntl(p[i], F_GETFL) | O_NONBLOCK);
	}
	loop->wake_rfd = p[0];
	loop->wake_wfd = p[1];
#endif
	return 0;
}

static void close_wake_fd(struct vev_loop *loop)
{
	if (loop->wake_wfd >= 0 && loop->wake_wfd != loop->wake_rfd)
		close(loop->wake_wfd);
	if (loop->wake_rfd >= 0)
		close(loop->wake_rfd);
	loop->wake_rfd = loop->wake_wfd = -1;
}

int vev_loop_new(vev_loop **loopp, unsigned flags)
{
	const struct vev_backend *be = NULL;
	int rc;

	if (!loopp)
		return vev__error(EINVAL, "vev_loop_new: loopp is NULL");
	rc = pick_backend(flags, &be);
	if (rc < 0)
		return rc;

	static pthread_once_t forks_watched = PTHREAD_ONCE_INIT;
	pthread_once(&forks_watched, watch_forks);

	struct vev_loop *loop = vev__calloc(1, sizeof(*loop));
	if (!loop)
		return vev__error(ENOMEM, "vev_loop_new: out of memory");
	loop->be = be;
	loop->fork_gen = atomic_load(&vev__fork_generation);
	loop->wake_rfd = loop->wake_wfd = -1;
	vev__handles_init(loop);
	vev__timers_init(loop);
	rc = vev__lock_init(&loop->lock);
	if (rc) {
		vev__free(loop);
		return vev__error(rc, "vev_loop_new: mutex: %s", strerror(rc));
	}
	rc = make_wake_fd(loop, "vev_loop_new");
	if (rc == 0)
		rc = be->init(loop);
	if (rc < 0) {
		close_wake_fd(loop);
		vev__lock_destroy(&loop->lock);
		vev__free(loop);
		return rc;
	}
	*loopp = loop;
	return 0;
}

const char *vev_loop_backend(const vev_loop *loop)
{
	return loop ? loop->be->name : NULL;
}

/* ---- wake-ups and free callbacks --------------------------------------- */

/* The loop thread is blocked in the backend (lock held).  The flag keeps
 * a burst of calls to a single write. */
void vev__wake_polling(struct vev_loop *loop)
{
	if (atomic_exchange_explicit(&loop->wake_pending, true,
				     memory_order_acq_rel))
		return;
	uint64_t one = 1;
	ssize_t n;
	do
		n = write(loop->wake_wfd, &one, sizeof(one));
	while (n < 0 && errno == EINTR);
	/* EAGAIN: the counter or pipe is already full, hence readable. */
}

static void drain_wake_fd(struct vev_loop *loop)
{
	uint64_t buf[8];
	ssize_t n;

	do
		n = read(loop->wake_rfd, buf, sizeof(buf));
	while (n == (ssize_t)sizeof(buf) || (n < 0 && errno == EINTR));
	atomic_store_explicit(&loop->wake_pending, false, memory_order_release);
}

void vev__freelist_push(struct vev_loop *loop, struct vev_freelist *list,
			struct vev_pool *pool, uint32_t idx)
{
	struct vev_record *r = vev__pool_at(pool, idx);

	r->link = VEV_NIL;
	if (list->tail == VEV_NIL)
		list->head = idx;
	else
		((struct vev_record *)vev__pool_at(pool, list->tail))->link =
			idx;
	list->tail = idx;
	list->count++;
	(void)loop;
}

/* Run the free callbacks of the records queued when this started, oldest
 * first, with the lock released around each.  Removals made by those
 * callbacks wait for the next purge, so a free callback that keeps removing
 * cannot hold the loop here forever. */
static unsigned purge_list(struct vev_loop *loop, struct vev_freelist *list,
			   struct vev_pool *pool)
{
	unsigned done = 0;

	for (uint32_t budget = list->count; budget > 0; budget--) {
		uint32_t idx = list->head;
		struct vev_record *r = vev__pool_at(pool, idx);

		list->head = r->link;
		if (list->head == VEV_NIL)
			list->tail = VEV_NIL;
		list->count--;
		vev_free_cb ff = r->ff;
		void *opaque = r->opaque;
		vev__pool_release(pool, idx);
		if (ff) {
			done++;
			VEV_CALL_UNLOCKED(loop, ff(opaque));
		}
	}
	loop->stats[VEV_STAT_FREE_CALLS] += done;
	return done;
}

/* Kernel changes go first: a free callback may close its descriptor, and
 * another thread may reuse the number at once, so a deletion left for later
 * could hit someone else's file. */
static unsigned purge(struct vev_loop *loop)
{
	if (!loop->handle_frees.count && !loop->timer_frees.count)
		return 0;
	/* (Not when freeing: closing the backend drops everything, and in a
	 * forked child touching it could change the parent's registrations.) */
	if (!loop->freeing && vev__refresh_after_fork(loop, "vev_loop") == 0)
		vev__handles_apply(loop);
	return purge_list(loop, &loop->handle_frees, &loop->handles) +
	       purge_list(loop, &loop->timer_frees, &loop->timers);
}

/* ---- kernel state ------------------------------------------------------- */

/* A forked child shares the parent's epoll instance and wake-up counter:
 * touching them would change what the parent watches.  The child gets its
 * own before it changes anything. */
int vev__refresh_after_fork(struct vev_loop *loop, const char *what)
{
	unsigned long gen = atomic_load(&vev__fork_generation);
	if (gen == loop->fork_gen)
		return 0;
	char prefix[64];
	snprintf(prefix, sizeof(prefix), "%s: renewing the kernel state "
		 "after fork", what);
	int old_r = loop->wake_rfd, old_w = loop->wake_wfd;
	int rc = make_wake_fd(loop, prefix);
	if (rc < 0) {
		loop->wake_rfd = old_r;
		loop->wake_wfd = old_w;
		return rc;
	}
	rc = loop->be->rebuild(loop);
	if (rc < 0) {
		close_wake_fd(loop);
		loop->wake_rfd = old_r;
		loop->wake_wfd = old_w;
		return vev__error(-rc, "%s: %s: %s", prefix, loop->be->name,
				  strerror(-rc));
	}
	if (old_w != old_r)
		close(old_w);
	close(old_r);
	atomic_store(&loop->wake_pending, false);
	loop->fork_gen = gen;
	loop->rebuild = false;
	vev__handles_forget_kernel(loop);
	return 0;
}

static void rebuild_if_needed(struct vev_loop *loop)
{
	if (!loop->rebuild)
		return;
	/* On failure (out of descriptors) the stale registration stays;
	 * the next iteration tries again. */
	vev__embed_before_rebuild(loop);
	if (loop->be->rebuild(loop) == 0) {
		loop->rebuild = false;
		vev__handles_forget_kernel(loop);
	}
}

/* ---- the iteration ------------------------------------------------------ */

static int begin_locked(struct vev_loop *loop, const char *what)
{
	if (loop->running) {
		if (pthread_equal(loop->runner, pthread_self()))
			return vev__error(EBUSY, "%s: called from a callback "
					  "of the same loop", what);
		return vev__error(EBUSY, "%s: the loop is running in another "
				  "thread", what);
	}
	loop->running = true;
	loop->runner = pthread_self();
	return 0;
}

/* The end of an iteration, drain or clear (lock held): what it changed
 * becomes visible to an embedding host before the host polls again. */
static void end_locked(struct vev_loop *loop)
{
	if (loop->embed)
		vev__embed_sync(loop);
	loop->running = false;
}

static int wait_timeout(struct vev_loop *loop, int64_t user_deadline)
{
	if (vev__handles_have_synth(loop) || loop->quit ||
	    loop->zero_head != VEV_NIL || user_deadline == 0)
		return 0;
	if (user_deadline < 0 && loop->heap_len == 0)
		return -1;
	int64_t now = vev__now_ns();
	int t = vev__timers_timeout(loop, now);
	if (user_deadline >= 0) {
		int64_t left = user_deadline - now;
		int u = left <= 0 ? 0 :
				    (int)((left + 999999) / 1000000 > INT32_MAX ?
						  INT32_MAX :
						  (left + 999999) / 1000000);
		if (t < 0 || u < t)
			t = u;
	}
	return t;
}

int vev_run_once(vev_loop *loop, int timeout_ms)
{
	int rc;

	if (!loop)
		return vev__error(EINVAL, "vev_run_once: loop is NULL");
	vev__lock(&loop->lock);
	rc = begin_locked(loop, "vev_run_once");
	if (rc < 0) {
		vev__unlock(&loop->lock);
		return rc;
	}
	rc = loop->fork_gen == atomic_load(&vev__fork_generation) ?
		     0 :
		     vev__refresh_after_fork(loop, "vev_run_once");
	if (rc < 0) {
		loop->running = false;
		vev__unlock(&loop->lock);
		return rc;
	}
	loop->stats[VEV_STAT_ITERATIONS]++;
	/* -1: none; 0: do not wait (no clock needed); else an instant. */
	int64_t user_deadline = timeout_ms < 0 ? -1 :
				timeout_ms == 0 ?
						0 :
						vev__now_ns() + timeout_ms * 1000000LL;

	purge(loop);
	for (;;) {
		rebuild_if_needed(loop);
		if (loop->dirty.len || loop->dirty.overflow)
			vev__handles_apply(loop);
		int timeout = wait_timeout(loop, user_deadline);
		loop->waits++;
		if (timeout == 0) {
			/* A wait that cannot block keeps the lock: other
			 * threads wait one system call at most, and a busy
			 * loop saves a lock round trip per iteration. */
			rc = loop->be->wait(loop, 0);
		} else {
			loop->polling = true;
			vev__unlock(&loop->lock);
			rc = loop->be->wait(loop, timeout);
			vev__lock(&loop->lock);
			loop->polling = false;
		}
		loop->woken = false;
		if (rc < 0 && rc != -EINTR)
			break;
		loop->be->collect(loop);
		if (loop->woken) {
			drain_wake_fd(loop);
			loop->stats[VEV_STAT_WAKEUPS]++;
		}
		if (vev__handles_have_synth(loop))
			vev__handles_collect_synth(loop);
		bool timed = loop->heap_len > 0 || user_deadline > 0;
		int64_t now = timed ? vev__now_ns() : 0;
		if (loop->heap_len > 0 || loop->zero_head != VEV_NIL)
			vev__timers_collect(loop, now);
		/* Waits end early on signals, wake-ups and the kernel's own
		 * rounding; only the last of those is not a reason to return. */
		if (rc == -EINTR || loop->woken || loop->ready_len ||
		    loop->due_len || timeout == 0 || loop->quit ||
		    (user_deadline > 0 && now >= user_deadline))
			break;
	}
	if (rc < 0 && rc != -EINTR) {
		rc = vev__error(EIO, "vev_run_once: %s wait failed: %s",
				loop->be->name, strerror(-rc));
	} else {
		/* Timers first, then descriptors, as libvirt does. */
		rc = loop->due_len ? (int)vev__timers_dispatch(loop) : 0;
		if (loop->ready_len)
			rc += (int)vev__handles_dispatch(loop);
	}
	purge(loop);
	end_locked(loop);
	vev__unlock(&loop->lock);
	return rc;
}

int vev_run(vev_loop *loop)
{
	for (;;) {
		int rc = vev_run_once(loop, VEV_WAIT_FOREVER);
		if (rc < 0)
			return rc;
		vev__lock(&loop->lock);
		bool quit = loop->quit;
		loop->quit = false;
		vev__unlock(&loop->lock);
		if (quit)
			return 0;
	}
}

int vev_quit(vev_loop *loop)
{
	if (!loop)
		return vev__error(EINVAL, "vev_quit: loop is NULL");
	vev__lock(&loop->lock);
	loop->quit = true;
	/* An embedding host sees the request once, as a readable descriptor
	 * until its next iteration (vev_run() is what consumes it). */
	if (loop->embed && !loop->polling)
		vev__wake_polling(loop);
	else
		vev__wake_locked(loop);
	vev__unlock(&loop->lock);
	return 0;
}

int vev_loop_drain(vev_loop *loop)
{
	if (!loop)
		return vev__error(EINVAL, "vev_loop_drain: loop is NULL");
	vev__lock(&loop->lock);
	int rc = begin_locked(loop, "vev_loop_drain");
	if (rc == 0) {
		rc = (int)purge(loop);
		end_locked(loop);
	}
	vev__unlock(&loop->lock);
	return rc;
}

/* ---- helper thread ------------------------------------------------------ */

static void *thread_main(void *arg)
{
	struct vev_loop *loop = arg;
	/* Set before the thread was created and not changed while it runs. */
	void (*enter)(void *) = loop->thread_enter, (*leave)(void *) =
							    loop->thread_leave;
	void *hook_arg = loop->thread_arg;

	if (enter)
		enter(hook_arg);
	vev_run(loop);
	if (leave)
		leave(hook_arg);
	return NULL;
}

int vev_loop_start_thread_hooks(vev_loop *loop, void (*enter)(void *arg),
				void (*leave)(void *arg), void *arg)
{
	if (!loop)
		return vev__error(EINVAL, "vev_loop_start_thread: loop is NULL");
	vev__lock(&loop->lock);
	if (loop->thread_active || loop->running) {
		vev__unlock(&loop->lock);
		return vev__error(EBUSY, "vev_loop_start_thread: the loop "
				  "already has a running thread");
	}
	loop->quit = false;
	loop->thread_enter = enter;
	loop->thread_leave = leave;
	loop->thread_arg = arg;
	/* The thread is the library's, not the program's: it must not run
	 * the program's signal handlers nor take a signal that a thread of
	 * the program waits for with sigwait().  It inherits this mask. */
	sigset_t all, saved;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &saved);
	int rc = pthread_create(&loop->thread, NULL, thread_main, loop);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	if (rc == 0)
		loop->thread_active = true;
	vev__unlock(&loop->lock);
	if (rc)
		return vev__error(EAGAIN, "vev_loop_start_thread: %s",
				  strerror(rc));
	return 0;
}

int vev_loop_start_thread(vev_loop *loop)
{
	return vev_loop_start_thread_hooks(loop, NULL, NULL, NULL);
}

int vev_loop_stop_thread(vev_loop *loop)
{
	if (!loop)
		return vev__error(EINVAL, "vev_loop_stop_thread: loop is NULL");
	vev__lock(&loop->lock);
	if (!loop->thread_active) {
		vev__unlock(&loop->lock);
		return vev__error(ESRCH, "vev_loop_stop_thread: no helper "
				  "thread is running");
	}
	if (pthread_equal(loop->thread, pthread_self())) {
		vev__unlock(&loop->lock);
		return vev__error(EDEADLK, "vev_loop_stop_thread: called on "
				  "the helper thread itself");
	}
	pthread_t thread = loop->thread;
	loop->thread_active = false;
	loop->quit = true;
	vev__wake_locked(loop);
	vev__unlock(&loop->lock);

	pthread_join(thread, NULL);
	/* The request made above is this call's own; if the thread had ended
	 * already (on an earlier vev_quit()), nothing consumed it, and it
	 * would keep every later iteration from waiting. */
	vev__lock(&loop->lock);
	loop->quit = false;
	vev__unlock(&loop->lock);
	int rc = vev_loop_drain(loop);
	return rc < 0 ? rc : 0;
}

/* ---- destruction -------------------------------------------------------- */

/* Remove everything and run every free callback (lock held, loop marked
 * running).  New registrations are refused meanwhile so that this ends;
 * free callbacks may still remove, which only adds to what it runs. */
static unsigned empty_locked(struct vev_loop *loop)
{
	unsigned done = 0;

	loop->closing = true;
	do {
		vev__handles_remove_all(loop);
		vev__timers_remove_all(loop);
		done += purge(loop);
	} while (loop->handle_frees.count || loop->timer_frees.count);
	return done;
}

int vev_loop_clear(vev_loop *loop)
{
	if (!loop)
		return vev__error(EINVAL, "vev_loop_clear: loop is NULL");
	vev__lock(&loop->lock);
	int rc = begin_locked(loop, "vev_loop_clear");
	if (rc == 0) {
		rc = (int)empty_locked(loop);
		loop->closing = false;
		end_locked(loop);
	}
	vev__unlock(&loop->lock);
	return rc;
}

int vev_loop_free(vev_loop *loop)
{
	if (!loop)
		return 0;
	vev__lock(&loop->lock);
	bool helper = loop->thread_active &&
		      !pthread_equal(loop->thread, pthread_self());
	vev__unlock(&loop->lock);
	if (helper)
		vev_loop_stop_thread(loop);

	vev__lock(&loop->lock);
	int rc = begin_locked(loop, "vev_loop_free");
	if (rc < 0) {
		vev__unlock(&loop->lock);
		return rc;
	}
	loop->freeing = true;
	empty_locked(loop);
	vev__unlock(&loop->lock);

	vev__embed_fini(loop);
	loop->be->fini(loop);
	close_wake_fd(loop);
	vev__handles_fini(loop);
	vev__timers_fini(loop);
	vev__lock_destroy(&loop->lock);
	vev__free(loop);
	return 0;
}

/* ---- introspection ------------------------------------------------------ */

int vev_loop_stat(vev_loop *loop, enum vev_stat which, uint64_t *value)
{
	if (!loop || !value)
		return vev__error(EINVAL, "vev_loop_stat: loop or value is NULL");
	if ((unsigned)which >= VEV_STAT_COUNT_)
		return vev__error(EINVAL, "vev_loop_stat: unknown counter %d",
				  (int)which);
	vev__lock(&loop->lock);
	switch (which) {
	case VEV_STAT_HANDLES:
		*value = loop->handle_ids.count;
		break;
	case VEV_STAT_TIMERS:
		*value = loop->timer_ids.count;
		break;
	case VEV_STAT_PENDING_FREES:
		*value = loop->handle_frees.count + loop->timer_frees.count;
		break;
	case VEV_STAT_MEMORY:
		*value = sizeof(*loop) + vev__handles_memory(loop) +
			 vev__timers_memory(loop) + loop->be->memory(loop) +
			 vev__embed_memory(loop);
		break;
	default:
		*value = loop->stats[which];
		break;
	}
	vev__unlock(&loop->lock);
	return 0;
}

static int verify_freelist(struct vev_loop *loop, struct vev_freelist *list,
			   struct vev_pool *pool, const char *what)
{
	uint32_t n = 0, last = VEV_NIL;

	for (uint32_t idx = list->head; idx != VEV_NIL;
	     idx = ((struct vev_record *)vev__pool_at(pool, idx))->link) {
		struct vev_record *r = vev__pool_at(pool, idx);
		if (r->cb)
			return vev__error(EPROTO, "%s %d awaits its free "
					  "callback but is live", what, r->id);
		if (++n > list->count)
			return vev__error(EPROTO, "%s free list is longer than "
					  "its count %u", what, list->count);
		last = idx;
	}
	if (n != list->count || last != list->tail)
		return vev__error(EPROTO, "%s free list: %u entries, count %u",
				  what, n, list->count);
	(void)loop;
	return 0;
}

int vev_loop_verify(vev_loop *loop)
{
	if (!loop)
		return vev__error(EINVAL, "vev_loop_verify: loop is NULL");
	vev__lock(&loop->lock);
	int rc = vev__handles_verify(loop);
	if (rc == 0)
		rc = vev__timers_verify(loop);
	if (rc == 0)
		rc = vev__embed_verify(loop);
	if (rc == 0)
		rc = verify_freelist(loop, &loop->handle_frees, &loop->handles,
				     "watch");
	if (rc == 0)
		rc = verify_freelist(loop, &loop->timer_frees, &loop->timers,
				     "timer");
	uint32_t records = loop->handle_ids.count + loop->handle_frees.count;
	if (rc == 0 && records != loop->handles.used)
		rc = vev__error(EPROTO, "%u watch slots in use, %u accounted",
				loop->handles.used, records);
	records = loop->timer_ids.count + loop->timer_frees.count;
	if (rc == 0 && records != loop->timers.used)
		rc = vev__error(EPROTO, "%u timer slots in use, %u accounted",
				loop->timers.used, records);
	vev__unlock(&loop->lock);
	return rc;
}

bool vev__test_is_polling(struct vev_loop *loop)
{
	vev__lock(&loop->lock);
	bool polling = loop->polling;
	vev__unlock(&loop->lock);
	return polling;
}

void vev__test_set_next_ids(struct vev_loop *loop, int handle_id,
			    int timer_id)
{
	vev__lock(&loop->lock);
	loop->next_handle_id = handle_id;
	loop->next_timer_id = timer_id;
	vev__unlock(&loop->lock);
}
