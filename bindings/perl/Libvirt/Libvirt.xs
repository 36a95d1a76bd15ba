/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * VEvent::Libvirt: hands the event loop VEvent uses to the real libvirt.
 *
 * This module links vevent-libvirt (the bridge), hence the real libvirt and
 * the native vevent library, and never vevent-compat: libvirt and
 * vevent-compat both define virEvent*, and this file must reach libvirt's.
 * Both libraries version their symbols (LIBVIRT_x.y.z, VEVENT_COMPAT_0), so
 * each module's references bind to the library it was linked with whatever
 * the load order; keeping them in separate modules also keeps each
 * module's own view unambiguous.  What it needs from VEvent (the default
 * loop, or the six functions that call a Perl implementation) it receives
 * as addresses from VEvent's XS.  It asks for them itself rather than
 * taking them as arguments: no number a Perl caller passes can become a
 * pointer that C calls.
 */
#define PERL_NO_GET_CONTEXT
#include "EXTERN.h"
#include "perl.h"
#include "XSUB.h"

#include <errno.h>
#include <stdint.h>

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <vevent/libvirt-bridge.h>

static int table_registered;

/* Calls the VEvent XSUB fn, which returns addresses, and stores the n it
 * returned in out; croaks with VEvent's reason if it dies. */
static void vevent_addresses(pTHX_ const char *fn, UV *out, int n)
{
	dSP;
	ENTER;
	SAVETMPS;
	PUSHMARK(SP);
	int count = call_pv(fn, G_ARRAY);
	SPAGAIN;
	if (count != n)
		croak("VEvent::register_libvirt: %s returned %d values, not %d",
		      fn, count, n);
	for (int i = n - 1; i >= 0; i--)
		out[i] = POPu;
	PUTBACK;
	FREETMPS;
	LEAVE;
}

static void probe_timer(int timer, void *opaque)
{
	(void)timer;
	(void)opaque;
}

/* libvirt has no query for its implementation; its virEventAddTimeout()
 * fails without one and reaches the registered table otherwise. */
static int libvirt_has_impl(void)
{
	int t = virEventAddTimeout(-1, probe_timer, NULL, NULL);
	if (t < 0)
		return 0;
	virEventRemoveTimeout(t);
	return 1;
}

MODULE = VEvent::Libvirt	PACKAGE = VEvent::Libvirt

PROTOTYPES: DISABLE

int
_register_loop()
CODE:
	UV address;
	vevent_addresses(aTHX_ "VEvent::Event::_default_loop_address", &address,
			 1);
	vev_loop *loop = INT2PTR(vev_loop *, address);
	int rc = vev_libvirt_register(loop);
	if (rc == -EALREADY && vev_libvirt_loop() == loop)
		rc = 0;
	if (rc < 0)
		croak("VEvent::register_libvirt: %s", vev_libvirt_last_error());
	RETVAL = 1;
OUTPUT:
	RETVAL

int
_register_table()
CODE:
	if (!table_registered) {
		UV fns[6];
		vevent_addresses(aTHX_ "VEvent::Event::_trampoline_addresses",
				 fns, 6);
		if (virInitialize() < 0)
			croak("VEvent::register_libvirt: virInitialize failed: %s",
			      virGetLastErrorMessage());
		if (vev_libvirt_loop() || libvirt_has_impl())
			croak("VEvent::register_libvirt: libvirt already has an "
			      "event loop implementation (from "
			      "virEventRegisterDefaultImpl, Sys::Virt::Event or "
			      "virEventRegisterImpl); it keeps the first one "
			      "registered");
		virEventRegisterImpl((virEventAddHandleFunc)(uintptr_t)fns[0],
				     (virEventUpdateHandleFunc)(uintptr_t)fns[1],
				     (virEventRemoveHandleFunc)(uintptr_t)fns[2],
				     (virEventAddTimeoutFunc)(uintptr_t)fns[3],
				     (virEventUpdateTimeoutFunc)(uintptr_t)fns[4],
				     (virEventRemoveTimeoutFunc)(uintptr_t)fns[5]);
		table_registered = 1;
	}
	RETVAL = 1;
OUTPUT:
	RETVAL

UV
_libvirt_loop_address()
CODE:
	RETVAL = PTR2UV(vev_libvirt_loop());
OUTPUT:
	RETVAL

int
_table_registered()
CODE:
	RETVAL = table_registered;
OUTPUT:
	RETVAL
