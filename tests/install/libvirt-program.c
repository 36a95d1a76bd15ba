/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A program written for libvirt's event API.  Built against vevent-compat it
 * must behave exactly as it does against libvirt: the only difference is the
 * include line (and the link flags). */
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#ifdef USE_LIBVIRT
#include <libvirt/libvirt.h>
#else
#include <vevent/libvirt-event.h>
#endif

static int reads, ticks, frees;

static void on_readable(int watch, int fd, int events, void *opaque)
{
	char c;
	if (read(fd, &c, 1) == 1)
		printf("watch %d: read '%c' (events %d)\n", watch, c, events);
	reads++;
}

static void on_tick(int timer, void *opaque)
{
	printf("timer %d: tick %d\n", timer, ++ticks);
	if (ticks == 3)
		virEventUpdateTimeout(timer, -1);
}

static void on_spin(int timer, void *opaque)
{
}

static void on_free(void *opaque)
{
	frees++;
}

int main(void)
{
	int s[2];

	if (virEventRegisterDefaultImpl() < 0)
		return 1;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, s) < 0)
		return 1;
	int watch = virEventAddHandle(s[0], VIR_EVENT_HANDLE_READABLE,
				      on_readable, NULL, on_free);
	int timer = virEventAddTimeout(5, on_tick, NULL, on_free);
	if (watch < 0 || timer < 0)
		return 1;
	if (write(s[1], "v", 1) != 1)
		return 1;
	while (reads < 1 || ticks < 3)
		if (virEventRunDefaultImpl() < 0)
			return 1;
	if (virEventRemoveHandle(watch) < 0 || virEventRemoveTimeout(timer) < 0)
		return 1;
	if (virEventRemoveHandle(watch) != -1)
		return 1;
	/* Free callbacks run from the loop; keep it turning until they have.
	 * (A 1 ms timer, not 0 ms: libvirt starves them behind a 0 ms one.) */
	int spin = virEventAddTimeout(1, on_spin, NULL, NULL);
	for (int i = 0; frees < 2 && i < 1000; i++)
		if (virEventRunDefaultImpl() < 0)
			return 1;
	virEventRemoveTimeout(spin);
	printf("frees %d\nok\n", frees);
	return 0;
}
