/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef VEVENT_ERROR_H
#define VEVENT_ERROR_H

/* Record a message for vev_last_error() on this thread and return -err, so
 * that failure paths read `return vev__error(EINVAL, "...")`. */
int vev__error(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
