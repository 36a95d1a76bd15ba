/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The smallest libvirt-style program: the README's compat example. */
#include <stdio.h>
#include <unistd.h>

#include <vevent/libvirt-event.h> /* instead of <libvirt/libvirt.h> */

static int ticks;

static void on_stdin(int watch, int fd, int events, void *opaque)
{
	char buf[256];
	ssize_t n = read(fd, buf, sizeof(buf));
	printf("stdin: %zd bytes%s\n", n,
	       events & VIR_EVENT_HANDLE_HANGUP ? " (hangup)" : "");
	if (n <= 0)
		virEventRemoveHandle(watch); /* end of input */
}

static void on_tick(int timer, void *opaque)
{
	printf("tick %d\n", ++ticks);
	if (ticks == 3)
		virEventRemoveTimeout(timer);
}

int main(void)
{
	if (virEventRegisterDefaultImpl() < 0) {
		fprintf(stderr, "%s\n", vev_compat_last_error());
		return 1;
	}
	virEventAddHandle(STDIN_FILENO, VIR_EVENT_HANDLE_READABLE, on_stdin,
			  NULL, NULL);
	virEventAddTimeout(100, on_tick, NULL, NULL);
	while (ticks < 3)
		if (virEventRunDefaultImpl() < 0)
			return 1;
	return 0;
}
