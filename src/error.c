/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

#include "vevent/vevent.h"

/* Per thread, because every API call may come from any thread and a message
 * must describe the caller's own failure. */
static _Thread_local char last_error[256];

int vev__error(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	return -err;
}

const char *vev_last_error(void)
{
	return last_error;
}
