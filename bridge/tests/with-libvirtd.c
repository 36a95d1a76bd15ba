/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* with-libvirtd [-k INTERVAL,COUNT] COMMAND [ARG...]
 *
 * Runs COMMAND next to a private libvirtd whose keepalive is INTERVAL,COUNT
 * (default 1,2), with VEVENT_TEST_LIBVIRTD_URI, _PID and _DIR in its
 * environment (see lvd.h), and exits with its status: 77 (skipped) when the
 * machine cannot run a private libvirtd. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lvd.h"

int main(int argc, char **argv)
{
	int interval = 1, count = 2;
	int argi = 1;

	if (argi + 1 < argc && strcmp(argv[argi], "-k") == 0) {
		if (sscanf(argv[argi + 1], "%d,%d", &interval, &count) != 2) {
			fprintf(stderr, "with-libvirtd: -k INTERVAL,COUNT\n");
			return 2;
		}
		argi += 2;
	}
	if (argi >= argc) {
		fprintf(stderr, "usage: with-libvirtd [-k INTERVAL,COUNT] "
				"COMMAND [ARG...]\n");
		return 2;
	}
	lvd_fork(interval, count);
	execvp(argv[argi], argv + argi);
	fprintf(stderr, "with-libvirtd: %s: %s\n", argv[argi], strerror(errno));
	return 127;
}
