/* SPDX-License-Identifier: LGPL-2.1-or-later */
#ifndef VEVENT_LVD_H
#define VEVENT_LVD_H

/* Starts a private libvirtd whose keepalive is interval,count, then forks.
 * Returns only in the child, which runs next to the daemon with, in its
 * environment:
 *
 *   VEVENT_TEST_LIBVIRTD_URI  test+unix:///default?socket=DIR/run/libvirt-sock
 *   VEVENT_TEST_LIBVIRTD_PID  the daemon's pid (tests stop and kill it)
 *   VEVENT_TEST_LIBVIRTD_DIR  the temporary directory (libvirtd.log in it)
 *
 * The parent waits for the child (forwarding SIGTERM, SIGINT and SIGHUP to
 * it, and killing it if an alarm() set before the call fires), then stops
 * the daemon (also when the child stopped or killed it), removes the
 * directory, prints the daemon's log if the child failed, and exits with the
 * child's status.  The daemon dies with the parent whatever happens
 * (PR_SET_PDEATHSIG).  Exits with 77 (skipped) and a message when the
 * machine cannot run a private libvirtd: not root, or no libvirtd (searched
 * in $LIBVIRTD, then $PATH, /usr/sbin and /usr/local/sbin).  Call it from
 * the main thread: the daemon's death signal follows the thread that
 * forked it. */
void lvd_fork(int interval, int count);

#endif
