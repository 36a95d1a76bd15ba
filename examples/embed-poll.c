/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A vevent loop embedded in a host loop of plain poll(2).
 *
 * The host owns the main loop: it polls its own descriptor (standard input)
 * and the vevent loop's descriptor, vev_loop_fd(), with no timeout of its
 * own, and runs one non-blocking vevent iteration whenever that descriptor
 * is readable.  On the vevent side a periodic timer writes its tick number
 * into a pipe and a watch on the pipe reads it back, so both timers and
 * watches reach the host through the one descriptor.  The program ends by
 * itself after TICKS ticks, once both free callbacks have run.
 *
 *   ./embed-poll < /dev/null
 *   echo hello | ./embed-poll
 *
 * The epoll backend is needed: on the poll backend vev_loop_fd() fails
 * with -ENOTSUP (try VEVENT_BACKEND=poll).
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <vevent/vevent.h>

#define TICKS 5
#define PERIOD_MS 50

struct app {
	vev_loop *loop;
	int pipe[2];
	int ticks;     /* timer callbacks so far */
	int read_back; /* tick numbers the watch has read */
	int freed;     /* free callbacks run (2 at the end) */
	/* The timer's countdown started no earlier than `armed`: the host
	 * notes when each iteration starts, since a periodic timer is re-armed
	 * during the iteration that dispatches it. */
	int64_t iteration_start;
	int64_t armed;
};

static int64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* rc < 0: a vevent error, whose message names the function; else errno. */
static void die(const char *what, int rc)
{
	if (rc < 0)
		fprintf(stderr, "embed-poll: %s\n", vev_last_error());
	else
		fprintf(stderr, "embed-poll: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* ---- the vevent side ---------------------------------------------------- */

static void on_tick(int timer, void *opaque)
{
	struct app *a = opaque;
	unsigned char n = (unsigned char)++a->ticks;

	/* Never early: at least PERIOD_MS since the countdown started. */
	printf("tick %d: %.3f ms after arming (period %d ms)\n", a->ticks,
	       (double)(now_ns() - a->armed) / 1e6, PERIOD_MS);
	a->armed = a->iteration_start;
	if (write(a->pipe[1], &n, 1) != 1)
		die("write", 0);
	if (a->ticks == TICKS)
		vev_remove_timer(a->loop, timer);
}

/* The byte written by a tick is seen in a later iteration: the loop
 * learns it through its own epoll instance, and the host through the
 * loop's descriptor, which is readable whenever that instance is. */
static void on_pipe(int watch, int fd, int events, void *opaque)
{
	struct app *a = opaque;
	unsigned char n;

	if (read(fd, &n, 1) != 1)
		die("read", 0);
	printf("watch: read tick %d\n", n);
	if (++a->read_back == TICKS)
		vev_remove_handle(a->loop, watch);
}

/* Removals made by callbacks are finished, free callbacks included, by the
 * end of the same iteration: nothing is left for the host to wait for. */
static void on_timer_free(void *opaque)
{
	struct app *a = opaque;
	printf("free: timer\n");
	a->freed++;
}

static void on_watch_free(void *opaque)
{
	struct app *a = opaque;
	printf("free: watch\n");
	a->freed++;
}

/* ---- the host ----------------------------------------------------------- */

/* The host's own work: count what arrives on standard input, and stop
 * polling it at end of input (or if it is not open at all). */
static void on_stdin(struct pollfd *p)
{
	char buf[256];
	ssize_t n = p->revents & POLLNVAL ? -1 : read(p->fd, buf, sizeof(buf));

	if (n > 0) {
		printf("host: stdin: %zd bytes\n", n);
		return;
	}
	if (n < 0 && errno == EINTR)
		return;
	printf("host: end of standard input\n");
	p->fd = -1; /* poll(2) skips negative descriptors */
}

int main(void)
{
	struct app a = { 0 };
	int rc, iterations = 0;

	if ((rc = vev_loop_new(&a.loop, VEV_LOOP_AUTO)) < 0)
		die("vev_loop_new", rc);
	/* Asked for once; the number stays the same for the loop's life. */
	int loop_fd = vev_loop_fd(a.loop);
	if (loop_fd < 0)
		die("vev_loop_fd", loop_fd);
	printf("vevent %s, backend %s, loop descriptor %d\n", vev_version(),
	       vev_loop_backend(a.loop), loop_fd);

	if (pipe(a.pipe) < 0)
		die("pipe", 0);
	a.armed = now_ns();
	if ((rc = vev_add_timer(a.loop, PERIOD_MS, on_tick, &a,
				on_timer_free)) < 0 ||
	    (rc = vev_add_handle(a.loop, a.pipe[0], VEV_READABLE, on_pipe, &a,
				 on_watch_free)) < 0)
		die("add", rc);

	struct pollfd fds[] = {
		{ .fd = STDIN_FILENO, .events = POLLIN },
		{ .fd = loop_fd, .events = POLLIN },
	};
	while (a.freed < 2) {
		/* No timeout of the host's own: a due vevent timer makes
		 * loop_fd readable, as do ready watches, pending free
		 * callbacks and changes made by other threads.  (A host that
		 * needs a timeout anyway can take vev_loop_timeout().) */
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll", 0);
		}
		if (fds[0].revents)
			on_stdin(&fds[0]);
		if (fds[1].revents & POLLIN) {
			/* The descriptor needs no reading: the iteration
			 * itself clears what made it readable. */
			a.iteration_start = now_ns();
			if ((rc = vev_run_once(a.loop, VEV_NO_WAIT)) < 0)
				die("vev_run_once", rc);
			iterations++;
		}
	}
	printf("done: %d ticks, %d iterations\n", a.ticks, iterations);

	close(a.pipe[0]);
	close(a.pipe[1]);
	if ((rc = vev_loop_free(a.loop)) < 0)
		die("vev_loop_free", rc);
	return 0;
}
