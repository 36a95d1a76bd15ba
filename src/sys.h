/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The fallible system calls of the library, wrapped so that tests can make
 * any of them fail (vev__fault_arm() in alloc.h). */
#ifndef VEVENT_SYS_H
#define VEVENT_SYS_H

#include <poll.h>
#include <unistd.h>

#ifdef VEV_HAVE_EPOLL
#include <sys/epoll.h>
int vev__sys_epoll_create1(int flags);
int vev__sys_epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev);
int vev__sys_epoll_wait(int epfd, struct epoll_event *evs, int n, int ms);
#endif

#ifdef VEV_HAVE_EVENTFD
#include <sys/eventfd.h>
int vev__sys_eventfd(unsigned int initval, int flags);
#endif

#ifdef VEV_HAVE_TIMERFD
#include <sys/timerfd.h>
int vev__sys_timerfd_create(int clockid, int flags);
int vev__sys_timerfd_settime(int fd, int flags, const struct itimerspec *its);
#endif

int vev__sys_pipe(int fds[2]);
int vev__sys_poll(struct pollfd *fds, nfds_t n, int ms);

#endif
