/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vevent-compat: libvirt's public event-loop API (the libvirt-event module)
 * with libvirt's names, types, values and return conventions.  A program that
 * uses only these functions builds against vevent by including this header
 * instead of <libvirt/libvirt.h> and linking `pkg-config --libs
 * vevent-compat`.  Do not include both this header and libvirt's in one file.
 *
 * Differences from libvirt, all on paths where libvirt misbehaves:
 *  - The default implementation's virEventAddHandle() rejects fd < 0,
 *    descriptors that are not open and a NULL callback with -1, and its
 *    virEventAddTimeout() a NULL callback; vev_compat_last_error() says why.
 *    Calls to a custom implementation are passed on unchanged.
 *  - A descriptor closed while watched never makes the loop spin.
 *  - virEventRunDefaultImpl() returns -1 instead of aborting or blocking
 *    forever when no default implementation is registered.
 *  - The first registered implementation wins; later virEventRegisterImpl()
 *    calls are ignored with a warning on stderr.
 */
#ifndef VEVENT_LIBVIRT_EVENT_H
#define VEVENT_LIBVIRT_EVENT_H

#include <vevent/version.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(VEVENT_BUILDING) && defined(__GNUC__)
#define VEV_COMPAT_EXPORT __attribute__((visibility("default")))
#else
#define VEV_COMPAT_EXPORT
#endif

typedef enum {
	VIR_EVENT_HANDLE_READABLE = (1 << 0),
	VIR_EVENT_HANDLE_WRITABLE = (1 << 1),
	VIR_EVENT_HANDLE_ERROR = (1 << 2),
	VIR_EVENT_HANDLE_HANGUP = (1 << 3),
} virEventHandleType;

typedef void (*virFreeCallback)(void *opaque);
typedef void (*virEventHandleCallback)(int watch, int fd, int events,
				       void *opaque);
typedef void (*virEventTimeoutCallback)(int timer, void *opaque);

typedef int (*virEventAddHandleFunc)(int fd, int event,
				     virEventHandleCallback cb, void *opaque,
				     virFreeCallback ff);
typedef void (*virEventUpdateHandleFunc)(int watch, int event);
typedef int (*virEventRemoveHandleFunc)(int watch);
typedef int (*virEventAddTimeoutFunc)(int timeout, virEventTimeoutCallback cb,
				      void *opaque, virFreeCallback ff);
typedef void (*virEventUpdateTimeoutFunc)(int timer, int timeout);
typedef int (*virEventRemoveTimeoutFunc)(int timer);

/** Register an event loop implementation.  The first registration (this or
 *  virEventRegisterDefaultImpl()) wins: later calls are ignored with a
 *  warning on stderr.  As in libvirt, a table may leave functions NULL (some
 *  programs register only the timeout functions); calls to a missing add or
 *  remove function then return -1, to a missing update one do nothing.
 *  Any thread. */
VEV_COMPAT_EXPORT void
virEventRegisterImpl(virEventAddHandleFunc addHandle,
		     virEventUpdateHandleFunc updateHandle,
		     virEventRemoveHandleFunc removeHandle,
		     virEventAddTimeoutFunc addTimeout,
		     virEventUpdateTimeoutFunc updateTimeout,
		     virEventRemoveTimeoutFunc removeTimeout);

/** Register vevent's own loop (backend from $VEVENT_BACKEND, else the best)
 *  as the implementation.  Returns 0, also when it already is; -1 with an
 *  error if another implementation was registered or the loop cannot be
 *  created.  Any thread. */
VEV_COMPAT_EXPORT int virEventRegisterDefaultImpl(void);

/** Run one iteration of the default implementation (see vev_run_once() with
 *  VEV_WAIT_FOREVER).  Returns 0, or -1 with an error: no default
 *  implementation registered, another thread is running it, or a call from
 *  one of its callbacks.  One thread at a time; not from a callback. */
VEV_COMPAT_EXPORT int virEventRunDefaultImpl(void);

/** Watch a descriptor through the registered implementation.  Returns the
 *  watch id (>= 1) or -1 (nothing registered, bad fd, NULL cb, ...).  Any
 *  thread; from callbacks too. */
VEV_COMPAT_EXPORT int virEventAddHandle(int fd, int events,
					virEventHandleCallback cb,
					void *opaque, virFreeCallback ff);

/** Change a watch's events; an unknown watch, or no registered
 *  implementation, is a harmless no-op.  Any thread; from callbacks too. */
VEV_COMPAT_EXPORT void virEventUpdateHandle(int watch, int events);

/** Remove a watch.  Returns 0, or -1 for an unknown id or when nothing is
 *  registered.  Its free callback runs later on the loop thread.  Any thread;
 *  from callbacks too. */
VEV_COMPAT_EXPORT int virEventRemoveHandle(int watch);

/** Add a timer (period in ms; 0 every iteration; negative disabled).
 *  Returns the timer id (>= 1) or -1.  Any thread; from callbacks too. */
VEV_COMPAT_EXPORT int virEventAddTimeout(int timeout,
					 virEventTimeoutCallback cb,
					 void *opaque, virFreeCallback ff);

/** Change a timer's period and restart its countdown; unknown ids are a
 *  harmless no-op.  Any thread; from callbacks too. */
VEV_COMPAT_EXPORT void virEventUpdateTimeout(int timer, int timeout);

/** Remove a timer.  Returns 0, or -1 for an unknown id or when nothing is
 *  registered.  Any thread; from callbacks too. */
VEV_COMPAT_EXPORT int virEventRemoveTimeout(int timer);

/* ---- vevent additions (not in libvirt) --------------------------------- */

/** Why the last failing call of this API on the calling thread failed, or ""
 *  if none did.  Valid until the next failure on this thread.  A custom
 *  implementation's own failures leave it unchanged.  Any thread; from
 *  callbacks too. */
VEV_COMPAT_EXPORT const char *vev_compat_last_error(void);

/** The default implementation's loop as a native vev_loop pointer (declared
 *  in <vevent/vevent.h>), or NULL before virEventRegisterDefaultImpl()
 *  succeeded.  Lets a program read statistics, start the helper thread or
 *  run an iteration with a timeout.  The loop belongs to the library: never
 *  free it.  Any thread; from callbacks too. */
struct vev_loop;
VEV_COMPAT_EXPORT struct vev_loop *vev_compat_default_loop(void);

#ifdef __cplusplus
}
#endif

#endif /* VEVENT_LIBVIRT_EVENT_H */
