/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The GLib host: a private GMainContext, iterated by the test's thread. */
#include <errno.h>
#include <string.h>

#include <glib-unix.h>

#include "harness.h"
#include "host.h"
#include "vevent/vevent-glib.h"

static GMainContext *context;
static GSource *own_source;

static void create(void)
{
	context = g_main_context_new();
	CHECK(context != NULL);
}

static void destroy(void)
{
	g_main_context_unref(context);
	context = NULL;
}

static int do_bind(const struct vev_event_impl **impl)
{
	return vev_glib_bind(context, impl);
}

static int bind_null(void)
{
	return vev_glib_bind(context, NULL);
}

static int bind_other(const struct vev_event_impl **impl)
{
	GMainContext *other = g_main_context_new();
	int rc = vev_glib_bind(other, impl);
	g_main_context_unref(other);
	return rc;
}

static gboolean time_is_up(gpointer data)
{
	return G_SOURCE_REMOVE;
}

static int run(int timeout_ms)
{
	if (timeout_ms <= 0) {
		g_main_context_iteration(context, timeout_ms < 0);
		return 0;
	}
	GSource *limit = g_timeout_source_new((guint)timeout_ms);
	g_source_set_callback(limit, time_is_up, NULL, NULL);
	g_source_attach(limit, context);
	g_main_context_iteration(context, TRUE);
	g_source_destroy(limit);
	g_source_unref(limit);
	return 0;
}

static const char *method(void)
{
	return "poll";
}

static bool in_dispatch(void)
{
	GSource *s = g_main_current_source();
	const char *name = s ? g_source_get_name(s) : NULL;
	return name && strcmp(name, "vevent") == 0;
}

static gboolean own_readable(gint fd, GIOCondition cond, gpointer data)
{
	return G_SOURCE_CONTINUE;
}

static int own_poll(int fd)
{
	own_source = g_unix_fd_source_new(fd, G_IO_IN);
	g_source_set_callback(own_source, G_SOURCE_FUNC(own_readable), NULL,
			      NULL);
	g_source_attach(own_source, context);
	return 0;
}

static void own_unpoll(void)
{
	g_source_destroy(own_source);
	g_source_unref(own_source);
	own_source = NULL;
}



const struct host host = {
	.name = "glib",
	.create = create,
	.destroy = destroy,
	.bind = do_bind,
	.unbind = vev_glib_unbind,
	.loop = vev_glib_loop,
	.last_error = vev_glib_last_error,
	.stat = vev_glib_stat,
	.verify = vev_glib_verify,
	.bind_null = bind_null,
	.bind_other = bind_other,
	.run = run,
	.method = method,
	.in_dispatch = in_dispatch,
	.own_poll = own_poll,
	.own_unpoll = own_unpoll,
};
