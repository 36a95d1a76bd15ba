/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Every domain event type libvirt offers: a callback each that prints the
 * event in words (and as JSON details).  Types newer than libvirt 3.0 are
 * included when the headers at build time know them; whether the library
 * and the server at run time support one is learnt by subscribing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor.h"
#include "monitor-config.h"

#define N_ELEMS(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Words for a value in a table, or NULL when a newer libvirt sends a value
 * this build does not know. */
#define WORD(table, v)                                                     \
	((v) >= 0 && (v) < N_ELEMS(table) ? (table)[(v)] : NULL)

static const char *or_dash(const char *s)
{
	return s && *s ? s : "-";
}

/* "name" or "value N" for values this build has no name for. */
static const char *word_or_number(const char *word, int v, char *buf,
				  size_t size)
{
	if (word)
		return word;
	snprintf(buf, size, "value %d", v);
	return buf;
}

static void emit(virDomainPtr dom, void *opaque, const char *text,
		 const struct field *fields, int nfields)
{
	const struct event_type *t = opaque;
	output_event(dom, t->name, text, fields, nfields);
	demo_saw_event(t->id, dom, -1);
}

/* ---- lifecycle ---------------------------------------------------------- */

static const char *const lifecycle_events[] = {
	"defined", "undefined", "started",     "suspended", "resumed",
	"stopped", "shutdown",  "pmsuspended", "crashed",
};

static const char *const detail_defined[] = { "added", "updated", "renamed",
					      "from snapshot" };
static const char *const detail_undefined[] = { "removed", "renamed" };
static const char *const detail_started[] = { "booted", "migrated",
					      "restored", "from snapshot",
					      "woken up" };
static const char *const detail_suspended[] = {
	"paused",        "migrated",  "I/O error",         "watchdog",
	"restored",      "from snapshot", "API error",     "post-copy",
	"post-copy failed",
};
static const char *const detail_resumed[] = { "unpaused", "migrated",
					      "from snapshot", "post-copy",
					      "post-copy failed" };
static const char *const detail_stopped[] = { "shutdown", "destroyed",
					      "crashed",  "migrated",
					      "saved",    "failed",
					      "from snapshot" };
static const char *const detail_shutdown[] = { "finished", "by the guest",
					       "by the host" };
static const char *const detail_pmsuspended[] = { "to memory", "to disk" };
static const char *const detail_crashed[] = { "panicked", "crashloaded" };

const char *lifecycle_event_name(int event)
{
	return WORD(lifecycle_events, event);
}

const char *lifecycle_detail_name(int event, int detail)
{
	switch (event) {
	case VIR_DOMAIN_EVENT_DEFINED:
		return WORD(detail_defined, detail);
	case VIR_DOMAIN_EVENT_UNDEFINED:
		return WORD(detail_undefined, detail);
	case VIR_DOMAIN_EVENT_STARTED:
		return WORD(detail_started, detail);
	case VIR_DOMAIN_EVENT_SUSPENDED:
		return WORD(detail_suspended, detail);
	case VIR_DOMAIN_EVENT_RESUMED:
		return WORD(detail_resumed, detail);
	case VIR_DOMAIN_EVENT_STOPPED:
		return WORD(detail_stopped, detail);
	case VIR_DOMAIN_EVENT_SHUTDOWN:
		return WORD(detail_shutdown, detail);
	case VIR_DOMAIN_EVENT_PMSUSPENDED:
		return WORD(detail_pmsuspended, detail);
	case VIR_DOMAIN_EVENT_CRASHED:
		return WORD(detail_crashed, detail);
	}
	return NULL;
}

static int on_lifecycle(virConnectPtr conn, virDomainPtr dom, int event,
			int detail, void *opaque)
{
	char ebuf[24], dbuf[24], text[128];
	const char *e = word_or_number(lifecycle_event_name(event), event, ebuf,
				       sizeof(ebuf));
	const char *d = word_or_number(lifecycle_detail_name(event, detail),
				       detail, dbuf, sizeof(dbuf));
	snprintf(text, sizeof(text), "%s (%s)", e, d);
	struct field f[] = { FSTR("type", e), FSTR("reason", d),
			     FINT("type_code", event),
			     FINT("reason_code", detail) };
	const struct event_type *t = opaque;
	output_event(dom, t->name, text, f, N_ELEMS(f));
	demo_saw_event(t->id, dom, event);
	return 0;
}

/* ---- the others, in the order of their ids ------------------------------ */

static void on_reboot(virConnectPtr conn, virDomainPtr dom, void *opaque)
{
	emit(dom, opaque, "the guest rebooted", NULL, 0);
}

static void on_rtc_change(virConnectPtr conn, virDomainPtr dom,
			  long long utcoffset, void *opaque)
{
	char text[96];
	snprintf(text, sizeof(text), "guest clock set to UTC%+lld s",
		 utcoffset);
	struct field f[] = { FINT("utcoffset", utcoffset) };
	emit(dom, opaque, text, f, N_ELEMS(f));
}

static const char *const watchdog_actions[] = {
	"none", "pause", "reset", "poweroff", "shutdown", "debug", "inject-nmi",
};

static void on_watchdog(virConnectPtr conn, virDomainPtr dom, int action,
			void *opaque)
{
	char buf[24], text[96];
	const char *a = word_or_number(WORD(watchdog_actions, action), action,
				       buf, sizeof(buf));
	snprintf(text, sizeof(text), "watchdog fired, action %s", a);
	struct field f[] = { FSTR("action", a) };
	emit(dom, opaque, text, f, N_ELEMS(f));
}

static const char *const io_error_actions[] = { "none", "pause", "report" };

static void io_error(virDomainPtr dom, void *opaque, const char *src,
		     const char *dev, int action, const char *reason)
{
	char buf[24], text[512];
	const char *a = word_or_number(WORD(io_error_actions, action), action,
				       buf, sizeof(buf));
	if (reason)
		snprintf(text, sizeof(text), "I/O error on %s (%s): %s, "
			 "action %s", or_dash(dev), or_dash(src), reason, a);
	else
		snprintf(text, sizeof(text), "I/O error on %s (%s), action %s",
			 or_dash(dev), or_dash(src), a);
	struct field f[] = { FSTR("device", dev), FSTR("path", src),
			     FSTR("action", a), FSTR("reason", reason) };
	emit(dom, opaque, text, f, reason ? 4 : 3);
}

static void on_io_error(virConnectPtr conn, virDomainPtr dom,
			const char *src, const char *dev, int action,
			void *opaque)
{
	io_error(dom, opaque, src, dev, action, NULL);
}

static void on_io_error_reason(virConnectPtr conn, virDomainPtr dom,
			       const char *src, const char *dev, int action,
			       const char *reason, void *opaque)
{
	io_error(dom, opaque, src, dev, action, reason ? reason : "");
}

static const char *const graphics_phases[] = { "connect", "initialize",
					       "disconnect" };
static const char *const graphics_families[] = { "ipv4", "ipv6", "unix" };

static void address_words(const virDomainEventGraphicsAddress *a, char *buf,
			  size_t size)
{
	if (!a)
		snprintf(buf, size, "-");
	else if (a->service && *a->service)
		snprintf(buf, size, "%s:%s", or_dash(a->node), a->service);
	else
		snprintf(buf, size, "%s", or_dash(a->node));
}

static void on_graphics(virConnectPtr conn, virDomainPtr dom, int phase,
			const virDomainEventGraphicsAddress *local,
			const virDomainEventGraphicsAddress *remote,
			const char *auth,
			const virDomainEventGraphicsSubject *subject,
			void *opaque)
{
	char pbuf[24], lbuf[160], rbuf[160], sbuf[256] = "", text[768];
	const char *p = word_or_number(WORD(graphics_phases, phase), phase,
				       pbuf, sizeof(pbuf));
	address_words(local, lbuf, sizeof(lbuf));
	address_words(remote, rbuf, sizeof(rbuf));
	size_t used = 0;
	for (int i = 0; subject && i < subject->nidentity; i++) {
		int n = snprintf(sbuf + used, sizeof(sbuf) - used, "%s%s=%s",
				 i ? "," : "",
				 or_dash(subject->identities[i].type),
				 or_dash(subject->identities[i].name));
		if (n < 0 || (size_t)n >= sizeof(sbuf) - used)
			break;
		used += (size_t)n;
	}
	snprintf(text, sizeof(text), "%s, client %s, server %s, auth %s%s%s", p,
		 rbuf, lbuf, or_dash(auth), used ? ", subject " : "", sbuf);
	char fbuf[24];
	struct field f[] = {
		FSTR("phase", p),
		FSTR("remote", rbuf),
		FSTR("local", lbuf),
		FSTR("family",
		     remote ? word_or_number(WORD(graphics_families,
						  remote->family),
					     remote->family, fbuf,
					     sizeof(fbuf)) :
			      NULL),
		FSTR("auth", auth),
		FSTR("subject", used ? sbuf : NULL),
	};
	emit(dom, opaque, text, f, N_ELEMS(f));
}

static void on_control_error(virConnectPtr conn, virDomainPtr dom,
			     void *opaque)
{
	emit(dom, opaque, "lost the hypervisor's control channel", NULL, 0);
}

static const char *const block_job_types[] = { "unknown", "pull", "copy",
					       "commit", "active-commit",
					       "backup" };
static const char *const block_job_status[] = { "completed", "failed",
						"canceled", "ready" };

static void on_block_job(virConnectPtr conn, virDomainPtr dom,
			 const char *disk, int type, int status, void *opaque)
{
	char tbuf[24], sbuf[24], text[512];
	const char *t = word_or_number(WORD(block_job_types, type), type, tbuf,
				       sizeof(tbuf));
	const char *s = word_or_number(WORD(block_job_status, status), status,
				       sbuf, sizeof(sbuf));
	snprintf(text, sizeof(text), "%s job on %s %s", t, or_dash(disk), s);
	struct field f[] = { FSTR("disk", disk), FSTR("type", t),
			     FSTR("status", s) };
	emit(dom, opaque, text, f, N_ELEMS(f));
}

static const char *const disk_change_reasons[] = { "missing on start",
						   "dropped, missing on start" };

static void on_disk_change(virConnectPtr conn, virDomainPtr dom,
			   const char *old_src, const char *new_src,
			   const char *dev, int reason, void *opaque)
{
	char rbuf[24], text[768];
	const char *r = word_or_number(WORD(disk_change_reasons, reason), reason,
				       rbuf, sizeof(rbuf));
	snprintf(text, sizeof(text), "media of %s changed from %s to %s (%s)",
		 or_dash(dev), or_dash(old_src), or_dash(new_src), r);
	struct field f[] = { FSTR("device", dev), FSTR("old_path", old_src),
			     FSTR("new_path", new_src), FSTR("reason", r) };
	emit(dom, opaque, text, f, N_ELEMS(f));
}

static const char *const tray_reasons[] = { "opened", "closed" };

static void on_tray_change(virConnectPtr conn, virDomainPtr dom,
			   const char *dev, int reason, void *opaque)
{
	char rbuf[24], text[256];
	const char *r = word_or_number(WORD(tray_reasons, reason), reason, rbuf,
				       sizeof(rbuf));
	snprintf(text, sizeof(text), "tray of %s %s", or_dash(dev), r);
	struct field f[] = { FSTR("device", dev), FSTR("tray", r) };
	emit(dom, opaque, text, f, N_ELEMS(f));
}

static void on_pm_wakeup(virConnectPtr conn, virDomainPtr dom, int reason,
			 void *opaque)
{
	struct field f[] = { FINT("reason_code", reason) };
	emit(dom, opaque, "woken up from power management suspend", f, 1);
}

static void on_pm_suspend(virConnectPtr conn, virDomainPtr dom, int reason,
			  void *opaque)
{
	struct field f[] = { FINT("reason_code", reason) };
	emit(dom, opaque, "suspended to memory by the guest", f, 1);
}

static void on_balloon_change(virConnectPtr conn, virDomainPtr dom,
			      unsigned long long actual, void *opaque)
{
	char text[96];
	snprintf(text, sizeof(text), "balloon now %llu KiB", actual);
	struct field f[] = { FUINT("actual_kib", actual) };
	emit(dom, opaque, text, f, N_ELEMS(f));
}

static void on_pm_suspend_disk(virConnectPtr conn, virDomainPtr dom,
			       int reason, void *opaque)
{
	struct field f[] = { FINT("reason_code", reason) };
	emit(dom, opaque, "suspended to disk by the guest", f, 1);
}

static void device_event(virDomainPtr dom, void *opaque, const char *dev,
			 const char *what)
{
	char text[256];
	snprintf(text, sizeof(text), "device %s %s", or_dash(dev), what);
	struct field f[] = { FSTR("device", dev) };
	emit(dom, opaque, text, f, N_ELEMS(f));
}

static void on_device_removed(virConnectPtr conn, virDomainPtr dom,
			      const char *dev, void *opaque)
{
	device_event(dom, opaque, dev, "removed");
}

static void on_device_added(virConnectPtr conn, virDomainPtr dom,
			    const char *dev, void *opaque)
{
	device_event(dom, opaque, dev, "added");
}

static void on_device_removal_failed(virConnectPtr conn, virDomainPtr dom,
				     const char *dev, void *opaque)
{
	device_event(dom, opaque, dev, "could not be removed");
}

/* Typed parameters as "name=value, ..." and as JSON fields. */
static void typed_params(virDomainPtr dom, void *opaque, const char *what,
			 virTypedParameterPtr params, int n)
{
	char text[1024];
	size_t used = (size_t)snprintf(text, sizeof(text), "%s", what);
	struct field *f = calloc(n > 0 ? (size_t)n : 1, sizeof(*f));
	if (!f)
		n = 0;
	for (int i = 0; i < n; i++) {
		virTypedParameterPtr p = &params[i];
		char value[256];
		f[i].key = p->field;
		switch (p->type) {
		case VIR_TYPED_PARAM_INT:
			f[i] = FINT(p->field, p->value.i);
			snprintf(value, sizeof(value), "%d", p->value.i);
			break;
		case VIR_TYPED_PARAM_UINT:
			f[i] = FUINT(p->field, p->value.ui);
			snprintf(value, sizeof(value), "%u", p->value.ui);
			break;
		case VIR_TYPED_PARAM_LLONG:
			f[i] = FINT(p->field, p->value.l);
			snprintf(value, sizeof(value), "%lld", p->value.l);
			break;
		case VIR_TYPED_PARAM_ULLONG:
			f[i] = FUINT(p->field, p->value.ul);
			snprintf(value, sizeof(value), "%llu", p->value.ul);
			break;
		case VIR_TYPED_PARAM_DOUBLE:
			f[i] = FDOUBLE(p->field, p->value.d);
			snprintf(value, sizeof(value), "%g", p->value.d);
			break;
		case VIR_TYPED_PARAM_BOOLEAN:
			f[i] = FBOOL(p->field, p->value.b);
			snprintf(value, sizeof(value), "%s",
				 p->value.b ? "yes" : "no");
			break;
		case VIR_TYPED_PARAM_STRING:
			f[i] = FSTR(p->field, p->value.s);
			snprintf(value, sizeof(value), "%s",
				 or_dash(p->value.s));
			break;
		default:
			f[i] = FSTR(p->field, NULL);
			snprintf(value, sizeof(value), "?");
		}
		if (used < sizeof(text))
			used += (size_t)snprintf(text + used,
						 sizeof(text) - used,
						 "%s%s=%s", i ? ", " : ": ",
						 p->field, value);
	}
	if (used >= sizeof(text))
		memcpy(text + sizeof(text) - 4, "...", 4);
	emit(dom, opaque, text, f, n);
	free(f);
}

static void on_tunable(virConnectPtr conn, virDomainPtr dom,
		       virTypedParameterPtr params, int n, void *opaque)
{
	typed_params(dom, opaque, "tunables changed", params, n);
}

static const char *const agent_states[] = { "unknown", "connected",
					    "disconnected" };
static const char *const agent_reasons[] = { "unknown reason",
					     "domain started", "channel event" };

static void on_agent_lifecycle(virConnectPtr conn, virDomainPtr dom,
			       int state, int reason, void *opaque)
{
	char sbuf[24], rbuf[24], text[128];
	const char *s = word_or_number(WORD(agent_states, state), state, sbuf,
				       sizeof(sbuf));
	const char *r = word_or_number(WORD(agent_reasons, reason), reason,
				       rbuf, sizeof(rbuf));
	snprintf(text, sizeof(text), "guest agent %s (%s)", s, r);
	struct field f[] = { FSTR("state", s), FSTR("reason", r) };
	emit(dom, opaque, text, f, N_ELEMS(f));
}

static void on_migration_iteration(virConnectPtr conn, virDomainPtr dom,
				   int iteration, void *opaque)
{
	char text[64];
	snprintf(text, sizeof(text), "migration iteration %d", iteration);
	struct field f[] = { FINT("iteration", iteration) };
	emit(dom, opaque, text, f, N_ELEMS(f));
}

static void on_job_completed(virConnectPtr conn, virDomainPtr dom,
			     virTypedParameterPtr params, int n, void *opaque)
{
	typed_params(dom, opaque, "job completed", params, n);
}

#ifdef HAVE_VIR_DOMAIN_EVENT_ID_METADATA_CHANGE
static const char *const metadata_types[] = { "description", "title",
					      "element" };

static void on_metadata_change(virConnectPtr conn, virDomainPtr dom,
			       int type, const char *nsuri, void *opaque)
{
	char tbuf[24], text[512];
	const char *t = word_or_number(WORD(metadata_types, type), type, tbuf,
				       sizeof(tbuf));
	if (nsuri)
		snprintf(text, sizeof(text), "%s changed (%s)", t, nsuri);
	else
		snprintf(text, sizeof(text), "%s changed", t);
	struct field f[] = { FSTR("type", t), FSTR("nsuri", nsuri) };
	emit(dom, opaque, text, f, N_ELEMS(f));
}
#endif

#ifdef HAVE_VIR_DOMAIN_EVENT_ID_BLOCK_THRESHOLD
static void on_block_threshold(virConnectPtr conn, virDomainPtr dom,
			       const char *dev, const char *path,
			       unsigned long long threshold,
			       unsigned long long excess, void *opaque)
{
	char text[512];
	snprintf(text, sizeof(text), "%s (%s) crossed %llu %s by %llu",
		 or_dash(dev), or_dash(path), threshold,
		 plural(threshold, "byte", "bytes"), excess);
	struct field f[] = { FSTR("device", dev), FSTR("path", path),
			     FUINT("threshold", threshold),
			     FUINT("excess", excess) };
	emit(dom, opaque, text, f, N_ELEMS(f));
}
#endif

#ifdef HAVE_VIR_DOMAIN_EVENT_ID_MEMORY_FAILURE
static const char *const failure_recipients[] = { "hypervisor", "guest" };
static const char *const failure_actions[] = { "ignore", "inject", "fatal",
					       "reset" };

static void on_memory_failure(virConnectPtr conn, virDomainPtr dom,
			      int recipient, int action, unsigned int flags,
			      void *opaque)
{
	char rbuf[24], abuf[24], text[192];
	const char *r = word_or_number(WORD(failure_recipients, recipient),
				       recipient, rbuf, sizeof(rbuf));
	const char *a = word_or_number(WORD(failure_actions, action), action,
				       abuf, sizeof(abuf));
	bool required = flags & VIR_DOMAIN_MEMORY_FAILURE_ACTION_REQUIRED;
	bool recursive = flags & VIR_DOMAIN_MEMORY_FAILURE_RECURSIVE;
	snprintf(text, sizeof(text), "memory failure in the %s, action %s%s%s",
		 r, a, required ? ", action required" : "",
		 recursive ? ", recursive" : "");
	struct field f[] = { FSTR("recipient", r), FSTR("action", a),
			     FBOOL("action_required", required),
			     FBOOL("recursive", recursive) };
	emit(dom, opaque, text, f, N_ELEMS(f));
}
#endif

#ifdef HAVE_VIR_DOMAIN_EVENT_ID_MEMORY_DEVICE_SIZE_CHANGE
static void on_memory_device_size_change(virConnectPtr conn, virDomainPtr dom,
					 const char *alias,
					 unsigned long long size, void *opaque)
{
	char text[256];
	snprintf(text, sizeof(text), "memory device %s now %llu KiB",
		 or_dash(alias), size);
	struct field f[] = { FSTR("device", alias), FUINT("size_kib", size) };
	emit(dom, opaque, text, f, N_ELEMS(f));
}
#endif

#define TYPE(name, id, cb) { name, id, VIR_DOMAIN_EVENT_CALLBACK(cb) }

const struct event_type event_types[] = {
	TYPE("lifecycle", VIR_DOMAIN_EVENT_ID_LIFECYCLE, on_lifecycle),
	TYPE("reboot", VIR_DOMAIN_EVENT_ID_REBOOT, on_reboot),
	TYPE("rtc-change", VIR_DOMAIN_EVENT_ID_RTC_CHANGE, on_rtc_change),
	TYPE("watchdog", VIR_DOMAIN_EVENT_ID_WATCHDOG, on_watchdog),
	TYPE("io-error", VIR_DOMAIN_EVENT_ID_IO_ERROR, on_io_error),
	TYPE("graphics", VIR_DOMAIN_EVENT_ID_GRAPHICS, on_graphics),
	TYPE("io-error-reason", VIR_DOMAIN_EVENT_ID_IO_ERROR_REASON,
	     on_io_error_reason),
	TYPE("control-error", VIR_DOMAIN_EVENT_ID_CONTROL_ERROR,
	     on_control_error),
	TYPE("block-job", VIR_DOMAIN_EVENT_ID_BLOCK_JOB, on_block_job),
	TYPE("disk-change", VIR_DOMAIN_EVENT_ID_DISK_CHANGE, on_disk_change),
	TYPE("tray-change", VIR_DOMAIN_EVENT_ID_TRAY_CHANGE, on_tray_change),
	TYPE("pm-wakeup", VIR_DOMAIN_EVENT_ID_PMWAKEUP, on_pm_wakeup),
	TYPE("pm-suspend", VIR_DOMAIN_EVENT_ID_PMSUSPEND, on_pm_suspend),
	TYPE("balloon-change", VIR_DOMAIN_EVENT_ID_BALLOON_CHANGE,
	     on_balloon_change),
	TYPE("pm-suspend-disk", VIR_DOMAIN_EVENT_ID_PMSUSPEND_DISK,
	     on_pm_suspend_disk),
	TYPE("device-removed", VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
	     on_device_removed),
	TYPE("block-job-2", VIR_DOMAIN_EVENT_ID_BLOCK_JOB_2, on_block_job),
	TYPE("tunable", VIR_DOMAIN_EVENT_ID_TUNABLE, on_tunable),
	TYPE("agent-lifecycle", VIR_DOMAIN_EVENT_ID_AGENT_LIFECYCLE,
	     on_agent_lifecycle),
	TYPE("device-added", VIR_DOMAIN_EVENT_ID_DEVICE_ADDED, on_device_added),
	TYPE("migration-iteration", VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION,
	     on_migration_iteration),
	TYPE("job-completed", VIR_DOMAIN_EVENT_ID_JOB_COMPLETED,
	     on_job_completed),
	TYPE("device-removal-failed", VIR_DOMAIN_EVENT_ID_DEVICE_REMOVAL_FAILED,
	     on_device_removal_failed),
#ifdef HAVE_VIR_DOMAIN_EVENT_ID_METADATA_CHANGE
	TYPE("metadata-change", VIR_DOMAIN_EVENT_ID_METADATA_CHANGE,
	     on_metadata_change),
#endif
#ifdef HAVE_VIR_DOMAIN_EVENT_ID_BLOCK_THRESHOLD
	TYPE("block-threshold", VIR_DOMAIN_EVENT_ID_BLOCK_THRESHOLD,
	     on_block_threshold),
#endif
#ifdef HAVE_VIR_DOMAIN_EVENT_ID_MEMORY_FAILURE
	TYPE("memory-failure", VIR_DOMAIN_EVENT_ID_MEMORY_FAILURE,
	     on_memory_failure),
#endif
#ifdef HAVE_VIR_DOMAIN_EVENT_ID_MEMORY_DEVICE_SIZE_CHANGE
	TYPE("memory-device-size-change",
	     VIR_DOMAIN_EVENT_ID_MEMORY_DEVICE_SIZE_CHANGE,
	     on_memory_device_size_change),
#endif
};

const int n_event_types = N_ELEMS(event_types);

int event_type_find(const char *name)
{
	for (int i = 0; i < n_event_types; i++)
		if (strcmp(event_types[i].name, name) == 0)
			return i;
	return -1;
}
