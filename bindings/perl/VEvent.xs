/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * VEvent: the Sys::Virt::Event contract on vevent-compat.
 *
 * Two crossings between C and Perl live here:
 *  - Perl subs registered with add_handle()/add_timeout() travel through C
 *    as the opaque pointer of a C callback that calls them inside an eval;
 *    the free callback drops the one reference C holds, so a closure and
 *    what it captured are released exactly when the loop releases them;
 *  - a Perl implementation registered with register() receives the six
 *    calls through C trampolines, and the C callbacks it is handed travel
 *    through Perl as sealed tokens that only this file can open.
 * This library links vevent-compat and never libvirt: libvirt, which exports
 * virEvent* too, is reached only by VEvent::Libvirt (Libvirt/Libvirt.xs).
 *
 * The interpreter is single-threaded: Perl runs only on the thread that
 * loaded the module.  A C callback that would run Perl on another thread
 * does not (see foreign_thread()).
 */
#define PERL_NO_GET_CONTEXT
#include "EXTERN.h"
#include "perl.h"
#include "XSUB.h"

#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vevent/libvirt-event.h>
#include <vevent/vevent.h>

/* ---- who may run Perl -------------------------------------------------- */

static pthread_t perl_thread;
static PerlInterpreter *perl_interp;

static int on_perl_thread(void)
{
	if (!pthread_equal(pthread_self(), perl_thread))
		return 0;
#ifdef MULTIPLICITY
	if (PERL_GET_CONTEXT != perl_interp)
		return 0;
#endif
	return 1;
}

/* ---- registration state (touched only on the Perl thread) -------------- */

enum vp_mode { VP_NONE, VP_DEFAULT, VP_PERL };
static enum vp_mode mode;
static SV *perl_impl;        /* the registered Perl implementation */
static int helper_running;   /* VEvent::start_thread() runs the default loop */
static IV subs_held;         /* Perl subs that C holds until their ff */
static char impl_error[512]; /* why the Perl implementation refused a call */

/* ---- reporting --------------------------------------------------------- */

/* Warn with msg through VEvent::Event::_report, inside an eval: a
 * $SIG{__WARN__} that dies must not unwind into the C loop. */
static void report(pTHX_ SV *msg)
{
	dSP;
	ENTER;
	SAVETMPS;
	save_scalar(PL_errgv);
	PUSHMARK(SP);
	XPUSHs(msg);
	PUTBACK;
	call_pv("VEvent::Event::_report", G_VOID | G_DISCARD | G_EVAL);
	if (SvTRUE(ERRSV))
		PerlIO_printf(PerlIO_stderr(), "%s", SvPV_nolen(msg));
	FREETMPS;
	LEAVE;
}

/* "what died: $@", ending with a newline so that warn adds no location. */
static SV *died_message(pTHX_ const char *what, SV *err)
{
	SV *msg = newSVpvf("%s died: %" SVf, what, SVfARG(err));
	STRLEN len;
	const char *p = SvPV(msg, len);
	if (len == 0 || p[len - 1] != '\n')
		sv_catpvs(msg, "\n");
	return sv_2mortal(msg);
}

/* A C callback of a Perl sub became due on a thread that cannot run Perl
 * (C code drove vevent-compat's default loop from another thread).  The
 * registration is disabled so that a level-triggered watch does not spin;
 * the Perl side keeps its id and may remove it. */
static void foreign_thread(const char *what, int id)
{
	fprintf(stderr,
		"VEvent: the Perl callback of %s %d became due on a thread that "
		"is not Perl's; it was disabled (Perl callbacks run only on the "
		"thread that calls VEvent::Event::run_default)\n",
		what, id);
}

/* ---- Perl subs as C callbacks ------------------------------------------ */

/* Free callbacks that arrived on another thread, released on the Perl
 * thread at its next call into this module. */
struct deferred_free {
	struct deferred_free *next;
	SV *sub;
};
static pthread_mutex_t deferred_lock = PTHREAD_MUTEX_INITIALIZER;
static struct deferred_free *deferred;

static void release_sub(pTHX_ SV *sub)
{
	subs_held--;
	SvREFCNT_dec(sub);
}

static void flush_deferred(pTHX)
{
	pthread_mutex_lock(&deferred_lock);
	struct deferred_free *list = deferred;
	deferred = NULL;
	pthread_mutex_unlock(&deferred_lock);
	while (list) {
		struct deferred_free *next = list->next;
		release_sub(aTHX_ list->sub);
		free(list);
		list = next;
	}
}

static void sub_free(void *opaque)
{
	SV *sub = opaque;
	if (!on_perl_thread()) {
		struct deferred_free *d = malloc(sizeof(*d));
		if (!d) {
			fprintf(stderr, "VEvent: out of memory: a Perl callback "
					"freed on another thread is leaked\n");
			return;
		}
		d->sub = sub;
		pthread_mutex_lock(&deferred_lock);
		d->next = deferred;
		deferred = d;
		pthread_mutex_unlock(&deferred_lock);
		return;
	}
	dTHX;
	release_sub(aTHX_ sub);
}

static void call_sub(pTHX_ SV *sub, const char *what, int nargs, int a0,
		     int a1, int a2)
{
	dSP;
	ENTER;
	SAVETMPS;
	save_scalar(PL_errgv); /* the caller's $@ survives our eval */
	PUSHMARK(SP);
	EXTEND(SP, nargs);
	mPUSHi(a0);
	if (nargs > 1) {
		mPUSHi(a1);
		mPUSHi(a2);
	}
	PUTBACK;
	call_sv(sub, G_VOID | G_DISCARD | G_EVAL);
	if (SvTRUE(ERRSV)) {
		char buf[64];
		snprintf(buf, sizeof(buf), "VEvent: callback of %s %d", what, a0);
		report(aTHX_ died_message(aTHX_ buf, ERRSV));
	}
	FREETMPS;
	LEAVE;
}

static void sub_handle_cb(int watch, int fd, int events, void *opaque)
{
	if (!on_perl_thread()) {
		foreign_thread("watch", watch);
		virEventUpdateHandle(watch, 0);
		return;
	}
	dTHX;
	call_sub(aTHX_ (SV *)opaque, "watch", 3, watch, fd, events);
}

static void sub_timeout_cb(int timer, void *opaque)
{
	if (!on_perl_thread()) {
		foreign_thread("timer", timer);
		virEventUpdateTimeout(timer, -1);
		return;
	}
	dTHX;
	call_sub(aTHX_ (SV *)opaque, "timer", 1, timer, 0, 0);
}

/* ---- C callbacks as sealed Perl tokens --------------------------------- */

/* One registration made through a Perl implementation: what C passed to
 * add_handle/add_timeout.  The three tokens handed to Perl ($cb, $opaque,
 * $ff) each hold a reference; the record goes with the last one. */
struct vp_reg {
	int refs;
	int is_timer;
	int id;     /* what the implementation returned */
	int failed; /* the add failed: the callbacks must never run */
	int freed;  /* the free callback ran */
	virEventHandleCallback handle_cb;
	virEventTimeoutCallback timeout_cb;
	void *opaque;
	virFreeCallback ff;
};

enum vp_token { TOKEN_CB = 1, TOKEN_OPAQUE, TOKEN_FF };
static const char *const token_class[] = {
	NULL, "VEvent::Event::Callback", "VEvent::Event::Opaque",
	"VEvent::Event::FreeCallback"
};

static void reg_release(pTHX_ struct vp_reg *r)
{
	if (--r->refs > 0)
		return;
	if (!r->failed && !r->freed && r->ff && PL_phase != PERL_PHASE_DESTRUCT)
		PerlIO_printf(PerlIO_stderr(),
			      "VEvent: the event loop implementation dropped %s "
			      "%d without calling _free_callback_opaque: its data "
			      "is leaked\n",
			      r->is_timer ? "timer" : "watch", r->id);
	free(r);
}

static int token_free(pTHX_ SV *sv, MAGIC *mg)
{
	(void)sv;
	reg_release(aTHX_ (struct vp_reg *)mg->mg_ptr);
	return 0;
}

static MGVTBL token_vtbl = { NULL, NULL, NULL, NULL, token_free,
			     NULL, NULL, NULL };

static SV *token_new(pTHX_ struct vp_reg *r, enum vp_token kind)
{
	SV *inner = newSV_type(SVt_PVMG);
	MAGIC *mg = sv_magicext(inner, NULL, PERL_MAGIC_ext, &token_vtbl,
				(const char *)r, 0);
	mg->mg_private = (U16)kind;
	r->refs++;
	return sv_bless(newRV_noinc(inner), gv_stashpv(token_class[kind], GV_ADD));
}

/* The record behind a token of the given kind, or a croak naming the
 * argument: a Perl implementation can pass back only what it was given. */
static struct vp_reg *token_open(pTHX_ SV *sv, enum vp_token kind,
				 const char *fn, const char *arg)
{
	if (SvROK(sv)) {
		MAGIC *mg = mg_findext(SvRV(sv), PERL_MAGIC_ext, &token_vtbl);
		if (mg && mg->mg_private == kind)
			return (struct vp_reg *)mg->mg_ptr;
	}
	croak("%s: %s is not a %s handed to the event loop implementation by "
	      "VEvent", fn, arg, token_class[kind]);
	return NULL;
}

/* ---- numbers from Perl ------------------------------------------------- */

/* Every number these functions take ends up in a C int.  Perl's own
 * conversion (the T_IV typemap) would silently wrap 2**32+1 to 1, cut 1.5
 * to 1 and turn "abc" or undef into 0, so that a call acts on another watch
 * or timer, or with another period, than the one asked for.  Only an exact
 * integer in range is accepted: a number, or a string that reads as one. */

/* Stores sv's value in *out and returns 0 if it is an integer from min to
 * max; -1 otherwise.  Get magic must already have run. */
static int sv_int_in(pTHX_ SV *sv, IV min, IV max, int *out)
{
	if (!SvOK(sv) || SvROK(sv))
		return -1;
	int exact = SvIOK(sv);
	if (!exact && !SvNOK(sv)) {
		if (!SvPOK(sv) || !looks_like_number(sv))
			return -1;
		exact = SvIV_please_nomg(sv);
	}
	if (exact) {
		if (SvIsUV(sv)) {
			if (SvUV_nomg(sv) > (UV)max)
				return -1;
			*out = (int)SvUV_nomg(sv);
			return 0;
		}
		IV v = SvIV_nomg(sv);
		if (v < min || v > max)
			return -1;
		*out = (int)v;
		return 0;
	}
	/* A float, or a string such as "1.0", "1e3" or "1e99": compared
	 * before any cast, which would be undefined out of range (NaN fails
	 * both comparisons). */
	NV nv = SvNV_nomg(sv);
	if (!(nv >= (NV)min && nv <= (NV)max) || nv != (NV)(IV)nv)
		return -1;
	*out = (int)nv;
	return 0;
}

/* sv as an error message shows it: strings quoted, numbers as Perl prints
 * them (4294967297, 1.5, Inf, NaN). */
static SV *describe_value(pTHX_ SV *sv)
{
	if (!SvOK(sv))
		return sv_2mortal(newSVpvs("undef"));
	if (SvROK(sv)) {
		if (sv_isobject(sv))
			return sv_2mortal(newSVpvf("an object of class %s",
						   sv_reftype(SvRV(sv), 1)));
		const char *type = sv_reftype(SvRV(sv), 0);
		return sv_2mortal(newSVpvf("%s %s reference",
					   type[0] && strchr("AEIOU", type[0]) ?
						   "an" : "a",
					   type));
	}
	SV *copy = sv_2mortal(newSVsv_nomg(sv)); /* sv keeps its flags */
	STRLEN len;
	const char *p = SvPV_nomg(copy, len);
	if (SvPOK(sv) && !SvIOK(sv) && !SvNOK(sv))
		return sv_2mortal(newSVpvf("the string '%.*s'%s",
					   (int)(len > 40 ? 40 : len), p,
					   len > 40 ? "..." : ""));
	return copy;
}

/* The number argument arg of fn as an int from min to max, or a croak that
 * names the argument, the accepted range and what was passed. */
static int arg_int(pTHX_ SV *sv, const char *fn, const char *arg, IV min,
		   IV max)
{
	int v;
	SvGETMAGIC(sv);
	if (sv_int_in(aTHX_ sv, min, max, &v) < 0)
		croak("%s: %s must be an integer from %" IVdf " to %" IVdf
		      ", not %" SVf, fn, arg, min, max,
		      SVfARG(describe_value(aTHX_ sv)));
	return v;
}

/* Ids are positive: 0 and negative values are never ids. */
#define arg_id(sv, fn, arg) arg_int(aTHX_ sv, fn, arg, 1, INT_MAX)
/* Any C int: unknown bits of an event mask are ignored, and every negative
 * period means "disabled". */
#define arg_any_int(sv, fn, arg) arg_int(aTHX_ sv, fn, arg, INT_MIN, INT_MAX)

static int sv_to_fd(pTHX_ SV *sv, const char *fn)
{
	SvGETMAGIC(sv);
	if ((SvROK(sv) && (SvTYPE(SvRV(sv)) == SVt_PVGV ||
			   SvTYPE(SvRV(sv)) == SVt_PVIO)) ||
	    isGV_with_GP(sv)) {
		IO *io = sv_2io(sv); /* croaks if the glob has no handle */
		PerlIO *fp = IoIFP(io);
		int fd = fp ? PerlIO_fileno(fp) : -1;
		if (fd < 0)
			croak("%s: the file handle is not open", fn);
		return fd;
	}
	int fd;
	if (sv_int_in(aTHX_ sv, 0, INT_MAX, &fd) < 0)
		croak("%s: the file descriptor must be a number or a file "
		      "handle, and a number an integer from 0 to %d, not %" SVf,
		      fn, INT_MAX, SVfARG(describe_value(aTHX_ sv)));
	return fd;
}

/* ---- the six functions for a Perl implementation ----------------------- */

static void probe_timer(int timer, void *opaque)
{
	(void)timer;
	(void)opaque;
}
static int probe_seen;

static int impl_usable(const char *fn)
{
	if (!on_perl_thread()) {
		fprintf(stderr, "VEvent: %s was called on a thread that is not "
				"Perl's: a Perl event loop implementation serves "
				"only calls made on the Perl thread\n", fn);
		return 0;
	}
	dTHX;
	/* Objects may already be gone while the interpreter is destroyed. */
	return PL_phase != PERL_PHASE_DESTRUCT && perl_impl != NULL;
}

/* What call_impl() expects back: nothing, a new id, or 0 for success. */
enum impl_result { RESULT_NONE, RESULT_ID, RESULT_STATUS };

/* $impl->method(args) inside an eval, in the caller's ENTER/SAVETMPS
 * scope.  Returns the result as an int (0 for RESULT_NONE), or -1 when the
 * method died, returned a negative number, or returned something that is
 * not an integer in range (an id must be positive); impl_error then says
 * why, and a death was also reported. */
static int call_impl(pTHX_ const char *method, SV **args, int nargs,
		     enum impl_result want)
{
	dSP;
	save_scalar(PL_errgv);
	PUSHMARK(SP);
	EXTEND(SP, nargs + 1);
	PUSHs(perl_impl);
	for (int i = 0; i < nargs; i++)
		PUSHs(args[i]);
	PUTBACK;
	int count = call_method(method, (want != RESULT_NONE ? G_SCALAR :
					 G_VOID) | G_EVAL);
	SPAGAIN;
	SV *result = count > 0 ? POPs : &PL_sv_undef;
	SP -= count > 1 ? count - 1 : 0;
	PUTBACK;
	const char *cls = sv_reftype(SvRV(perl_impl), 1);
	if (SvTRUE(ERRSV)) {
		char what[256];
		snprintf(what, sizeof(what), "%s->%s", cls, method);
		SV *msg = died_message(aTHX_ what, ERRSV);
		my_strlcpy(impl_error, SvPV_nolen(msg), sizeof(impl_error));
		report(aTHX_ msg);
		return -1;
	}
	if (want == RESULT_NONE)
		return 0;
	/* Checked like the arguments of VEvent::Event's functions: an id of
	 * 2**32+1 must not become watch 1 for C. */
	int v;
	SvGETMAGIC(result);
	if (sv_int_in(aTHX_ result, INT_MIN, INT_MAX, &v) < 0 ||
	    (want == RESULT_ID && v == 0)) {
		const char *shown = SvPV_nolen(describe_value(aTHX_ result));
		if (want == RESULT_ID)
			snprintf(impl_error, sizeof(impl_error),
				 "%s->%s returned %s, not an id (an integer "
				 "from 1 to %d) or -1", cls, method, shown,
				 INT_MAX);
		else
			snprintf(impl_error, sizeof(impl_error),
				 "%s->%s returned %s, not 0 or -1", cls, method,
				 shown);
		return -1;
	}
	if (v < 0) {
		snprintf(impl_error, sizeof(impl_error), "%s->%s returned %d",
			 cls, method, v);
		return -1;
	}
	return v;
}

static struct vp_reg *reg_new(void)
{
	struct vp_reg *r = calloc(1, sizeof(*r));
	if (r)
		r->refs = 1; /* the trampoline's own hold */
	return r;
}

static int impl_add(int is_timer, int fd, int events, int timeout,
		    virEventHandleCallback hcb, virEventTimeoutCallback tcb,
		    void *opaque, virFreeCallback ff)
{
	dTHX;
	struct vp_reg *r = reg_new();
	if (!r) {
		snprintf(impl_error, sizeof(impl_error), "out of memory");
		return -1;
	}
	r->is_timer = is_timer;
	r->handle_cb = hcb;
	r->timeout_cb = tcb;
	r->opaque = opaque;
	r->ff = ff;

	ENTER;
	SAVETMPS;
	SV *args[5];
	int n = 0;
	if (is_timer) {
		args[n++] = sv_2mortal(newSViv(timeout));
	} else {
		args[n++] = sv_2mortal(newSViv(fd));
		args[n++] = sv_2mortal(newSViv(events));
	}
	args[n++] = sv_2mortal(token_new(aTHX_ r, TOKEN_CB));
	args[n++] = sv_2mortal(token_new(aTHX_ r, TOKEN_OPAQUE));
	args[n++] = sv_2mortal(token_new(aTHX_ r, TOKEN_FF));
	int id = call_impl(aTHX_ is_timer ? "add_timeout" : "add_handle", args,
			   n, RESULT_ID);
	if (id < 0)
		r->failed = 1; /* libvirt's rule: no ff after a failed add */
	else
		r->id = id;
	reg_release(aTHX_ r);
	FREETMPS;
	LEAVE;
	return id;
}

static int impl_add_handle(int fd, int events, virEventHandleCallback cb,
			   void *opaque, virFreeCallback ff)
{
	if (!impl_usable("virEventAddHandle"))
		return -1;
	return impl_add(0, fd, events, 0, cb, NULL, opaque, ff);
}

static int impl_add_timeout(int timeout, virEventTimeoutCallback cb,
			    void *opaque, virFreeCallback ff)
{
	if (cb == probe_timer) { /* register()'s check; never reaches Perl */
		probe_seen = 1;
		return 0;
	}
	if (!impl_usable("virEventAddTimeout"))
		return -1;
	return impl_add(1, -1, 0, timeout, NULL, cb, opaque, ff);
}

static int impl_call2(const char *method, int a, int b, int nargs,
		      enum impl_result want)
{
	dTHX;
	ENTER;
	SAVETMPS;
	SV *args[2] = { sv_2mortal(newSViv(a)), sv_2mortal(newSViv(b)) };
	int rc = call_impl(aTHX_ method, args, nargs, want);
	FREETMPS;
	LEAVE;
	return rc;
}

static void impl_update_handle(int watch, int events)
{
	if (impl_usable("virEventUpdateHandle"))
		impl_call2("update_handle", watch, events, 2, RESULT_NONE);
}

static int impl_remove_handle(int watch)
{
	if (!impl_usable("virEventRemoveHandle"))
		return -1;
	return impl_call2("remove_handle", watch, 0, 1, RESULT_STATUS) < 0 ?
		       -1 : 0;
}

static void impl_update_timeout(int timer, int timeout)
{
	if (impl_usable("virEventUpdateTimeout"))
		impl_call2("update_timeout", timer, timeout, 2, RESULT_NONE);
}

static int impl_remove_timeout(int timer)
{
	if (!impl_usable("virEventRemoveTimeout"))
		return -1;
	return impl_call2("remove_timeout", timer, 0, 1, RESULT_STATUS) < 0 ?
		       -1 : 0;
}

/* ---- helpers for the XSUBs --------------------------------------------- */

/* Whether vevent-compat already answers: a disabled timer added and removed
 * at once through whatever implementation is registered. */
static int compat_has_impl(void)
{
	probe_seen = 0;
	int t = virEventAddTimeout(-1, probe_timer, NULL, NULL);
	if (probe_seen)
		return 1;
	if (t >= 0) {
		virEventRemoveTimeout(t);
		return 1;
	}
	return 0;
}

/* The reason a call through vevent-compat failed. */
static const char *why_failed(void)
{
	if (mode == VP_PERL && impl_error[0])
		return impl_error;
	return vev_compat_last_error();
}

static SV *code_ref(pTHX_ SV *sv, const char *fn)
{
	SvGETMAGIC(sv);
	if (!SvROK(sv) || SvTYPE(SvRV(sv)) != SVt_PVCV)
		croak("%s: the callback must be a code reference", fn);
	return newSVsv(sv);
}

static void refuse_during_thread(pTHX_ const char *fn)
{
	if (helper_running)
		croak("%s: vevent's loop runs on its background thread "
		      "(VEvent::start_thread), where Perl code cannot run; call "
		      "VEvent::stop_thread first and drive the loop with "
		      "run_default()", fn);
}

static vev_loop *default_loop(pTHX_ const char *fn)
{
	vev_loop *loop = vev_compat_default_loop();
	if (!loop)
		croak("%s: vevent's default implementation is not registered%s",
		      fn, mode == VP_PERL ? " (a Perl implementation is)" :
		      " (call VEvent::Event::register_default first)");
	return loop;
}

/* ---- a C client of vevent-compat, for the tests ------------------------ */

/* What C code in the process sees when it uses vevent-compat: callbacks
 * that count, and free callbacks that count. */
static struct {
	IV handle_calls, timeout_calls, frees, last_events, last_fd, last_id;
} cclient;

static void cclient_handle(int watch, int fd, int events, void *opaque)
{
	(void)opaque;
	cclient.handle_calls++;
	cclient.last_id = watch;
	cclient.last_fd = fd;
	cclient.last_events = events;
}

static void cclient_timeout(int timer, void *opaque)
{
	(void)opaque;
	cclient.timeout_calls++;
	cclient.last_id = timer;
}

static void cclient_free(void *opaque)
{
	(void)opaque;
	cclient.frees++;
}

static int cclient_token;

/* C code running one iteration of the default loop on a thread of its own,
 * as a C library of the process could. */
static void *cclient_iteration(void *loop)
{
	intptr_t rc = vev_run_once(loop, 1000);
	return (void *)rc;
}

#define HV_STORE_IV(hv, key, v) \
	(void)hv_stores(hv, key, newSViv((IV)(v)))

MODULE = VEvent		PACKAGE = VEvent::Event

PROTOTYPES: DISABLE

BOOT:
{
	HV *stash = gv_stashpv("VEvent::Event", GV_ADD);
	perl_thread = pthread_self();
	perl_interp = aTHX;
	newCONSTSUB(stash, "HANDLE_READABLE", newSViv(VIR_EVENT_HANDLE_READABLE));
	newCONSTSUB(stash, "HANDLE_WRITABLE", newSViv(VIR_EVENT_HANDLE_WRITABLE));
	newCONSTSUB(stash, "HANDLE_ERROR", newSViv(VIR_EVENT_HANDLE_ERROR));
	newCONSTSUB(stash, "HANDLE_HANGUP", newSViv(VIR_EVENT_HANDLE_HANGUP));
}

void
register_default()
PPCODE:
	if (!on_perl_thread())
		croak("VEvent::Event::register_default: only the Perl thread "
		      "that loaded VEvent may use it");
	if (virEventRegisterDefaultImpl() < 0)
		croak("VEvent::Event::register_default: %s",
		      vev_compat_last_error());
	mode = VP_DEFAULT;
	XSRETURN_YES;

void
run_default()
PPCODE:
	if (!on_perl_thread())
		croak("VEvent::Event::run_default: only the Perl thread that "
		      "loaded VEvent may use it");
	refuse_during_thread(aTHX_ "VEvent::Event::run_default");
	flush_deferred(aTHX);
	int rc = virEventRunDefaultImpl();
	flush_deferred(aTHX);
	if (rc < 0)
		croak("VEvent::Event::run_default: %s", vev_compat_last_error());
	XSRETURN_YES;

int
add_handle(fd, events, cb)
	SV *fd
	SV *events
	SV *cb
PREINIT:
	const char *fn = "VEvent::Event::add_handle";
CODE:
	int fdnum = sv_to_fd(aTHX_ fd, fn);
	int mask = arg_any_int(events, fn, "$events");
	refuse_during_thread(aTHX_ fn);
	SV *sub = code_ref(aTHX_ cb, fn);
	flush_deferred(aTHX);
	impl_error[0] = '\0';
	subs_held++;
	RETVAL = virEventAddHandle(fdnum, mask, sub_handle_cb, sub, sub_free);
	if (RETVAL < 0) {
		release_sub(aTHX_ sub);
		croak("%s: %s", fn, why_failed());
	}
OUTPUT:
	RETVAL

void
update_handle(watch, events)
	SV *watch
	SV *events
PREINIT:
	const char *fn = "VEvent::Event::update_handle";
PPCODE:
	/* As in libvirt, updating an unknown watch (0 and negative numbers
	 * included) does nothing; only a number that is no C int dies. */
	int id = arg_any_int(watch, fn, "$watch");
	int mask = arg_any_int(events, fn, "$events");
	flush_deferred(aTHX);
	virEventUpdateHandle(id, mask);

void
remove_handle(watch)
	SV *watch
PREINIT:
	const char *fn = "VEvent::Event::remove_handle";
PPCODE:
	int id = arg_id(watch, fn, "$watch");
	flush_deferred(aTHX);
	impl_error[0] = '\0';
	if (virEventRemoveHandle(id) < 0)
		croak("%s: %s", fn, why_failed());
	XSRETURN_YES;

int
add_timeout(frequency, cb)
	SV *frequency
	SV *cb
PREINIT:
	const char *fn = "VEvent::Event::add_timeout";
CODE:
	int ms = arg_any_int(frequency, fn, "$frequency");
	refuse_during_thread(aTHX_ fn);
	SV *sub = code_ref(aTHX_ cb, fn);
	flush_deferred(aTHX);
	impl_error[0] = '\0';
	subs_held++;
	RETVAL = virEventAddTimeout(ms, sub_timeout_cb, sub, sub_free);
	if (RETVAL < 0) {
		release_sub(aTHX_ sub);
		croak("%s: %s", fn, why_failed());
	}
OUTPUT:
	RETVAL

void
update_timeout(timer, frequency)
	SV *timer
	SV *frequency
PREINIT:
	const char *fn = "VEvent::Event::update_timeout";
PPCODE:
	int id = arg_any_int(timer, fn, "$timer");
	int ms = arg_any_int(frequency, fn, "$frequency");
	flush_deferred(aTHX);
	virEventUpdateTimeout(id, ms);

void
remove_timeout(timer)
	SV *timer
PREINIT:
	const char *fn = "VEvent::Event::remove_timeout";
PPCODE:
	int id = arg_id(timer, fn, "$timer");
	flush_deferred(aTHX);
	impl_error[0] = '\0';
	if (virEventRemoveTimeout(id) < 0)
		croak("%s: %s", fn, why_failed());
	XSRETURN_YES;

void
_register_impl(impl)
	SV *impl
PREINIT:
	const char *fn = "VEvent::Event::register";
PPCODE:
	if (!on_perl_thread())
		croak("%s: only the Perl thread that loaded VEvent may use it", fn);
	if (mode == VP_PERL)
		croak("%s: a Perl implementation (%s) is already registered; "
		      "the first registration lasts for the life of the process",
		      fn, sv_reftype(SvRV(perl_impl), 1));
	if (vev_compat_default_loop())
		croak("%s: vevent's default implementation is already "
		      "registered; the first registration lasts for the life of "
		      "the process", fn);
	if (compat_has_impl())
		croak("%s: C code in this process already registered an event "
		      "loop implementation with virEventRegisterImpl", fn);
	perl_impl = newSVsv(impl);
	mode = VP_PERL;
	virEventRegisterImpl(impl_add_handle, impl_update_handle,
			     impl_remove_handle, impl_add_timeout,
			     impl_update_timeout, impl_remove_timeout);
	if (!compat_has_impl() || !probe_seen) {
		SvREFCNT_dec(perl_impl);
		perl_impl = NULL;
		mode = VP_NONE;
		croak("%s: vevent-compat ignored the registration: another "
		      "implementation was registered meanwhile", fn);
	}
	XSRETURN_YES;

void
_run_handle_callback_helper(watch, fd, events, cb, opaque)
	SV *watch
	SV *fd
	SV *events
	SV *cb
	SV *opaque
PREINIT:
	const char *fn = "_run_handle_callback";
PPCODE:
	int id = arg_id(watch, fn, "$watch");
	int fdnum = arg_any_int(fd, fn, "$fd");
	int mask = arg_any_int(events, fn, "$events");
	struct vp_reg *r = token_open(aTHX_ cb, TOKEN_CB, fn, "$cb");
	if (token_open(aTHX_ opaque, TOKEN_OPAQUE, fn, "$opaque") != r)
		croak("%s: $cb and $opaque come from different registrations", fn);
	if (r->is_timer)
		croak("%s: $cb is a timeout callback", fn);
	if (r->failed)
		croak("%s: the add_handle call that made $cb failed", fn);
	if (r->freed)
		croak("%s: watch %d was already freed (_free_callback_opaque)",
		      fn, r->id);
	r->refs++; /* the callback may make the implementation drop it */
	r->handle_cb(id, fdnum, mask, r->opaque);
	reg_release(aTHX_ r);
	XSRETURN_EMPTY;

void
_run_timeout_callback_helper(timer, cb, opaque)
	SV *timer
	SV *cb
	SV *opaque
PREINIT:
	const char *fn = "_run_timeout_callback";
PPCODE:
	int id = arg_id(timer, fn, "$timer");
	struct vp_reg *r = token_open(aTHX_ cb, TOKEN_CB, fn, "$cb");
	if (token_open(aTHX_ opaque, TOKEN_OPAQUE, fn, "$opaque") != r)
		croak("%s: $cb and $opaque come from different registrations", fn);
	if (!r->is_timer)
		croak("%s: $cb is a handle callback", fn);
	if (r->failed)
		croak("%s: the add_timeout call that made $cb failed", fn);
	if (r->freed)
		croak("%s: timer %d was already freed (_free_callback_opaque)",
		      fn, r->id);
	r->refs++;
	r->timeout_cb(id, r->opaque);
	reg_release(aTHX_ r);
	XSRETURN_EMPTY;

void
_free_callback_opaque_helper(ff, opaque)
	SV *ff
	SV *opaque
PREINIT:
	const char *fn = "_free_callback_opaque";
PPCODE:
	struct vp_reg *r = token_open(aTHX_ ff, TOKEN_FF, fn, "$ff");
	if (token_open(aTHX_ opaque, TOKEN_OPAQUE, fn, "$opaque") != r)
		croak("%s: $ff and $opaque come from different registrations", fn);
	if (r->failed)
		croak("%s: the add call that made $ff failed; there is nothing "
		      "to free", fn);
	if (r->freed) {
		report(aTHX_ sv_2mortal(newSVpvf(
			"VEvent: %s: the free callback of %s %d already ran; "
			"ignored\n", fn, r->is_timer ? "timer" : "watch", r->id)));
		XSRETURN_EMPTY;
	}
	r->freed = 1;
	if (r->ff) {
		r->refs++;
		r->ff(r->opaque);
		reg_release(aTHX_ r);
	}
	XSRETURN_EMPTY;

void
_report_fallback(msg)
	SV *msg
PPCODE:
	PerlIO_printf(PerlIO_stderr(), "%s", SvPV_nolen(msg));

const char *
_mode()
CODE:
	RETVAL = mode == VP_DEFAULT ? "default" : mode == VP_PERL ? "perl" :
		 vev_compat_default_loop() ? "default" :
		 compat_has_impl() ? "foreign" : "none";
OUTPUT:
	RETVAL

UV
_default_loop_address()
CODE:
	RETVAL = PTR2UV(vev_compat_default_loop());
OUTPUT:
	RETVAL

void
_trampoline_addresses()
PPCODE:
	/* For VEvent::Libvirt, which registers the same six functions with
	 * the real libvirt when a Perl implementation is registered. */
	if (mode != VP_PERL)
		croak("VEvent::Event::_trampoline_addresses: no Perl "
		      "implementation is registered");
	EXTEND(SP, 6);
	mPUSHu(PTR2UV(impl_add_handle));
	mPUSHu(PTR2UV(impl_update_handle));
	mPUSHu(PTR2UV(impl_remove_handle));
	mPUSHu(PTR2UV(impl_add_timeout));
	mPUSHu(PTR2UV(impl_update_timeout));
	mPUSHu(PTR2UV(impl_remove_timeout));

IV
_subs_held()
CODE:
	flush_deferred(aTHX);
	RETVAL = subs_held;
OUTPUT:
	RETVAL

MODULE = VEvent		PACKAGE = VEvent

const char *
version()
CODE:
	RETVAL = vev_version();
OUTPUT:
	RETVAL

void
start_thread()
PREINIT:
	const char *fn = "VEvent::start_thread";
PPCODE:
	if (!on_perl_thread())
		croak("%s: only the Perl thread that loaded VEvent may use it", fn);
	if (mode == VP_PERL)
		croak("%s: a Perl implementation is registered; the background "
		      "thread runs only vevent's default implementation", fn);
	if (helper_running)
		croak("%s: the background thread is already running", fn);
	if (mode == VP_NONE && virEventRegisterDefaultImpl() < 0)
		croak("%s: %s", fn, vev_compat_last_error());
	mode = VP_DEFAULT;
	vev_loop *loop = default_loop(aTHX_ fn);
	/* Free callbacks still pending would run on the new thread. */
	int rc = vev_loop_drain(loop);
	flush_deferred(aTHX);
	if (rc < 0)
		croak("%s: %s", fn, vev_last_error());
	if (subs_held > 0)
		croak("%s: %" IVdf " Perl callback%s registered with "
		      "VEvent::Event::add_handle/add_timeout; Perl code cannot run "
		      "on the background thread: remove them first, or drive the "
		      "loop with VEvent::Event::run_default()", fn, subs_held,
		      subs_held == 1 ? " is" : "s are");
	helper_running = 1;
	rc = vev_loop_start_thread(loop);
	if (rc < 0) {
		helper_running = 0;
		croak("%s: %s", fn, vev_last_error());
	}
	XSRETURN_YES;

void
stop_thread()
PPCODE:
	if (!helper_running)
		XSRETURN_NO;
	int rc = vev_loop_stop_thread(vev_compat_default_loop());
	helper_running = 0;
	flush_deferred(aTHX);
	if (rc < 0)
		croak("VEvent::stop_thread: %s", vev_last_error());
	XSRETURN_YES;

int
thread_running()
CODE:
	RETVAL = helper_running;
OUTPUT:
	RETVAL

SV *
loop_stats()
CODE:
	static const struct { const char *name; enum vev_stat which; } names[] = {
		{ "iterations", VEV_STAT_ITERATIONS },
		{ "handle_calls", VEV_STAT_HANDLE_CALLS },
		{ "timer_calls", VEV_STAT_TIMER_CALLS },
		{ "free_calls", VEV_STAT_FREE_CALLS },
		{ "wakeups", VEV_STAT_WAKEUPS },
		{ "handles", VEV_STAT_HANDLES },
		{ "timers", VEV_STAT_TIMERS },
		{ "pending_frees", VEV_STAT_PENDING_FREES },
		{ "memory", VEV_STAT_MEMORY },
	};
	vev_loop *loop = default_loop(aTHX_ "VEvent::loop_stats");
	HV *hv = newHV();
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		uint64_t v = 0;
		if (vev_loop_stat(loop, names[i].which, &v) == 0)
			(void)hv_store(hv, names[i].name, strlen(names[i].name),
				       newSVuv((UV)v), 0);
	}
	(void)hv_stores(hv, "backend", newSVpv(vev_loop_backend(loop), 0));
	RETVAL = newRV_noinc((SV *)hv);
OUTPUT:
	RETVAL

MODULE = VEvent		PACKAGE = VEvent::Event::_CClient

int
add_handle(fd, events)
	SV *fd
	SV *events
PREINIT:
	const char *fn = "VEvent::Event::_CClient::add_handle";
CODE:
	int fdnum = arg_any_int(fd, fn, "$fd");
	int mask = arg_any_int(events, fn, "$events");
	RETVAL = virEventAddHandle(fdnum, mask, cclient_handle, &cclient_token,
				   cclient_free);
OUTPUT:
	RETVAL

int
add_timeout(frequency)
	SV *frequency
CODE:
	int ms = arg_any_int(frequency, "VEvent::Event::_CClient::add_timeout",
			     "$frequency");
	RETVAL = virEventAddTimeout(ms, cclient_timeout, &cclient_token,
				    cclient_free);
OUTPUT:
	RETVAL

void
update_handle(watch, events)
	SV *watch
	SV *events
PREINIT:
	const char *fn = "VEvent::Event::_CClient::update_handle";
PPCODE:
	int id = arg_any_int(watch, fn, "$watch");
	int mask = arg_any_int(events, fn, "$events");
	virEventUpdateHandle(id, mask);

void
update_timeout(timer, frequency)
	SV *timer
	SV *frequency
PREINIT:
	const char *fn = "VEvent::Event::_CClient::update_timeout";
PPCODE:
	int id = arg_any_int(timer, fn, "$timer");
	int ms = arg_any_int(frequency, fn, "$frequency");
	virEventUpdateTimeout(id, ms);

int
remove_handle(watch)
	SV *watch
CODE:
	RETVAL = virEventRemoveHandle(arg_any_int(
		watch, "VEvent::Event::_CClient::remove_handle", "$watch"));
OUTPUT:
	RETVAL

int
remove_timeout(timer)
	SV *timer
CODE:
	RETVAL = virEventRemoveTimeout(arg_any_int(
		timer, "VEvent::Event::_CClient::remove_timeout", "$timer"));
OUTPUT:
	RETVAL

int
run_once_on_a_c_thread()
CODE:
	vev_loop *loop = default_loop(aTHX_ "_CClient::run_once_on_a_c_thread");
	pthread_t t;
	void *rc;
	if (pthread_create(&t, NULL, cclient_iteration, loop) != 0)
		croak("pthread_create failed");
	pthread_join(t, &rc);
	RETVAL = (int)(intptr_t)rc;
OUTPUT:
	RETVAL

SV *
counts()
CODE:
	HV *hv = newHV();
	HV_STORE_IV(hv, "handle_calls", cclient.handle_calls);
	HV_STORE_IV(hv, "timeout_calls", cclient.timeout_calls);
	HV_STORE_IV(hv, "frees", cclient.frees);
	HV_STORE_IV(hv, "last_events", cclient.last_events);
	HV_STORE_IV(hv, "last_fd", cclient.last_fd);
	HV_STORE_IV(hv, "last_id", cclient.last_id);
	RETVAL = newRV_noinc((SV *)hv);
OUTPUT:
	RETVAL
