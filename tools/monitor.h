/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vevent-monitor: what its parts share. */
#ifndef VEVENT_MONITOR_H
#define VEVENT_MONITOR_H

#include <stdbool.h>
#include <stdint.h>

#include <libvirt/libvirt.h>
#include <vevent/vevent.h>

/* Exit statuses. */
enum {
	EXIT_OK = 0,
	EXIT_RUNTIME = 1, /* cannot connect, connection lost, output lost */
	EXIT_USAGE = 2,
};

/* ---- output (monitor-output.c) ----------------------------------------- */

/* One detail of an event, for the JSON "details" object. */
struct field {
	const char *key;
	enum { FIELD_STR, FIELD_INT, FIELD_UINT, FIELD_BOOL, FIELD_DOUBLE } type;
	const char *s; /* FIELD_STR; NULL prints null */
	long long i;   /* FIELD_INT, FIELD_BOOL */
	unsigned long long u;
	double d;
};

#define FSTR(k, v) ((struct field){ .key = (k), .type = FIELD_STR, .s = (v) })
#define FINT(k, v) ((struct field){ .key = (k), .type = FIELD_INT, .i = (v) })
#define FUINT(k, v)                                                        \
	((struct field){ .key = (k), .type = FIELD_UINT, .u = (v) })
#define FDOUBLE(k, v)                                                      \
	((struct field){ .key = (k), .type = FIELD_DOUBLE, .d = (v) })
#define FBOOL(k, v)                                                        \
	((struct field){ .key = (k), .type = FIELD_BOOL, .i = !!(v) })

/* Every byte the monitor writes to standard output goes through this
 * module, which checks each write.  The first failure is reported once on
 * stderr and stops the monitor with EXIT_RUNTIME (monitor_stop()); later
 * output is dropped. */

/* Before anything opens a descriptor: gives closed standard descriptors
 * /dev/null so that no later descriptor (a libvirt socket) can become
 * stdout or stderr.  Returns 0, or -1 with a message if stdout was closed. */
int output_open(void);
void output_init(bool json);
/* Watches stdout, when it is a pipe or a socket, so that a reader that goes
 * away stops the monitor even while no event is written.  Returns 0, or -1
 * with a message. */
int output_watch(vev_loop *loop);
/* Removes that watch; safe to call when not watching. */
void output_unwatch(void);
/* The errno of the first failed write to stdout, or 0. */
int output_error(void);
/* Plain text, as printf. */
void output_text(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* One line: TIME  DOMAIN  EVENT  TEXT, or one JSON object with time,
 * domain, uuid, event, detail (TEXT) and details (fields).  dom may be NULL
 * for what concerns the connection or the monitor itself. */
void output_event(virDomainPtr dom, const char *event, const char *text,
		  const struct field *fields, int nfields);
/* Loop statistics, after the events. */
void output_stats(vev_loop *loop);

/* ---- event types (monitor-events.c) ------------------------------------ */

struct event_type {
	const char *name; /* as virsh event --list spells it */
	int id;           /* VIR_DOMAIN_EVENT_ID_* */
	virConnectDomainEventGenericCallback cb;
};

extern const struct event_type event_types[];
extern const int n_event_types;

/* Index of the type called name, or -1. */
int event_type_find(const char *name);
/* The words for a lifecycle event and its detail, e.g. "started" and
 * "booted". */
const char *lifecycle_event_name(int event);
const char *lifecycle_detail_name(int event, int detail);

/* ---- the demo (monitor-demo.c) ----------------------------------------- */

/* Called by the event callbacks with each event they printed (lifecycle:
 * its type; others: -1), so that the demo moves on when its step's event
 * arrived. */
void demo_saw_event(int event_id, virDomainPtr dom, int lifecycle_event);
/* Starts the scenario on loop timers.  Returns 0, or -1 with a message
 * printed.  done() is called on the loop thread with the exit status. */
int demo_start(vev_loop *loop, virConnectPtr conn, int delay_ms,
	       void (*done)(int status));
/* Removes its timer and files; safe to call when not started. */
void demo_stop(void);

/* ---- the main program (vevent-monitor.c) ----------------------------- */

/* Whether events of that VIR_DOMAIN_EVENT_ID_* are subscribed to. */
bool monitor_subscribed(int event_id);
/* Asks the loop to stop and the monitor to exit with status, or with a
 * higher one asked for before or after.  Loop thread only. */
void monitor_stop(int status);

/* ---- messages ---------------------------------------------------------- */

void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
const char *libvirt_error(void);
/* one when n is 1, else many: "1 event type", "2 event types". */
const char *plural(unsigned long long n, const char *one, const char *many);

#endif
