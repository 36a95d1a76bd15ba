/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The README's native example: a loop in a helper thread, a timer added
 * from the main thread. */
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include <vevent/vevent.h>

static atomic_int fired;

static void on_timer(int timer, void *opaque)
{
	printf("timer %d fired on the loop thread\n", timer);
	atomic_store(&fired, 1);
}

int main(void)
{
	vev_loop *loop;
	if (vev_loop_new(&loop, VEV_LOOP_AUTO) < 0) {
		fprintf(stderr, "vev_loop_new: %s\n", vev_last_error());
		return 1;
	}
	vev_loop_start_thread(loop);              /* runs vev_run() */
	int t = vev_add_timer(loop, 50, on_timer, NULL, NULL); /* any thread */
	while (!atomic_load(&fired))
		usleep(1000);
	vev_remove_timer(loop, t);
	vev_loop_stop_thread(loop);               /* quits, joins, drains */
	vev_loop_free(loop);
	return 0;
}
