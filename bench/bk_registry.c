/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The backends linked into this program.  Meson compiles this file per
 * program with one BK_HAVE_* macro per adapter it links.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <string.h>

#include "bk.h"

extern const struct bk_ops bk_floor_ops;
extern const struct bk_ops bk_vevent_epoll_ops;
extern const struct bk_ops bk_vevent_poll_ops;
extern const struct bk_ops bk_compat_ops;
extern const struct bk_ops bk_libev_ops;
extern const struct bk_ops bk_libevent_ops;
extern const struct bk_ops bk_libuv_ops;
extern const struct bk_ops bk_glib_ops;

static const struct bk_ops *const bk_all[] = {
#ifdef BK_HAVE_FLOOR
	&bk_floor_ops,
#endif
#ifdef BK_HAVE_VEVENT
	&bk_vevent_epoll_ops,
	&bk_vevent_poll_ops,
#endif
#ifdef BK_HAVE_COMPAT
	&bk_compat_ops,
#endif
#ifdef BK_HAVE_LIBEV
	&bk_libev_ops,
#endif
#ifdef BK_HAVE_LIBEVENT
	&bk_libevent_ops,
#endif
#ifdef BK_HAVE_LIBUV
	&bk_libuv_ops,
#endif
#ifdef BK_HAVE_GLIB
	&bk_glib_ops,
#endif
	NULL,
};

const struct bk_ops *bk_find(const char *name)
{
	for (int i = 0; bk_all[i]; i++)
		if (strcmp(bk_all[i]->name, name) == 0)
			return bk_all[i];
	return NULL;
}

void bk_list(void)
{
	for (int i = 0; bk_all[i]; i++)
		printf("%s\t%s\n", bk_all[i]->name, bk_all[i]->describe());
}
