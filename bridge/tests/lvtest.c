/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "lvtest.h"

#include <stdarg.h>

static const char *current_test = "";

void lvtest_fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "%s:%d: %s: ", file, line, current_test);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nFAILED (backend %s)\n",
		getenv("VEVENT_BACKEND") ? getenv("VEVENT_BACKEND") : "default");
	fflush(NULL);
	_exit(1);
}

int64_t lvtest_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* libvirt's default handler prints every error on stderr; keep the ones
 * tests provoke quiet and let checks say what went wrong. */
static void quiet_errors(void *opaque, virErrorPtr err)
{
	(void)opaque;
	(void)err;
}

vev_loop *lvtest_register_loop(void)
{
	vev_loop *loop;
	int rc = vev_loop_new(&loop, VEV_LOOP_AUTO);
	if (rc < 0)
		lvtest_fail(__FILE__, __LINE__, "vev_loop_new: %s",
			    vev_last_error());
	rc = vev_libvirt_register(loop);
	if (rc < 0)
		lvtest_fail(__FILE__, __LINE__, "vev_libvirt_register: %s",
			    vev_libvirt_last_error());
	virSetErrorFunc(NULL, quiet_errors);
	return loop;
}

/* ---- recorder ----------------------------------------------------------- */

void recorder_init(struct recorder *r)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	r->close_reason = -1;
}

static void note_thread_locked(struct recorder *r)
{
	if (!r->thread_set) {
		r->thread = pthread_self();
		r->thread_set = true;
	} else if (!pthread_equal(r->thread, pthread_self())) {
		r->thread_mixed = true;
	}
}

int recorder_lifecycle(virConnectPtr conn, virDomainPtr dom, int event,
		       int detail, void *opaque)
{
	struct recorder *r = opaque;
	(void)conn;
	pthread_mutex_lock(&r->lock);
	note_thread_locked(r);
	if (r->nevents < LVTEST_MAX_EVENTS) {
		struct lvevent *e = &r->events[r->nevents];
		e->event = event;
		e->detail = detail;
		snprintf(e->domain, sizeof(e->domain), "%s",
			 virDomainGetName(dom));
	}
	r->nevents++;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	return 0;
}

void recorder_closed(virConnectPtr conn, int reason, void *opaque)
{
	struct recorder *r = opaque;
	(void)conn;
	pthread_mutex_lock(&r->lock);
	note_thread_locked(r);
	r->close_reason = reason;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

void recorder_free(void *opaque)
{
	struct recorder *r = opaque;
	pthread_mutex_lock(&r->lock);
	r->frees++;
	pthread_mutex_unlock(&r->lock);
}

static bool wait_until(struct recorder *r, bool (*done)(struct recorder *, int),
		       int arg, int timeout_ms)
{
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (deadline.tv_nsec >= 1000000000) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&r->lock);
	int rc = 0;
	while (!done(r, arg) && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&r->cond, &r->lock, &deadline);
	bool ok = done(r, arg);
	pthread_mutex_unlock(&r->lock);
	return ok;
}

static bool have_events(struct recorder *r, int n)
{
	return r->nevents >= n;
}

static bool have_closed(struct recorder *r, int unused)
{
	(void)unused;
	return r->close_reason >= 0;
}

bool recorder_wait_events(struct recorder *r, int n, int timeout_ms)
{
	return wait_until(r, have_events, n, timeout_ms);
}

bool recorder_wait_closed(struct recorder *r, int timeout_ms)
{
	return wait_until(r, have_closed, 0, timeout_ms);
}

void recorder_check(struct recorder *r, int i, const char *domain, int event,
		    int detail)
{
	pthread_mutex_lock(&r->lock);
	struct lvevent e = r->events[i];
	pthread_mutex_unlock(&r->lock);
	if (strcmp(e.domain, domain) != 0 || e.event != event ||
	    e.detail != detail)
		lvtest_fail(__FILE__, __LINE__,
			    "event %d is %s %d/%d, expected %s %d/%d", i,
			    e.domain, e.event, e.detail, domain, event, detail);
}

/* ---- the loop ----------------------------------------------------------- */

static uint64_t own_frees; /* free callbacks of the probe */

/* Static: the timer's callback and free callback run on the loop thread
 * while the caller waits, and nothing may touch the probe after its free
 * callback returned. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool seen, freed;
	pthread_t thread;
} probe = { .lock = PTHREAD_MUTEX_INITIALIZER,
	    .cond = PTHREAD_COND_INITIALIZER };

static void probe_fired(int timer, void *opaque)
{
	vev_loop *loop = opaque;
	pthread_mutex_lock(&probe.lock);
	probe.thread = pthread_self();
	probe.seen = true;
	pthread_mutex_unlock(&probe.lock);
	CHECK_EQ(vev_remove_timer(loop, timer), 0);
}

static void probe_freed(void *opaque)
{
	(void)opaque;
	pthread_mutex_lock(&probe.lock);
	probe.freed = true;
	own_frees++;
	pthread_cond_broadcast(&probe.cond);
	pthread_mutex_unlock(&probe.lock);
}

pthread_t lvtest_loop_thread(vev_loop *loop)
{
	probe.seen = probe.freed = false;
	CHECK(vev_add_timer(loop, 0, probe_fired, loop, probe_freed) > 0);
	pthread_mutex_lock(&probe.lock);
	while (!probe.freed)
		pthread_cond_wait(&probe.cond, &probe.lock);
	pthread_t thread = probe.thread;
	pthread_mutex_unlock(&probe.lock);
	CHECK(probe.seen);
	return thread;
}

static uint64_t stat_of(vev_loop *loop, enum vev_stat which)
{
	uint64_t v = 0;
	CHECK_EQ(vev_loop_stat(loop, which, &v), 0);
	return v;
}

void lvtest_check_loop_clean(vev_loop *loop, bool helper_thread)
{
	if (helper_thread)
		CHECK_EQ(vev_loop_stop_thread(loop), 0);
	else
		CHECK(vev_loop_drain(loop) >= 0);
	struct vev__libvirt_counts c;
	vev__libvirt_counts(&c);
	uint64_t handles = stat_of(loop, VEV_STAT_HANDLES);
	uint64_t timers = stat_of(loop, VEV_STAT_TIMERS);
	uint64_t pending = stat_of(loop, VEV_STAT_PENDING_FREES);
	uint64_t frees = stat_of(loop, VEV_STAT_FREE_CALLS);
	if (handles || timers || pending)
		lvtest_fail(__FILE__, __LINE__,
			    "left on the loop: %llu watches, %llu timers, "
			    "%llu free callbacks pending",
			    (unsigned long long)handles,
			    (unsigned long long)timers,
			    (unsigned long long)pending);
	CHECK_EQ(c.added, c.removed);
	/* The tests' own registrations are not counted by the bridge. */
	CHECK_EQ(frees - own_frees, c.added_with_ff);
	CHECK(c.added > 0);
	CHECK_EQ(vev_loop_verify(loop), 0);
}

/* ---- main --------------------------------------------------------------- */

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s TEST | --list\n", argv[0]);
		return 2;
	}
	/* A libvirt client writes to sockets whose peer may be gone. */
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (const struct lvtest *t = tests; t->name; t++) {
		if (strcmp(argv[1], "--list") == 0) {
			printf("%s\n", t->name);
			continue;
		}
		if (strcmp(argv[1], t->name) != 0)
			continue;
		current_test = t->name;
		const char *w = getenv("VEVENT_TEST_WATCHDOG");
		alarm(w ? (unsigned)atoi(w) : lvtest_watchdog); /* a hang fails */
		t->fn();
		printf("ok %s (backend %s)\n", t->name,
		       getenv("VEVENT_BACKEND") ? getenv("VEVENT_BACKEND") :
						  "default");
		return 0;
	}
	if (strcmp(argv[1], "--list") == 0)
		return 0;
	fprintf(stderr, "no test named %s\n", argv[1]);
	return 2;
}
