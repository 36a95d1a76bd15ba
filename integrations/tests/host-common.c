/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the tests ask of any host. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "harness.h"
#include "host.h"

uint64_t host_stat(enum vev_stat which)
{
	uint64_t v = 0;
	CHECK_EQ(host.stat(which, &v), 0);
	return v;
}

uint64_t host_calls(void)
{
	return host_stat(VEV_STAT_HANDLE_CALLS) +
	       host_stat(VEV_STAT_TIMER_CALLS);
}

static bool is_wait_syscall(long nr)
{
	static const long waits[] = {
#ifdef SYS_poll
		SYS_poll,
#endif
#ifdef SYS_ppoll
		SYS_ppoll,
#endif
#ifdef SYS_epoll_wait
		SYS_epoll_wait,
#endif
#ifdef SYS_epoll_pwait
		SYS_epoll_pwait,
#endif
#ifdef SYS_epoll_pwait2
		SYS_epoll_pwait2,
#endif
#ifdef SYS_select
		SYS_select,
#endif
#ifdef SYS_pselect6
		SYS_pselect6,
#endif
	};
	for (size_t i = 0; i < sizeof(waits) / sizeof(waits[0]); i++)
		if (waits[i] == nr)
			return true;
	return false;
}

/* The host loops have no hook inside their wait, so ask the kernel which
 * system call the thread is blocked in. */
bool host_thread_waits(pid_t tid)
{
	char path[64], buf[64];

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", (int)tid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return true;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return true;
	buf[n] = '\0';
	if (strncmp(buf, "running", 7) == 0)
		return false;
	char *end;
	long nr = strtol(buf, &end, 10);
	if (end == buf)
		return true;
	return is_wait_syscall(nr);
}
