/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * vevent-glib: the engine on a GMainContext, through one custom GSource.
 * Its prepare applies the pending changes (so GLib polls them in the same
 * iteration) and gives the timeout; its check says whether a timer or a free
 * callback is due (GLib itself looks at the descriptors' revents); its
 * dispatch runs one pass.  GLib's poll(2) gives exact revents, POLLNVAL
 * included, which the pass reads back from the source.
 */
#include <errno.h>
#include <limits.h>

#include "engine.h"
#include "vevent/vevent-glib.h"

struct glib_binding {
	GMainContext *context;
	GSource *source;
};

static const struct eng_host_ops glib_ops;
static struct eng engine = ENG_INITIALIZER("vev_glib", &glib_ops);
/* Serialises bind and unbind; the engine's lock protects the rest. */
static pthread_mutex_t bind_lock = PTHREAD_MUTEX_INITIALIZER;
static struct glib_binding binding;

/* ---- the host operations ----------------------------------------------- */

static int glib_fd_set(struct eng *e, struct eng_fd *rec, unsigned want)
{
	struct glib_binding *b = e->host;
	GIOCondition cond = 0;

	if (want == 0) {
		if (rec->host_data)
			g_source_remove_unix_fd(b->source, rec->host_data);
		rec->host_data = NULL;
		return 0;
	}
	if (want & ENG_READABLE)
		cond |= G_IO_IN;
	if (want & ENG_WRITABLE)
		cond |= G_IO_OUT;
	/* Never 0 here: GLib leaves descriptors with no events out of the
	 * poll set, which is how events 0 is kept unpolled. */
	cond |= G_IO_ERR | G_IO_HUP;
	if (rec->host_data)
		g_source_modify_unix_fd(b->source, rec->host_data, cond);
	else
		rec->host_data = g_source_add_unix_fd(b->source, rec->fd, cond);
	return 0;
}

static void glib_fd_release(struct eng *e, struct eng_fd *rec)
{
	struct glib_binding *b = e->host;

	if (rec->host_data)
		g_source_remove_unix_fd(b->source, rec->host_data);
}

static unsigned glib_revents(struct eng *e, struct eng_fd *rec)
{
	struct glib_binding *b = e->host;
	GIOCondition c = g_source_query_unix_fd(b->source, rec->host_data);
	unsigned out = 0;

	if (c & G_IO_IN)
		out |= ENG_READABLE;
	if (c & G_IO_OUT)
		out |= ENG_WRITABLE;
	if (c & G_IO_ERR)
		out |= ENG_ERROR;
	if (c & G_IO_HUP)
		out |= ENG_HANGUP;
	if (c & G_IO_NVAL)
		out |= ENG_NVAL;
	return out;
}

static void glib_wake(struct eng *e)
{
	struct glib_binding *b = e->host;
	/* Takes no context lock: safe under the engine's. */
	g_main_context_wakeup(b->context);
}

static const struct eng_host_ops glib_ops = {
	.fd_set = glib_fd_set,
	.fd_release = glib_fd_release,
	.revents = glib_revents,
	.wake = glib_wake,
};

/* ---- the source --------------------------------------------------------- */

/* GLib calls prepare and check without holding the context's lock, so they
 * may take the engine's and add descriptors to the source. */
static gboolean source_prepare(GSource *source, gint *timeout)
{
	int64_t ns = eng_sync(&engine, 0);

	if (ns < 0) {
		*timeout = -1;
	} else {
		/* Round up: waking before the deadline would only spin. */
		int64_t ms = (ns + 999999) / 1000000;
		*timeout = ms > INT_MAX ? INT_MAX : (gint)ms;
	}
	return ns == 0;
}

static gboolean source_check(GSource *source)
{
	return eng_timeout(&engine) == 0;
}

static gboolean source_dispatch(GSource *source, GSourceFunc callback,
				gpointer user_data)
{
	eng_pass(&engine);
	return G_SOURCE_CONTINUE;
}

static GSourceFuncs source_funcs = {
	.prepare = source_prepare,
	.check = source_check,
	.dispatch = source_dispatch,
};

/* ---- the six functions -------------------------------------------------- */

static int glib_add_handle(int fd, int events, vev_handle_cb cb, void *opaque,
			   vev_free_cb ff)
{
	int rc = eng_add_handle(&engine, fd, events, cb, opaque, ff);
	return rc < 0 ? -1 : rc;
}

static void glib_update_handle(int watch, int events)
{
	eng_update_handle(&engine, watch, events);
}

static int glib_remove_handle(int watch)
{
	return eng_remove_handle(&engine, watch) < 0 ? -1 : 0;
}

static int glib_add_timeout(int timeout, vev_timer_cb cb, void *opaque,
			    vev_free_cb ff)
{
	int rc = eng_add_timer(&engine, timeout, cb, opaque, ff);
	return rc < 0 ? -1 : rc;
}

static void glib_update_timeout(int timer, int timeout)
{
	eng_update_timer(&engine, timer, timeout);
}

static int glib_remove_timeout(int timer)
{
	return eng_remove_timer(&engine, timer) < 0 ? -1 : 0;
}

static const struct vev_event_impl glib_table = {
	.add_handle = glib_add_handle,
	.update_handle = glib_update_handle,
	.remove_handle = glib_remove_handle,
	.add_timeout = glib_add_timeout,
	.update_timeout = glib_update_timeout,
	.remove_timeout = glib_remove_timeout,
};

/* ---- public API --------------------------------------------------------- */

int vev_glib_bind(GMainContext *context, const struct vev_event_impl **impl)
{
	int rc = 0;

	if (!impl)
		return eng_fail(&engine, EINVAL, "bind: impl is NULL");
	if (!context)
		context = g_main_context_default();

	pthread_mutex_lock(&bind_lock);
	if (binding.context) {
		if (binding.context != context)
			rc = eng_fail(&engine, EBUSY, "bind: already bound to "
				      "another main context");
		else
			*impl = &glib_table;
		goto out;
	}
	GSource *source = g_source_new(&source_funcs, sizeof(GSource));
	g_source_set_name(source, "vevent");
	g_source_set_priority(source, G_PRIORITY_DEFAULT);
	binding.context = g_main_context_ref(context);
	binding.source = source;
	rc = eng_bind(&engine, &binding);
	if (rc < 0) { /* cannot happen: bind_lock orders binds */
		g_source_unref(source);
		g_main_context_unref(context);
		binding = (struct glib_binding){ NULL, NULL };
		rc = eng_fail(&engine, -rc, "bind: already bound");
		goto out;
	}
	/* Last: from here on, another thread iterating the context may
	 * prepare the source. */
	g_source_attach(source, context);
	*impl = &glib_table;
out:
	pthread_mutex_unlock(&bind_lock);
	return rc;
}

int vev_glib_unbind(void)
{
	int rc = 0;

	pthread_mutex_lock(&bind_lock);
	GMainContext *context = binding.context;
	if (!context) {
		rc = eng_fail(&engine, ENOENT, "unbind: not bound");
		goto out;
	}
	/* Owning the context keeps every other thread from iterating it, so
	 * that no pass can start while the registrations go away. */
	if (!g_main_context_acquire(context)) {
		rc = eng_fail(&engine, EBUSY, "unbind: another thread is "
			      "iterating the main context");
		goto out;
	}
	rc = eng_unbind(&engine);
	if (rc < 0) {
		g_main_context_release(context);
		rc = eng_fail(&engine, -rc, "unbind: called from a callback "
			      "of the integration");
		goto out;
	}
	g_source_destroy(binding.source);
	g_source_unref(binding.source);
	binding = (struct glib_binding){ NULL, NULL };
	g_main_context_release(context);
	g_main_context_unref(context);
out:
	pthread_mutex_unlock(&bind_lock);
	return rc;
}

const char *vev_glib_last_error(void)
{
	return eng_last_error();
}

int vev_glib_stat(enum vev_stat which, uint64_t *value)
{
	return eng_stat(&engine, which, value);
}

int vev_glib_verify(void)
{
	return eng_verify(&engine);
}
