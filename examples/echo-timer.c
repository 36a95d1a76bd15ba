/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vevent demo: an echo over a socketpair plus a periodic timer that prints
 * the loop's statistics, on the native API.  Exits by itself.
 *
 *   client --"ping N"--> server --"ping N"--> client  (N = 1..ROUNDS)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vevent/vevent.h>

#define ROUNDS 5

struct demo {
	vev_loop *loop;
	int sv[2]; /* [0] client, [1] server */
	int client_watch, server_watch, stats_timer;
	int sent, echoed;
};

static void die(const char *what, int rc)
{
	fprintf(stderr, "echo-timer: %s: %s\n", what,
		rc < 0 ? vev_last_error() : strerror(errno));
	exit(1);
}

static void send_ping(struct demo *d)
{
	char msg[32];
	int n = snprintf(msg, sizeof(msg), "ping %d", ++d->sent);
	if (write(d->sv[0], msg, (size_t)n) != n)
		die("write", 0);
	printf("client: sent    \"%s\"\n", msg);
}

/* The server echoes whatever it reads. */
static void on_server(int watch, int fd, int events, void *opaque)
{
	char buf[64];
	ssize_t n = read(fd, buf, sizeof(buf));
	if (n > 0 && write(fd, buf, (size_t)n) != n)
		die("echo", 0);
}

static void on_client(int watch, int fd, int events, void *opaque)
{
	struct demo *d = opaque;
	char buf[64];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return;
	buf[n] = '\0';
	printf("client: echoed  \"%s\"\n", buf);
	if (++d->echoed < ROUNDS)
		send_ping(d);
}

static void print_stats(vev_loop *loop)
{
	static const char *names[] = { "iterations", "handle calls",
				       "timer calls", "free calls" };
	printf("stats:");
	for (int i = 0; i <= VEV_STAT_FREE_CALLS; i++) {
		uint64_t v;
		vev_loop_stat(loop, (enum vev_stat)i, &v);
		printf(" %s=%llu", names[i], (unsigned long long)v);
	}
	printf("\n");
}

static void on_stats(int timer, void *opaque)
{
	struct demo *d = opaque;
	print_stats(d->loop);
	if (d->echoed == ROUNDS) {
		/* Done: remove everything; the loop stops when it is empty. */
		vev_remove_handle(d->loop, d->client_watch);
		vev_remove_handle(d->loop, d->server_watch);
		vev_remove_timer(d->loop, timer);
		vev_quit(d->loop);
	}
}

static void on_free(void *opaque)
{
	printf("free callback: %s\n", (const char *)opaque);
}

int main(void)
{
	struct demo d = { 0 };
	int rc;

	if ((rc = vev_loop_new(&d.loop, VEV_LOOP_AUTO)) < 0)
		die("vev_loop_new", rc);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, d.sv) < 0)
		die("socketpair", 0);
	printf("vevent %s, backend %s\n", vev_version(),
	       vev_loop_backend(d.loop));

	d.client_watch = vev_add_handle(d.loop, d.sv[0], VEV_READABLE,
					on_client, &d, NULL);
	d.server_watch = vev_add_handle(d.loop, d.sv[1], VEV_READABLE,
					on_server, "server watch", on_free);
	d.stats_timer = vev_add_timer(d.loop, 20, on_stats, &d, NULL);
	if (d.client_watch < 0 || d.server_watch < 0 || d.stats_timer < 0)
		die("add", -1);

	send_ping(&d);
	if ((rc = vev_run(d.loop)) < 0)
		die("vev_run", rc);
	/* Removals made in the last iteration have had their free callbacks
	 * run by the end of it; drain catches any still pending. */
	vev_loop_drain(d.loop);
	print_stats(d.loop);
	close(d.sv[0]);
	close(d.sv[1]);
	vev_loop_free(d.loop);
	return 0;
}
