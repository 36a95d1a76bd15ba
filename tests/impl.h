/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The implementation under test, as the six libvirt functions plus what a
 * test needs to drive and inspect it.  The contract tests are written once
 * against this; impl-native.c and impl-compat.c provide it, and
 * integrations/tests/impl-host.c for each integration. */
#ifndef VEVENT_TEST_IMPL_H
#define VEVENT_TEST_IMPL_H

#include <stdbool.h>

#include "vevent/libvirt-event.h"

struct impl {
	const char *name;
	virEventAddHandleFunc add_handle;
	virEventUpdateHandleFunc update_handle;
	virEventRemoveHandleFunc remove_handle;
	virEventAddTimeoutFunc add_timeout;
	virEventUpdateTimeoutFunc update_timeout;
	virEventRemoveTimeoutFunc remove_timeout;
	/* One iteration; timeout_ms -1 blocks.  Returns >= 0 or -1. */
	int (*run_once)(int timeout_ms);
	/* Internal invariants hold (0), or not (-1). */
	int (*verify)(void);
	/* The loop thread is blocked waiting right now. */
	bool (*is_polling)(void);
	/* Registrations present, and removals whose free callback is due. */
	int (*live)(void);
	int (*pending_frees)(void);
	/* The backend's name, or NULL when the implementation has none. */
	const char *(*backend)(void);
	/* The last error's text, or "" */
	const char *(*last_error)(void);
};

/* impl-common.c: the same questions asked of a native loop. */
struct vev_loop;
int impl_live(struct vev_loop *loop);
int impl_pending_frees(struct vev_loop *loop);
int impl_verify(struct vev_loop *loop);

/* Set up the implementation (register it, create its loop). */
const struct impl *impl_setup(void);

#endif
