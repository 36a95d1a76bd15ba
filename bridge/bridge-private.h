/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test hook of the bridge, reachable only by linking the static library. */
#ifndef VEVENT_BRIDGE_PRIVATE_H
#define VEVENT_BRIDGE_PRIVATE_H

#include <stdint.h>

struct vev__libvirt_counts {
	uint64_t added;          /* successful adds through the bridge */
	uint64_t added_with_ff;  /* ... of which with a free callback */
	uint64_t removed;        /* successful removals through the bridge */
};

void vev__libvirt_counts(struct vev__libvirt_counts *c);

#endif
