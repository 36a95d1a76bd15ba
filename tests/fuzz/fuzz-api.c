/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A model-based API-sequence fuzzer for the native API.
 *
 * The input is decoded into a sequence of operations on one loop: add,
 * update and remove of watches and timers, writes, reads and closes on pipes,
 * socket pairs and always-ready files (memfd), no-wait iterations, drains, and actions that
 * callbacks and free callbacks perform from inside the loop.  A reference
 * model (the `struct rec` and `struct chan` tables below) predicts, for each
 * iteration, which callbacks must fire, which may, with which event bits,
 * and which free callbacks must have run.  Any divergence aborts with a
 * trace of the last operations; crashes and leaks are ASan's to report.
 *
 * The byte format is described in README.md beside this file; gen-corpus.py
 * writes inputs in it.  What is asserted is what the header and the man
 * pages document (docs/design.md, "The contract"), plus the kernel's
 * documented readiness of pipes and sockets, and nothing about the order of
 * callbacks within an iteration.
 *
 * In embedded mode the loop is also driven as a host loop would drive it:
 * before every iteration, and after every operation, the descriptor of
 * vev_loop_fd() is polled without waiting.  When it reads quiet, the model
 * must agree that nothing is due (no ready watch, period-0 timer, pending
 * free callback, unconsumed quit request or timer whose deadline certainly
 * passed), and the iteration that follows must dispatch none of those.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <sys/mman.h>
#include <unistd.h>

#include <vevent/vevent.h>

#include "fuzz.h"

#define R VEV_READABLE
#define W VEV_WRITABLE
#define E VEV_ERROR
#define H VEV_HANGUP
#define KNOWN_BITS (R | W | E | H)

#define MAX_RECS 384
#define MAX_CHANS 16
#define MAX_STEPS 4096
#define PIPE_CAP 4096 /* bytes we let pile up in a pipe: far from full */
#define SOCK_CAP 32   /* 1-byte writes pending on a socket end: still writable */
#define BAD_FD (1 << 20)
#define FD_SCAN 256   /* descriptors compared before and after each input */
/* How long a timer's expiry may take to show on the descriptor once its
 * deadline has passed (interrupt latency, a stalled CPU): only a descriptor
 * this late is called stale. */
#define EMBED_LATENCY_MS 100

/* ---- failure reporting ---------------------------------------------------- */

#define TRACE_LEN 48
static char trace_buf[TRACE_LEN][96];
static unsigned trace_n;
static bool trace_live;

static void trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void trace(const char *fmt, ...)
{
	va_list ap;
	char *line = trace_buf[trace_n++ % TRACE_LEN];

	va_start(ap, fmt);
	vsnprintf(line, sizeof(trace_buf[0]), fmt, ap);
	va_end(ap);
	if (trace_live)
		fprintf(stderr, "  %s\n", line);
}

static void fail(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4), noreturn));
static void fail(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "\nvevent fuzz: divergence at %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n  vev_last_error: %s\n  last operations (oldest "
		"first):\n", vev_last_error());
	unsigned first = trace_n > TRACE_LEN ? trace_n - TRACE_LEN : 0;
	for (unsigned i = first; i < trace_n; i++)
		fprintf(stderr, "    %s\n", trace_buf[i % TRACE_LEN]);
	fflush(stderr);
	abort();
}

#define MUST(cond, ...)                                        \
	do {                                                   \
		if (!(cond))                                   \
			fail(__FILE__, __LINE__, __VA_ARGS__); \
	} while (0)

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ---- the model ------------------------------------------------------------ */

enum chan_kind { K_PIPE, K_SOCK, K_NULL };

/* A pipe (end 0 reads, end 1 writes), a socket pair, or an always-ready
 * file (a memfd, end 0). */
struct chan {
	enum chan_kind kind;
	int fd[2];
	bool open[2];
	int pending[2]; /* bytes readable at that end */
	bool reset[2];  /* socket end whose peer closed with data unread:
	                 * ECONNRESET (POLLERR) until a read reports it */
};

enum where { ACT_NONE, ACT_EVERY, ACT_FIRST, ACT_FREE };

/* One operation run from inside a callback or a free callback. */
struct action {
	enum where where;
	uint8_t op, a, b;
	bool done;
};

struct rec {
	bool is_timer;
	int id;
	bool live;
	bool removed;
	bool ff_null;
	bool removed_by_free; /* removed by vev_loop_free() itself */
	int ff_runs;
	uint64_t removal_seq;
	unsigned due_run; /* its free callback runs by the end of this run */
	unsigned calls;
	struct action act;

	/* watches */
	int ch, end, fd;
	int events; /* as the library keeps them: masked to KNOWN_BITS */
	bool got_error;
	bool reused; /* its descriptor was closed and the number reused */

	/* timers */
	int period;
	int64_t armed_lb; /* no fire before armed_lb + period */
	int64_t armed_ub; /* due by armed_ub + period at the latest */

	/* the current iteration */
	bool in_snap;     /* live when readiness was collected */
	int snap_bits;    /* what it was ready for then */
	bool snap_closed; /* its descriptor was closed then */
	bool snap_zero;   /* a 0 timer then */
	bool touched;     /* updated or removed during dispatch */
	bool fired;
};

static struct {
	vev_loop *loop;
	const uint8_t *in;
	size_t in_len, in_pos;

	struct rec recs[MAX_RECS];
	int nrecs;
	struct chan chans[MAX_CHANS];
	int nchans;
	int next_hid, next_tid;

	/* where we are */
	bool in_run, in_drain, in_free, in_ff, in_remove, finishing;
	int depth;
	unsigned run_index; /* runs started so far */
	int64_t run_start_ns;
	bool snap_taken;
	bool ff_mutated; /* a free callback changed the model in this run
	                  * before anything was dispatched */
	bool ff_removed; /* a free callback removed something in this
	                  * run or drain */
	unsigned run_calls;
	unsigned drain_ffs;
	uint64_t removal_seq;

	/* totals, compared with the loop's counters */
	uint64_t handle_calls, timer_calls, free_calls, iterations;

	/* embedded mode */
	bool embedded;
	int efd;            /* vev_loop_fd() */
	bool quiet_run;     /* this iteration follows a quiet poll */
	uint64_t quiet_seq; /* removals numbered up to this one came before it */
	bool quit_owed;     /* a vev_quit() the descriptor must still show */
	int host_sleeps;
} S;

static bool fd_open_before[FD_SCAN];

/* VEVENT_FUZZ_LENIENT=reuse: tolerate the known defects around descriptor
 * numbers reused after a close (regress/README.md), so that a fuzzing
 * session can look past them: no /dev/null channels, a watch whose closed
 * number was reused may see the new file's events, and while such a watch
 * exists no watch is required to fire. */
static bool lenient_reuse;

/* VEVENT_FUZZ_EMBED: "0" never embeds, another non-empty value always does
 * (on a backend that can), unset or empty lets bit 3 of byte 0 decide. */
static int force_embed = -1;

static uint8_t in_u8(void)
{
	return S.in_pos < S.in_len ? S.in[S.in_pos++] : 0;
}

static struct rec *rec_of(void *opaque)
{
	struct rec *r = opaque;
	MUST(r >= S.recs && r < S.recs + S.nrecs, "callback opaque %p is "
	     "not one of ours", opaque);
	return r;
}

/* lenient_reuse, and a live watch whose number was reused: no watch is
 * required to fire. */
static bool reuse_tolerated(void)
{
	for (int i = 0; lenient_reuse && i < S.nrecs; i++)
		if (S.recs[i].live && S.recs[i].reused)
			return true;
	return false;
}

static int live_count(bool timers)
{
	int n = 0;
	for (int i = 0; i < S.nrecs; i++)
		n += S.recs[i].live && S.recs[i].is_timer == timers;
	return n;
}

/* The kernel's readiness of the watched end, as poll(2) documents it for
 * pipes and Unix stream sockets, masked to what the watch asks for plus
 * ERROR and HANGUP. */
static int expected_bits(const struct rec *r)
{
	const struct chan *c = &S.chans[r->ch];
	int ev = r->events, bits = 0;

	if (ev == 0)
		return 0;
	switch (c->kind) {
	case K_PIPE:
		if (r->end == 0) {
			if ((ev & R) && c->pending[0] > 0)
				bits |= R;
			if (!c->open[1])
				bits |= H;
		} else {
			bits |= ev & W;
			if (!c->open[0])
				bits |= E;
		}
		break;
	case K_SOCK: {
		int peer = 1 - r->end;
		if ((ev & R) && (c->pending[r->end] > 0 || !c->open[peer]))
			bits |= R;
		bits |= ev & W;
		if (!c->open[peer])
			bits |= H;
		if (c->reset[r->end])
			bits |= E;
		break;
	}
	case K_NULL:
		bits = ev & (R | W); /* always ready, as poll(2) says */
		break;
	}
	return bits;
}

/* Readiness is collected after the free callbacks at the start of an
 * iteration and before the first callback: take the model's picture then. */
static void take_snapshot(void)
{
	S.snap_taken = true;
	for (int i = 0; i < S.nrecs; i++) {
		struct rec *r = &S.recs[i];
		r->in_snap = r->live;
		if (!r->live)
			continue;
		if (r->is_timer) {
			r->snap_zero = r->period == 0;
		} else {
			r->snap_closed = !S.chans[r->ch].open[r->end];
			r->snap_bits = r->snap_closed ? 0 : expected_bits(r);
		}
	}
}

/* A change of the model made from inside the loop. */
static void note_mutation(struct rec *target)
{
	if (!S.in_run)
		return;
	if (S.snap_taken) {
		if (target)
			target->touched = true;
	} else if (S.in_ff) {
		/* Either the free callbacks before collection (then the
		 * snapshot still to come sees this) or those after an
		 * iteration that dispatched nothing (then it must not):
		 * which one cannot be told, so the iteration's "must fire"
		 * checks are skipped. */
		S.ff_mutated = true;
	}
}

static void note_removal(struct rec *r)
{
	r->live = false;
	r->removed = true;
	r->removal_seq = ++S.removal_seq;
	/* Free callbacks of earlier removals run at the start of an
	 * iteration, those of removals made during it at its end; a removal
	 * made by a free callback may wait for the next iteration. */
	if (S.in_run && !S.in_ff)
		r->due_run = S.run_index;
	else
		r->due_run = S.run_index + 1;
	if (S.in_ff)
		S.ff_removed = true;
	note_mutation(r);
}

/* ---- callbacks ------------------------------------------------------------ */

static void exec_op(uint8_t op, uint8_t a, uint8_t b, struct rec *self,
		    const struct action *act);

static void run_action(struct rec *r, bool from_ff)
{
	struct action *act = &r->act;

	if (S.finishing || act->where == ACT_NONE)
		return;
	if (from_ff != (act->where == ACT_FREE))
		return;
	if (act->where == ACT_FIRST && act->done)
		return;
	act->done = true;
	exec_op(act->op, act->a, act->b, r, NULL);
}

static void handle_cb(int watch, int fd, int events, void *opaque)
{
	struct rec *r = rec_of(opaque);

	MUST(S.in_run && S.depth == 0 && !S.in_ff, "watch %d called outside "
	     "dispatch (run %d depth %d ff %d)", watch, S.in_run, S.depth,
	     S.in_ff);
	MUST(!r->is_timer && r->id == watch && r->fd == fd,
	     "watch callback (%d, fd %d) for record of %s %d fd %d", watch, fd,
	     r->is_timer ? "timer" : "watch", r->id, r->fd);
	if (!S.snap_taken)
		take_snapshot();
	trace("  cb watch %d fd %d events 0x%x", watch, fd, events);
	S.run_calls++;
	S.handle_calls++;
	r->calls++;
	MUST(r->live, "watch %d called after its removal", watch);
	MUST(r->in_snap, "watch %d added during dispatch fired in the same "
	     "iteration", watch);
	MUST(!r->fired, "watch %d fired twice in one iteration", watch);
	r->fired = true;
	/* A descriptor closed under its watch is reported at most once, at
	 * a time the model cannot tell; any other report was there to see. */
	MUST(!S.quiet_run || r->snap_closed || reuse_tolerated(),
	     "watch %d (ready 0x%x) fired in an iteration run after the "
	     "embedding descriptor read quiet", watch, r->snap_bits);
	if (r->snap_closed && r->reused && lenient_reuse) {
		/* tolerated: see lenient_reuse */
	} else if (r->snap_closed) {
		MUST(events == E, "watch %d on a closed descriptor got events "
		     "0x%x (only ERROR, once, is allowed)", watch, events);
		MUST(!r->got_error, "watch %d got ERROR twice for its closed "
		     "descriptor", watch);
		MUST(r->events != 0, "watch %d asking for nothing got ERROR",
		     watch);
		r->got_error = true;
	} else {
		int mask = r->events ? r->events | E | H : 0;
		int want = r->snap_bits & mask;
		MUST(want != 0, "watch %d (events 0x%x, ready 0x%x when "
		     "collected) should not fire; got 0x%x", watch, r->events,
		     r->snap_bits, events);
		MUST(events == want, "watch %d got events 0x%x, expected 0x%x",
		     watch, events, want);
	}
	S.depth++;
	run_action(r, false);
	S.depth--;
}

static void timer_cb(int timer, void *opaque)
{
	struct rec *r = rec_of(opaque);
	int64_t now = now_ns();

	MUST(S.in_run && S.depth == 0 && !S.in_ff, "timer %d called outside "
	     "dispatch", timer);
	MUST(r->is_timer && r->id == timer, "timer callback %d for record "
	     "of %s %d", timer, r->is_timer ? "timer" : "watch", r->id);
	if (!S.snap_taken)
		take_snapshot();
	trace("  cb timer %d", timer);
	S.run_calls++;
	S.timer_calls++;
	r->calls++;
	MUST(r->live, "timer %d called after its removal", timer);
	MUST(r->in_snap, "timer %d added during dispatch fired in the same "
	     "iteration", timer);
	MUST(!r->fired, "timer %d fired twice in one iteration", timer);
	r->fired = true;
	MUST(r->period >= 0, "disabled timer %d (period %d) fired", timer,
	     r->period);
	if (r->period == 0) {
		MUST(r->snap_zero || r->touched, "timer %d fired in the "
		     "iteration it became a 0 timer", timer);
		MUST(!S.quiet_run || !r->snap_zero, "0 timer %d was armed "
		     "while the embedding descriptor read quiet", timer);
	} else {
		MUST(now >= r->armed_lb + (int64_t)r->period * 1000000,
		     "timer %d (period %d ms) fired %lld ns early", timer,
		     r->period,
		     (long long)(r->armed_lb + (int64_t)r->period * 1000000 -
				 now));
	}
	/* Re-armed at dispatch, which is after the iteration began and
	 * before this call. */
	r->armed_lb = S.run_start_ns;
	r->armed_ub = now;
	S.depth++;
	run_action(r, false);
	S.depth--;
}

static void free_cb(void *opaque)
{
	struct rec *r = rec_of(opaque);

	trace("  ff %s %d", r->is_timer ? "timer" : "watch", r->id);
	MUST(!S.in_remove, "free callback of %s %d ran inside a remove call",
	     r->is_timer ? "timer" : "watch", r->id);
	MUST(S.depth == 0 && !S.in_ff, "free callback of %s %d ran on the "
	     "stack of another callback", r->is_timer ? "timer" : "watch",
	     r->id);
	MUST(S.in_run || S.in_drain || S.in_free, "free callback of %s %d "
	     "ran outside run, drain and free", r->is_timer ? "timer" : "watch",
	     r->id);
	MUST(r->removed, "free callback of live %s %d",
	     r->is_timer ? "timer" : "watch", r->id);
	MUST(!r->ff_null, "free callback for %s %d registered without one",
	     r->is_timer ? "timer" : "watch", r->id);
	MUST(r->ff_runs == 0, "free callback of %s %d ran twice",
	     r->is_timer ? "timer" : "watch", r->id);
	MUST(!S.in_run || !S.quiet_run || r->removal_seq > S.quiet_seq,
	     "free callback of %s %d was due while the embedding descriptor "
	     "read quiet", r->is_timer ? "timer" : "watch", r->id);
	r->ff_runs++;
	S.free_calls++;
	if (S.in_drain)
		S.drain_ffs++;
	S.in_ff = true;
	run_action(r, true);
	S.in_ff = false;
}

/* ---- operations ----------------------------------------------------------- */

enum op {
	OP_NEW_CHANNEL,
	OP_ADD_HANDLE,
	OP_ADD_TIMER,
	OP_UPDATE_HANDLE,
	OP_UPDATE_TIMER,
	OP_REMOVE_HANDLE,
	OP_REMOVE_TIMER,
	OP_WRITE,
	OP_READ,
	OP_CLOSE,
	OP_RUN,
	OP_DRAIN,
	OP_QUIT_RUN,
	OP_CHECK,
	OP_BAD,
	OP_RUN2,
	OP_COUNT_
};

#define SEL_SELF 0xff  /* the calling registration, or the last one */
#define SEL_FRESH 0xfe /* an id never handed out */
#define SEL_ZERO 0xfd  /* id 0 or -1 */

static int period_of(uint8_t c)
{
	static const int periods[] = {
		0, 0, 0, -1, INT_MIN, 3600000, INT_MAX, 600000, 1, 2,
	};
	return periods[c % (sizeof(periods) / sizeof(periods[0]))];
}

static int new_chan(unsigned kind_sel)
{
	if (S.nchans == MAX_CHANS)
		return -1;
	struct chan *c = &S.chans[S.nchans];
	int fds[2] = { -1, -1 };

	memset(c, 0, sizeof(*c));
	switch (kind_sel % 4) {
	case 0:
	case 1:
		c->kind = K_PIPE;
		MUST(pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0, "pipe2: %s",
		     strerror(errno));
		break;
	case 2:
		c->kind = K_SOCK;
		MUST(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK |
					 SOCK_CLOEXEC, 0, fds) == 0,
		     "socketpair: %s", strerror(errno));
		break;
	default:
		if (lenient_reuse) {
			c->kind = K_PIPE;
			MUST(pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0,
			     "pipe2: %s", strerror(errno));
			break;
		}
		c->kind = K_NULL;
		/* Always ready, like /dev/null, but a file of its own: two
		 * opens of /dev/null are one file (same device and inode),
		 * which vevent documents as indistinguishable. */
		fds[0] = memfd_create("vevent-fuzz", MFD_CLOEXEC);
		MUST(fds[0] >= 0, "memfd_create: %s", strerror(errno));
		break;
	}
	c->fd[0] = fds[0];
	c->fd[1] = fds[1];
	c->open[0] = fds[0] >= 0;
	c->open[1] = fds[1] >= 0;
	for (int i = 0; i < S.nrecs; i++) {
		struct rec *r = &S.recs[i];
		if (!r->is_timer && !S.chans[r->ch].open[r->end] &&
		    (r->fd == fds[0] || r->fd == fds[1]))
			r->reused = true;
	}
	trace("new %s %d: fds %d %d", c->kind == K_PIPE ? "pipe" :
	      c->kind == K_SOCK ? "socketpair" : "memfd", S.nchans,
	      fds[0], fds[1]);
	note_mutation(NULL);
	return S.nchans++;
}

static int sel_chan(uint8_t a, const struct rec *self)
{
	if (a == SEL_SELF && self && !self->is_timer)
		return self->ch;
	if (S.nchans == 0)
		return -1;
	return a == SEL_SELF ? S.nchans - 1 : a % S.nchans;
}

/* A registration of one kind by selector; *id gets the id to pass. */
static struct rec *sel_rec(bool timer, uint8_t a, struct rec *self, int *id)
{
	int n = 0;

	if (a == SEL_ZERO) {
		*id = timer ? -1 : 0;
		return NULL;
	}
	if (a == SEL_SELF && self && self->is_timer == timer) {
		*id = self->id;
		return self;
	}
	for (int i = 0; i < S.nrecs; i++)
		n += S.recs[i].is_timer == timer;
	if (a == SEL_FRESH || n == 0) {
		*id = timer ? S.next_tid : S.next_hid;
		return NULL;
	}
	int k = a == SEL_SELF ? n - 1 : a % n;
	for (int i = 0; i < S.nrecs; i++) {
		if (S.recs[i].is_timer != timer)
			continue;
		if (k-- == 0) {
			*id = S.recs[i].id;
			return &S.recs[i];
		}
	}
	abort();
}

static struct rec *new_rec(bool timer, const struct action *act)
{
	if (S.nrecs == MAX_RECS)
		return NULL;
	struct rec *r = &S.recs[S.nrecs];
	memset(r, 0, sizeof(*r));
	r->is_timer = timer;
	if (act)
		r->act = *act;
	return r;
}

static void op_add_handle(uint8_t a, uint8_t b, struct rec *self,
			  const struct action *act)
{
	int ch = sel_chan(a, self);
	if (ch < 0 && (ch = new_chan(0)) < 0)
		return;
	struct rec *r = new_rec(false, act);
	if (!r)
		return;
	struct chan *c = &S.chans[ch];
	int end = c->kind == K_NULL ? 0 : (b >> 5) & 1;
	int events = b & 0x1f; /* 0x10 is not an event bit: ignored */
	bool ff_null = (b >> 6) == 3;
	int fd = c->open[end] ? c->fd[end] : BAD_FD;

	int rc = vev_add_handle(S.loop, fd, events, handle_cb, r,
				ff_null ? NULL : free_cb);
	trace("add_handle(chan %d end %d fd %d, 0x%x%s) = %d", ch, end, fd,
	      events, ff_null ? ", no ff" : "", rc);
	if (fd == BAD_FD) {
		MUST(rc == -EBADF, "add_handle on a closed descriptor returned "
		     "%d, expected -EBADF", rc);
		return;
	}
	MUST(rc == S.next_hid, "add_handle returned %d, expected id %d", rc,
	     S.next_hid);
	S.next_hid++;
	S.nrecs++;
	r->id = rc;
	r->live = true;
	r->ff_null = ff_null;
	r->ch = ch;
	r->end = end;
	r->fd = fd;
	r->events = events & KNOWN_BITS;
	note_mutation(NULL);
}

static void op_add_timer(uint8_t a, uint8_t b, const struct action *act)
{
	struct rec *r = new_rec(true, act);
	if (!r)
		return;
	int period = period_of(a);
	bool ff_null = (b & 3) == 3;
	int64_t before = now_ns();
	int rc = vev_add_timer(S.loop, period, timer_cb, r,
			       ff_null ? NULL : free_cb);
	trace("add_timer(%d%s) = %d", period, ff_null ? ", no ff" : "", rc);
	MUST(rc == S.next_tid, "add_timer returned %d, expected id %d", rc,
	     S.next_tid);
	S.next_tid++;
	S.nrecs++;
	r->id = rc;
	r->live = true;
	r->ff_null = ff_null;
	r->period = period;
	r->armed_lb = before;
	r->armed_ub = now_ns();
	note_mutation(NULL);
}

static void op_update_handle(uint8_t a, uint8_t b, struct rec *self)
{
	int id;
	struct rec *r = sel_rec(false, a, self, &id);
	int events = b & 0x1f;
	int rc = vev_update_handle(S.loop, id, events);
	trace("update_handle(%d, 0x%x) = %d", id, events, rc);
	if (r && r->live) {
		MUST(rc == 0, "update of live watch %d returned %d", id, rc);
		r->events = events & KNOWN_BITS;
		note_mutation(r);
	} else {
		MUST(rc == -ENOENT, "update of unknown watch %d returned %d, "
		     "expected -ENOENT", id, rc);
	}
}

static void op_update_timer(uint8_t a, uint8_t b, struct rec *self)
{
	int id;
	struct rec *r = sel_rec(true, a, self, &id);
	int period = period_of(b);
	int64_t before = now_ns();
	int rc = vev_update_timer(S.loop, id, period);
	trace("update_timer(%d, %d) = %d", id, period, rc);
	if (r && r->live) {
		MUST(rc == 0, "update of live timer %d returned %d", id, rc);
		r->period = period;
		r->armed_lb = before;
		r->armed_ub = now_ns();
		note_mutation(r);
	} else {
		MUST(rc == -ENOENT, "update of unknown timer %d returned %d, "
		     "expected -ENOENT", id, rc);
	}
}

static void op_remove(bool timer, uint8_t a, struct rec *self)
{
	int id;
	struct rec *r = sel_rec(timer, a, self, &id);

	S.in_remove = true;
	int rc = timer ? vev_remove_timer(S.loop, id) :
			 vev_remove_handle(S.loop, id);
	S.in_remove = false;
	trace("remove_%s(%d) = %d", timer ? "timer" : "handle", id, rc);
	if (r && r->live) {
		MUST(rc == 0, "remove of live %s %d returned %d",
		     timer ? "timer" : "watch", id, rc);
		note_removal(r);
	} else {
		MUST(rc == -ENOENT, "remove of unknown %s %d returned %d, "
		     "expected -ENOENT", timer ? "timer" : "watch", id, rc);
	}
}

static void op_write(uint8_t a, uint8_t b, struct rec *self)
{
	int ch = sel_chan(a, self);
	if (ch < 0)
		return;
	struct chan *c = &S.chans[ch];
	int from, to;

	switch (c->kind) {
	case K_PIPE:
		from = 1, to = 0;
		if (c->pending[0] >= PIPE_CAP)
			return;
		break;
	case K_SOCK:
		from = b & 1, to = 1 - from;
		if (c->pending[to] >= SOCK_CAP)
			return;
		break;
	default:
		from = to = 0;
		break;
	}
	if (!c->open[from])
		return;
	ssize_t n = send(c->fd[from], "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0 && errno == ENOTSOCK)
		n = write(c->fd[from], "x", 1);
	int err = n < 0 ? errno : 0;
	trace("write chan %d fd %d = %zd", ch, c->fd[from], n);
	if (c->kind == K_NULL) {
		MUST(n == 1, "write to memfd: %s", strerror(err));
	} else if (c->open[to]) {
		MUST(n == 1, "write to chan %d: %s", ch, strerror(err));
		c->pending[to]++;
	} else {
		MUST(n < 0 && err == EPIPE, "write to chan %d with the reader "
		     "closed: %zd %s", ch, n, strerror(err));
	}
	note_mutation(NULL);
}

static void op_read(uint8_t a, uint8_t b, struct rec *self)
{
	int ch = sel_chan(a, self);
	if (ch < 0)
		return;
	struct chan *c = &S.chans[ch];
	int end = c->kind == K_SOCK ? b & 1 : 0;
	char buf[512];
	ssize_t n;
	int total = 0;

	if (!c->open[end])
		return;
	while ((n = read(c->fd[end], buf, sizeof(buf))) > 0)
		total += (int)n;
	trace("read chan %d fd %d: %d bytes", ch, c->fd[end], total);
	if (c->kind != K_NULL) {
		MUST(total == c->pending[end], "read %d bytes from chan %d, "
		     "model says %d", total, ch, c->pending[end]);
		c->pending[end] = 0;
		c->reset[end] = false;
	}
	note_mutation(NULL);
}

static void op_close(uint8_t a, uint8_t b, struct rec *self)
{
	int ch = sel_chan(a, self);
	if (ch < 0)
		return;
	struct chan *c = &S.chans[ch];
	int end = c->kind == K_NULL ? 0 : b & 1;

	if (!c->open[end])
		return;
	trace("close chan %d end %d fd %d", ch, end, c->fd[end]);
	MUST(close(c->fd[end]) == 0, "close: %s", strerror(errno));
	c->open[end] = false;
	if (c->kind == K_SOCK && c->pending[end] > 0 && c->open[1 - end])
		c->reset[1 - end] = true;
	c->pending[end] = 0;
	note_mutation(NULL);
}

static uint64_t stat_of(enum vev_stat which)
{
	uint64_t v = 0;
	MUST(vev_loop_stat(S.loop, which, &v) == 0, "vev_loop_stat(%d) failed",
	     (int)which);
	return v;
}

/* ---- embedded mode -------------------------------------------------------- */

/* Whether a host polling the embedding descriptor would wake up within
 * timeout_ms. */
static bool embed_readable(int timeout_ms)
{
	struct pollfd p = { .fd = S.efd, .events = POLLIN };
	int n;

	do
		n = poll(&p, 1, timeout_ms);
	while (n < 0 && errno == EINTR);
	MUST(n >= 0, "poll on the embedding descriptor: %s", strerror(errno));
	MUST(n == 0 || p.revents == POLLIN, "embedding descriptor polled 0x%x",
	     p.revents);
	return n == 1;
}

/* The host's view between iterations: returns whether the descriptor reads
 * quiet, after checking that the model has nothing due then.  Nothing runs
 * between the poll and the checks but the clock, so only timers can become
 * due in between, and a timer counts only if even the latest deadline it
 * can have (armed_ub + period) passed before the poll. */
static bool embed_check(void)
{
	int64_t t0 = now_ns();

	if (embed_readable(0))
		return false;
	bool watches = !reuse_tolerated();
	int64_t due = INT64_MAX, earliest = INT64_MAX;
	int due_id = 0;
	for (int i = 0; i < S.nrecs; i++) {
		const struct rec *r = &S.recs[i];
		const char *kind = r->is_timer ? "timer" : "watch";
		MUST(!r->removed || r->ff_null || r->ff_runs,
		     "free callback of %s %d is due, but the embedding "
		     "descriptor reads quiet", kind, r->id);
		if (!r->live)
			continue;
		if (r->is_timer) {
			MUST(r->period != 0, "0 timer %d is armed, but the "
			     "embedding descriptor reads quiet", r->id);
			if (r->period <= 0)
				continue;
			int64_t d = r->armed_ub + (int64_t)r->period * 1000000;
			if (d <= t0 && d < due) {
				due = d;
				due_id = r->id;
			}
			d = r->armed_lb + (int64_t)r->period * 1000000;
			if (d < earliest)
				earliest = d;
		} else if (watches && S.chans[r->ch].open[r->end]) {
			int bits = expected_bits(r) & (r->events | E | H);
			MUST(bits == 0, "watch %d is ready (0x%x), but the "
			     "embedding descriptor reads quiet", r->id, bits);
		}
	}
	MUST(!S.quit_owed, "vev_quit() was called, but the embedding "
	     "descriptor reads quiet");
	/* Quiet, vev_loop_timeout() has only the timer heap to go by. */
	int ms = vev_loop_timeout(S.loop);
	MUST((ms == -1) == (earliest == INT64_MAX), "vev_loop_timeout() = %d "
	     "with %s timer armed, and the embedding descriptor reads quiet",
	     ms, earliest == INT64_MAX ? "no" : "a");
	MUST(ms != 0 || earliest <= now_ns(), "vev_loop_timeout() = 0 before "
	     "any timer can be due, and the descriptor reads quiet");
	if (due == INT64_MAX)
		return true;
	/* The timerfd fires in an interrupt: give it its latency. */
	int64_t left = due + EMBED_LATENCY_MS * 1000000LL - now_ns();
	int wait_ms = left > 0 ? (int)(left / 1000000) + 1 : 0;
	MUST(embed_readable(wait_ms), "timer %d was due %lld us before the "
	     "poll, and the embedding descriptor stayed quiet %d ms more",
	     due_id, (long long)(t0 - due) / 1000, wait_ms);
	trace("embedding descriptor readable after timer %d came due", due_id);
	return false;
}

/* A top-level run with bit 1 of b set, embedded: the host first sleeps in
 * poll(2) with no timeout of its own until the descriptor is readable.  The
 * first timer must wake it by its latest deadline (plus latency).  When
 * nothing can come due that soon the host would sleep until some other
 * source woke it, so the wait is skipped, as it is after the first
 * HOST_SLEEPS of an input (to keep executions fast). */
#define HOST_WAIT_MAX_MS 20
#define HOST_SLEEPS 16

static void embed_host_wait(void)
{
	int64_t soon = INT64_MAX;
	int id = 0;

	if (!embed_check())
		return;
	for (int i = 0; i < S.nrecs; i++) {
		const struct rec *r = &S.recs[i];
		int64_t d = r->armed_ub + (int64_t)r->period * 1000000;
		if (r->live && r->is_timer && r->period > 0 && d < soon) {
			soon = d;
			id = r->id;
		}
	}
	int64_t left = soon - now_ns();
	if (left > HOST_WAIT_MAX_MS * 1000000LL || S.host_sleeps == HOST_SLEEPS)
		return;
	S.host_sleeps++;
	left += EMBED_LATENCY_MS * 1000000LL;
	int ms = left > 0 ? (int)(left / 1000000) + 1 : 0;
	trace("host sleeps in poll for timer %d", id);
	MUST(embed_readable(ms), "the host slept %d ms in poll, past the "
	     "deadline of timer %d, and the embedding descriptor stayed "
	     "quiet", ms, id);
}

static void check_state(bool exact_pending)
{
	int rc = vev_loop_verify(S.loop);
	MUST(rc == 0, "vev_loop_verify() = %d: %s", rc, vev_last_error());
	if (S.depth || S.in_ff)
		return; /* counters move under our feet in a callback */
	if (S.embedded && !S.in_run)
		embed_check();
	MUST(stat_of(VEV_STAT_HANDLES) == (uint64_t)live_count(false),
	     "VEV_STAT_HANDLES %llu, model %d",
	     (unsigned long long)stat_of(VEV_STAT_HANDLES), live_count(false));
	MUST(stat_of(VEV_STAT_TIMERS) == (uint64_t)live_count(true),
	     "VEV_STAT_TIMERS %llu, model %d",
	     (unsigned long long)stat_of(VEV_STAT_TIMERS), live_count(true));
	MUST(stat_of(VEV_STAT_HANDLE_CALLS) == S.handle_calls,
	     "VEV_STAT_HANDLE_CALLS %llu, seen %llu",
	     (unsigned long long)stat_of(VEV_STAT_HANDLE_CALLS),
	     (unsigned long long)S.handle_calls);
	MUST(stat_of(VEV_STAT_TIMER_CALLS) == S.timer_calls,
	     "VEV_STAT_TIMER_CALLS %llu, seen %llu",
	     (unsigned long long)stat_of(VEV_STAT_TIMER_CALLS),
	     (unsigned long long)S.timer_calls);
	MUST(stat_of(VEV_STAT_FREE_CALLS) == S.free_calls,
	     "VEV_STAT_FREE_CALLS %llu, seen %llu",
	     (unsigned long long)stat_of(VEV_STAT_FREE_CALLS),
	     (unsigned long long)S.free_calls);
	MUST(stat_of(VEV_STAT_ITERATIONS) == S.iterations,
	     "VEV_STAT_ITERATIONS %llu, model %llu",
	     (unsigned long long)stat_of(VEV_STAT_ITERATIONS),
	     (unsigned long long)S.iterations);
	uint64_t waiting = 0;
	for (int i = 0; i < S.nrecs; i++)
		waiting += S.recs[i].removed && !S.recs[i].ff_null &&
			   S.recs[i].ff_runs == 0;
	uint64_t pending = stat_of(VEV_STAT_PENDING_FREES);
	MUST(pending >= waiting, "VEV_STAT_PENDING_FREES %llu, but %llu free "
	     "callbacks are still due", (unsigned long long)pending,
	     (unsigned long long)waiting);
	if (exact_pending)
		MUST(pending == 0, "VEV_STAT_PENDING_FREES %llu after a full "
		     "purge", (unsigned long long)pending);
}

/* Free callbacks owed by the end of run `run`, or of removals numbered
 * below `seq` (a drain). */
static void check_frees_due(unsigned run, uint64_t seq)
{
	for (int i = 0; i < S.nrecs; i++) {
		struct rec *r = &S.recs[i];
		if (!r->removed || r->ff_null)
			continue;
		if (r->due_run <= run || r->removal_seq < seq)
			MUST(r->ff_runs == 1, "free callback of %s %d (removed "
			     "before run %u) has not run by the end of run %u",
			     r->is_timer ? "timer" : "watch", r->id, r->due_run,
			     run);
	}
}

static void do_run(bool via_vev_run)
{
	bool quiet = S.embedded && embed_check();

	S.run_index++;
	S.iterations++;
	S.snap_taken = false;
	S.ff_mutated = false;
	S.ff_removed = false;
	S.run_calls = 0;
	for (int i = 0; i < S.nrecs; i++) {
		struct rec *r = &S.recs[i];
		r->in_snap = r->fired = r->touched = false;
	}
	trace("run %u%s%s", S.run_index, via_vev_run ? " (quit + vev_run)" : "",
	      quiet && !via_vev_run ? ", descriptor quiet" : "");
	S.run_start_ns = now_ns();
	/* The iteration consumes the wake-up of earlier vev_quit() calls. */
	S.quit_owed = false;
	int rc;
	if (via_vev_run) {
		MUST(vev_quit(S.loop) == 0, "vev_quit failed");
		MUST(!S.embedded || embed_readable(0), "vev_quit() left the "
		     "embedding descriptor quiet");
		S.in_run = true;
		rc = vev_run(S.loop);
	} else {
		S.quiet_run = quiet;
		S.quiet_seq = S.removal_seq;
		S.in_run = true;
		rc = vev_run_once(S.loop, VEV_NO_WAIT);
	}
	S.in_run = false;
	S.quiet_run = false;
	if (via_vev_run)
		MUST(rc == 0, "vev_run() after vev_quit() returned %d", rc);
	else
		MUST(rc == (int)S.run_calls, "vev_run_once() returned %d, %u "
		     "callbacks ran", rc, S.run_calls);
	if (!S.snap_taken)
		take_snapshot();
	if (!S.ff_mutated && !reuse_tolerated()) {
		for (int i = 0; i < S.nrecs; i++) {
			struct rec *r = &S.recs[i];
			if (!r->in_snap || r->touched || r->fired)
				continue;
			if (r->is_timer) {
				MUST(!r->snap_zero, "0 timer %d did not fire "
				     "in run %u", r->id, S.run_index);
				/* Due before the iteration read its clock. */
				int64_t late = S.run_start_ns - r->armed_ub -
					       (int64_t)r->period * 1000000;
				MUST(r->period <= 0 || late < 0, "timer %d "
				     "(period %d ms) was due %lld us before "
				     "run %u and did not fire", r->id,
				     r->period, (long long)late / 1000,
				     S.run_index);
				continue;
			}
			/* A descriptor closed during the dispatch, before the
			 * watch's turn, may drop its pending report: its
			 * number may already name another file. */
			MUST(r->snap_closed || r->snap_bits == 0 ||
			     !S.chans[r->ch].open[r->end],
			     "watch %d (events 0x%x, ready 0x%x) did not fire "
			     "in run %u", r->id, r->events, r->snap_bits,
			     S.run_index);
		}
	}
	check_frees_due(S.run_index, 0);
	check_state(!S.ff_removed);
}

static void do_drain(void)
{
	uint64_t seq = S.removal_seq + 1;
	S.ff_removed = false;
	S.drain_ffs = 0;
	S.in_drain = true;
	int rc = vev_loop_drain(S.loop);
	S.in_drain = false;
	trace("drain = %d", rc);
	MUST(rc == (int)S.drain_ffs, "vev_loop_drain() returned %d, %u free "
	     "callbacks ran", rc, S.drain_ffs);
	check_frees_due(0, seq);
	check_state(!S.ff_removed);
}

static void op_bad(uint8_t a, struct rec *self)
{
	bool nested = S.depth || S.in_ff;
	uint64_t v;
	int rc, want;
	const char *what;

	switch (a % 12) {
	case 0: {
		int ch = sel_chan(SEL_SELF, self);
		int fd = ch >= 0 && S.chans[ch].open[0] ? S.chans[ch].fd[0] :
							  BAD_FD;
		what = "add_handle(cb NULL)";
		rc = vev_add_handle(S.loop, fd, R, NULL, NULL, free_cb);
		want = fd == BAD_FD ? -EBADF : -EINVAL;
		if (fd == BAD_FD && rc == -EINVAL)
			want = -EINVAL; /* either check may come first */
		break;
	}
	case 1:
		what = "add_timer(cb NULL)";
		rc = vev_add_timer(S.loop, 0, NULL, NULL, free_cb);
		want = -EINVAL;
		break;
	case 2:
		what = "add_handle(fd -1)";
		rc = vev_add_handle(S.loop, -1, R, handle_cb, NULL, free_cb);
		want = -EBADF;
		break;
	case 3:
		what = "add_handle(closed fd)";
		rc = vev_add_handle(S.loop, BAD_FD, R, handle_cb, NULL,
				    free_cb);
		want = -EBADF;
		break;
	case 4:
		what = "update_handle(0)";
		rc = vev_update_handle(S.loop, 0, R);
		want = -ENOENT;
		break;
	case 5:
		what = "update_timer(-1)";
		rc = vev_update_timer(S.loop, -1, 0);
		want = -ENOENT;
		break;
	case 6:
		what = "remove_handle(INT_MAX)";
		rc = vev_remove_handle(S.loop, INT_MAX);
		want = -ENOENT;
		break;
	case 7:
		what = "remove_timer(next id)";
		rc = vev_remove_timer(S.loop, S.next_tid);
		want = -ENOENT;
		break;
	case 8:
		what = "stat(unknown)";
		rc = vev_loop_stat(S.loop, VEV_STAT_COUNT_, &v);
		want = -EINVAL;
		break;
	case 9:
		what = "stop_thread";
		rc = vev_loop_stop_thread(S.loop);
		want = -ESRCH;
		break;
	case 10:
		if (nested) {
			what = "loop_free from a callback";
			rc = vev_loop_free(S.loop);
			want = -EBUSY;
		} else {
			what = "verify(NULL)";
			rc = vev_loop_verify(NULL);
			want = -EINVAL;
		}
		break;
	default:
		if (nested) {
			what = "start_thread from a callback";
			rc = vev_loop_start_thread(S.loop);
			want = -EBUSY;
		} else {
			what = "update_handle(NULL loop)";
			rc = vev_update_handle(NULL, 1, R);
			want = -EINVAL;
		}
		break;
	}
	trace("%s = %d", what, rc);
	MUST(rc == want, "%s returned %d, expected %d", what, rc, want);
	MUST(vev_last_error()[0] != '\0', "%s failed without a message", what);
}

static void exec_op(uint8_t op, uint8_t a, uint8_t b, struct rec *self,
		    const struct action *act)
{
	bool nested = S.depth || S.in_ff;
	int rc;

	switch (op % OP_COUNT_) {
	case OP_NEW_CHANNEL:
		new_chan(a);
		break;
	case OP_ADD_HANDLE:
		op_add_handle(a, b, self, act);
		break;
	case OP_ADD_TIMER:
		op_add_timer(a, b, act);
		break;
	case OP_UPDATE_HANDLE:
		op_update_handle(a, b, self);
		break;
	case OP_UPDATE_TIMER:
		op_update_timer(a, b, self);
		break;
	case OP_REMOVE_HANDLE:
		op_remove(false, a, self);
		break;
	case OP_REMOVE_TIMER:
		op_remove(true, a, self);
		break;
	case OP_WRITE:
		op_write(a, b, self);
		break;
	case OP_READ:
		op_read(a, b, self);
		break;
	case OP_CLOSE:
		op_close(a, b, self);
		break;
	case OP_RUN:
	case OP_RUN2:
		if (nested) {
			rc = b & 1 ? vev_run(S.loop) :
				     vev_run_once(S.loop, VEV_NO_WAIT);
			trace("%s from a callback = %d",
			      b & 1 ? "vev_run" : "vev_run_once", rc);
			MUST(rc == -EBUSY, "running the loop from its own "
			     "callback returned %d, expected -EBUSY", rc);
		} else {
			if (S.embedded && (b & 2))
				embed_host_wait();
			for (int i = 0; i <= a % 3; i++)
				do_run(false);
		}
		break;
	case OP_DRAIN:
		if (nested) {
			rc = vev_loop_drain(S.loop);
			trace("drain from a callback = %d", rc);
			MUST(rc == -EBUSY, "drain from a callback returned %d, "
			     "expected -EBUSY", rc);
		} else {
			do_drain();
		}
		break;
	case OP_QUIT_RUN:
		if (nested) {
			trace("quit");
			MUST(vev_quit(S.loop) == 0, "vev_quit failed");
			/* (One from a free callback before the collection is
			 * consumed by the iteration that runs it.) */
			if (!S.in_ff)
				S.quit_owed = true;
		} else {
			do_run(true);
		}
		break;
	case OP_CHECK:
		check_state(false);
		break;
	case OP_BAD:
		op_bad(a, self);
		break;
	}
}

/* ---- one input ------------------------------------------------------------ */

static void scan_fds(bool *open_now)
{
	for (int fd = 0; fd < FD_SCAN; fd++)
		open_now[fd] = fcntl(fd, F_GETFD) >= 0;
}

static void finish(unsigned mode)
{
	S.finishing = true;
	if (mode == 1) {
		/* vev_loop_free() removes what is left and runs every free
		 * callback still owed, on this thread. */
		for (int i = 0; i < S.nrecs; i++) {
			struct rec *r = &S.recs[i];
			if (r->live) {
				r->live = false;
				r->removed = r->removed_by_free = true;
			}
		}
		trace("loop_free with everything in place");
		S.in_free = true;
		int rc = vev_loop_free(S.loop);
		S.in_free = false;
		MUST(rc == 0, "vev_loop_free() = %d", rc);
		S.loop = NULL;
	} else {
		for (int i = 0; i < S.nrecs; i++) {
			struct rec *r = &S.recs[i];
			if (r->live)
				op_remove(r->is_timer, SEL_SELF, r);
		}
		if (mode == 2)
			do_drain();
		else
			do_run(false);
		MUST(S.run_calls == 0 || mode == 2, "callbacks ran after "
		     "everything was removed");
		check_state(true);
		MUST(stat_of(VEV_STAT_HANDLES) == 0 &&
		     stat_of(VEV_STAT_TIMERS) == 0, "loop not empty");
		trace("loop_free");
		S.in_free = true;
		int rc = vev_loop_free(S.loop);
		S.in_free = false;
		MUST(rc == 0, "vev_loop_free() = %d", rc);
		S.loop = NULL;
	}
	for (int i = 0; i < S.nrecs; i++) {
		struct rec *r = &S.recs[i];
		MUST(r->removed, "record %d not removed", i);
		if (!r->ff_null)
			MUST(r->ff_runs == 1, "free callback of %s %d ran %d "
			     "times", r->is_timer ? "timer" : "watch", r->id,
			     r->ff_runs);
	}
	for (int i = 0; i < S.nchans; i++)
		for (int e = 0; e < 2; e++)
			if (S.chans[i].open[e])
				close(S.chans[i].fd[e]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool initialized;
	static bool open_after[FD_SCAN];

	if (!initialized) {
		initialized = true;
		signal(SIGPIPE, SIG_IGN);
		trace_live = getenv("VEVENT_FUZZ_TRACE") != NULL;
		const char *l = getenv("VEVENT_FUZZ_LENIENT");
		lenient_reuse = l && strstr(l, "reuse");
		const char *e = getenv("VEVENT_FUZZ_EMBED");
		if (e && *e)
			force_embed = strcmp(e, "0") != 0;
	}
	if (size == 0)
		return 0;
	memset(&S, 0, sizeof(S));
	trace_n = 0;
	S.in = data;
	S.in_len = size;
	S.next_hid = S.next_tid = 1;
	scan_fds(fd_open_before);

	uint8_t cfg = in_u8();
	const char *env = getenv("VEVENT_BACKEND");
	unsigned flags = env && *env ? VEV_LOOP_AUTO :
			 cfg & 1         ? VEV_LOOP_POLL :
					   VEV_LOOP_EPOLL;
	int rc = vev_loop_new(&S.loop, flags);
	MUST(rc == 0, "vev_loop_new: %d", rc);
	if (force_embed >= 0 ? force_embed : (cfg >> 3) & 1) {
		S.efd = vev_loop_fd(S.loop);
		S.embedded = S.efd >= 0;
		if (strcmp(vev_loop_backend(S.loop), "poll") == 0)
			MUST(S.efd == -ENOTSUP, "vev_loop_fd() on the poll "
			     "backend returned %d, expected -ENOTSUP", S.efd);
		else
			MUST(S.efd >= 0, "vev_loop_fd() = %d: %s", S.efd,
			     vev_last_error());
	}
	trace("loop (%s%s), ending %u", vev_loop_backend(S.loop),
	      S.embedded ? ", embedded" : "", (cfg >> 1) & 3);

	for (int steps = 0; S.in_pos < S.in_len && steps < MAX_STEPS; steps++) {
		uint8_t op = in_u8(), a = in_u8(), b = in_u8();
		struct action act = { ACT_NONE, 0, 0, 0, false };
		if (op % OP_COUNT_ == OP_ADD_HANDLE ||
		    op % OP_COUNT_ == OP_ADD_TIMER) {
			uint8_t where = in_u8();
			act.where = where % 5 == 4 ? ACT_NONE :
						     (enum where)(where % 5);
			act.op = in_u8();
			act.a = in_u8();
			act.b = in_u8();
		}
		exec_op(op, a, b, NULL, &act);
		check_state(false);
	}
	finish((cfg >> 1) & 3);

	scan_fds(open_after);
	for (int fd = 0; fd < FD_SCAN; fd++)
		MUST(open_after[fd] == fd_open_before[fd], "descriptor %d %s "
		     "by the input", fd, open_after[fd] ? "leaked" : "closed");
	return 0;
}
