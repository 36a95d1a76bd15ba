/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The three integrations' static archives in one program: each carries its
 * own copy of the adapter under its own names, so they link, and each
 * serves its own host loop.  (A program registers only one table with
 * libvirt; a program may still use several host loops.) */
#include <event2/event.h>
#include <glib.h>
#include <stdio.h>
#include <uv.h>

#include "vevent/vevent-glib.h"
#include "vevent/vevent-libevent.h"
#include "vevent/vevent-libuv.h"

static int fired[3];

static void on_timer(int timer, void *opaque)
{
	(*(int *)opaque)++;
}

#define CHECK(cond)                                                      \
	do {                                                             \
		if (!(cond)) {                                           \
			fprintf(stderr, "check failed: %s\n", #cond);    \
			return 1;                                        \
		}                                                        \
	} while (0)

int main(void)
{
	const struct vev_event_impl *gl, *le, *lu;
	GMainContext *ctx = g_main_context_new();
	struct event_base *base = event_base_new();
	uv_loop_t loop;

	CHECK(ctx && base && uv_loop_init(&loop) == 0);
	CHECK(vev_glib_bind(ctx, &gl) == 0);
	CHECK(vev_libevent_bind(base, &le) == 0);
	CHECK(vev_libuv_bind(&loop, &lu) == 0);
	CHECK(gl != le && le != lu && gl != lu);
	CHECK(gl->add_timeout(0, on_timer, &fired[0], NULL) == 1);
	CHECK(le->add_timeout(0, on_timer, &fired[1], NULL) == 1);
	CHECK(lu->add_timeout(0, on_timer, &fired[2], NULL) == 1);
	g_main_context_iteration(ctx, FALSE);
	event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
	uv_run(&loop, UV_RUN_NOWAIT);
	CHECK(fired[0] == 1 && fired[1] == 1 && fired[2] == 1);
	CHECK(vev_glib_unbind() == 0);
	CHECK(vev_libevent_unbind() == 0);
	CHECK(vev_libuv_unbind() == 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	CHECK(uv_loop_close(&loop) == 0);
	event_base_free(base);
	g_main_context_unref(ctx);
	printf("ok\n");
	return 0;
}
