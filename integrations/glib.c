/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vevent-glib: a vevent loop embedded in a GMainContext through one unix-fd
 * source on its embedding descriptor. */
#include <errno.h>

#include <glib-unix.h>

#include "adapter.h"
#include "vevent/vevent-glib.h"

static struct adapter glib_adapter;
ADAPTER_DEFINE_TABLE(glib_adapter, glib_table);

struct glib_host {
	GMainContext *context;
	GSource *source;
};
static struct glib_host glib_host;

static gboolean on_readable(gint fd, GIOCondition condition, gpointer data)
{
	adapter_dispatch(data);
	return G_SOURCE_CONTINUE;
}

static int glib_attach(struct adapter *a, void *host, int fd)
{
	GSource *source = g_unix_fd_source_new(fd, G_IO_IN);

	g_source_set_name(source, "vevent");
	g_source_set_priority(source, G_PRIORITY_DEFAULT);
	g_source_set_callback(source, G_SOURCE_FUNC(on_readable), a, NULL);
	glib_host.context = g_main_context_ref(host);
	glib_host.source = source;
	a->host_data = &glib_host;
	/* Last: from here on, a thread iterating the context may dispatch. */
	g_source_attach(source, host);
	return 0;
}

static void glib_detach(struct adapter *a)
{
	g_source_destroy(glib_host.source);
	g_source_unref(glib_host.source);
	g_main_context_unref(glib_host.context);
	glib_host = (struct glib_host){ NULL, NULL };
}

static const struct adapter_host_ops glib_ops = {
	.attach = glib_attach,
	.detach = glib_detach,
};

static struct adapter glib_adapter =
	ADAPTER_INITIALIZER("vev_glib", &glib_ops, &glib_table);

int vev_glib_bind(GMainContext *context, const struct vev_event_impl **impl)
{
	if (!impl)
		return adapter_fail(&glib_adapter, EINVAL, "bind: impl is NULL");
	return adapter_bind(&glib_adapter,
			    context ? context : g_main_context_default(), impl);
}

int vev_glib_unbind(void)
{
	return adapter_unbind(&glib_adapter);
}

vev_loop *vev_glib_loop(void)
{
	return adapter_loop(&glib_adapter);
}

const char *vev_glib_last_error(void)
{
	return adapter_last_error();
}

int vev_glib_stat(enum vev_stat which, uint64_t *value)
{
	return adapter_stat(&glib_adapter, which, value);
}

int vev_glib_verify(void)
{
	return adapter_verify(&glib_adapter);
}
