/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A client of a private libvirtd (docs/design.md, "Tests against real
 * components"; see lvd.h) whose event loop is vevent's, run by the helper
 * thread: events, keepalive in both directions, and a clean end.  Each test
 * starts its own daemon, whose keepalive pings every second and gives up after
 * 2 unanswered; the test itself runs in a child process of the one that
 * supervises the daemon. */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "lvd.h"
#include "lvtest.h"

static const char *uri;
static pid_t daemon_pid;
static char sock_path[108];

static void need_daemon(void)
{
	if (!getenv("VEVENT_TEST_LIBVIRTD_URI"))
		lvd_fork(1, 2); /* returns in the child; skips if it cannot */
	uri = getenv("VEVENT_TEST_LIBVIRTD_URI");
	const char *pid = getenv("VEVENT_TEST_LIBVIRTD_PID");
	const char *dir = getenv("VEVENT_TEST_LIBVIRTD_DIR");
	if (!uri || !pid || !dir)
		lvtest_fail(__FILE__, __LINE__, "no private libvirtd");
	daemon_pid = (pid_t)atoi(pid);
	snprintf(sock_path, sizeof(sock_path), "%s/run/libvirt-sock", dir);
}

struct client {
	vev_loop *loop;
	virConnectPtr conn;
	struct recorder rec;
	int cb;
};

/* Register the loop and start it before opening the connection, as libvirt
 * requires; subscribe to lifecycle events and to the close callback. */
static void client_open(struct client *c, int ka_interval, int ka_count)
{
	need_daemon();
	c->loop = lvtest_register_loop();
	CHECK_EQ(vev_loop_start_thread(c->loop), 0);
	recorder_init(&c->rec);
	c->conn = virConnectOpen(uri);
	if (!c->conn)
		lvtest_fail(__FILE__, __LINE__, "virConnectOpen(%s): %s", uri,
			    virGetLastErrorMessage());
	if (ka_interval > 0)
		CHECK_EQ(virConnectSetKeepAlive(c->conn, ka_interval, ka_count),
			 0);
	c->cb = virConnectDomainEventRegisterAny(
		c->conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
		VIR_DOMAIN_EVENT_CALLBACK(recorder_lifecycle), &c->rec,
		recorder_free);
	CHECK(c->cb >= 0);
	CHECK_EQ(virConnectRegisterCloseCallback(c->conn, recorder_closed,
						 &c->rec, recorder_free),
		 0);
}

/* Deregister and close; on a connection already closed the calls fail but
 * libvirt still releases everything. */
static void client_close(struct client *c, bool alive)
{
	int rc = virConnectDomainEventDeregisterAny(c->conn, c->cb);
	int rc2 = virConnectUnregisterCloseCallback(c->conn, recorder_closed);
	if (alive) {
		CHECK_EQ(rc, 0);
		CHECK_EQ(rc2, 0);
	}
	/* The count of references left: libvirt may hold one briefly. */
	CHECK(virConnectClose(c->conn) >= 0);
	lvtest_check_loop_clean(c->loop, true);
	CHECK_EQ(c->rec.frees, 2);
}

/* The client's socket to the daemon, found by its peer's address. */
static int client_socket(void)
{
	DIR *d = opendir("/proc/self/fd");
	CHECK(d != NULL);
	int found = -1, matches = 0;
	for (struct dirent *e; (e = readdir(d));) {
		int fd = atoi(e->d_name);
		struct sockaddr_un sa;
		socklen_t len = sizeof(sa);
		if (e->d_name[0] == '.' || fd == dirfd(d))
			continue;
		if (getpeername(fd, (struct sockaddr *)&sa, &len) == 0 &&
		    sa.sun_family == AF_UNIX &&
		    strcmp(sa.sun_path, sock_path) == 0) {
			found = fd;
			matches++;
		}
	}
	closedir(d);
	CHECK_EQ(matches, 1);
	return found;
}

static void events_from_a_second_connection_arrive(void)
{
	/* The daemon's keepalive does it; the client's own would not fire
	 * while paused, and at resume libvirt 9.0 leaks the ping it queues on
	 * the dropped connection (valgrind shows the same with libvirt's own
	 * event loop). */
	struct client c;
	client_open(&c, 0, 0);
	pthread_t loop_thread = lvtest_loop_thread(c.loop);

	virConnectPtr other = virConnectOpen(uri);
	CHECK(other != NULL);
	virDomainPtr dom = virDomainLookupByName(other, "test");
	CHECK(dom != NULL);
	CHECK_EQ(virDomainSuspend(dom), 0);
	CHECK_EQ(virDomainResume(dom), 0);
	CHECK_EQ(virDomainDestroy(dom), 0);
	CHECK_EQ(virDomainCreate(dom), 0);
	virDomainFree(dom);
	CHECK_EQ(virConnectClose(other), 0);

	CHECK(recorder_wait_events(&c.rec, 4, 10000));
	recorder_check(&c.rec, 0, "test", VIR_DOMAIN_EVENT_SUSPENDED,
		       VIR_DOMAIN_EVENT_SUSPENDED_PAUSED);
	recorder_check(&c.rec, 1, "test", VIR_DOMAIN_EVENT_RESUMED,
		       VIR_DOMAIN_EVENT_RESUMED_UNPAUSED);
	recorder_check(&c.rec, 2, "test", VIR_DOMAIN_EVENT_STOPPED,
		       VIR_DOMAIN_EVENT_STOPPED_DESTROYED);
	recorder_check(&c.rec, 3, "test", VIR_DOMAIN_EVENT_STARTED,
		       VIR_DOMAIN_EVENT_STARTED_BOOTED);
	/* The connection's own RPC still works, and no event came twice. */
	CHECK(virConnectGetLibVersion(c.conn, &(unsigned long){ 0 }) == 0);
	pthread_mutex_lock(&c.rec.lock);
	int nevents = c.rec.nevents;
	pthread_mutex_unlock(&c.rec.lock);
	CHECK_EQ(nevents, 4);
	CHECK(pthread_equal(c.rec.thread, loop_thread));
	client_close(&c, true);
	CHECK_EQ(c.rec.close_reason, -1);
}

static uint64_t handle_calls(vev_loop *loop)
{
	uint64_t n = 0;
	CHECK_EQ(vev_loop_stat(loop, VEV_STAT_HANDLE_CALLS, &n), 0);
	return n;
}

static void keepalive_keeps_an_idle_connection_open(void)
{
	/* The daemon pings every second and drops a client after 2 missed
	 * answers; the client does the same. */
	struct client c;
	client_open(&c, 1, 2);
	uint64_t before = handle_calls(c.loop);
	/* Five intervals with no traffic but keepalive: nothing may close. */
	CHECK(!recorder_wait_closed(&c.rec, 5000));
	CHECK_EQ(virConnectIsAlive(c.conn), 1);
	/* Pings and pongs went through the loop's watch on the socket. */
	CHECK(handle_calls(c.loop) - before >= 4);
	unsigned long version = 0;
	CHECK_EQ(virConnectGetLibVersion(c.conn, &version), 0);
	CHECK(version > 0);
	client_close(&c, true);
}

static void paused_loop_lets_the_daemon_keepalive_close(void)
{
	/* The daemon's keepalive does it; the client's own would not fire
	 * while paused, and at resume libvirt 9.0 leaks the ping it queues on
	 * the dropped connection (valgrind shows the same with libvirt's own
	 * event loop). */
	struct client c;
	client_open(&c, 0, 0);
	/* Pause: nobody answers the daemon's pings any more. */
	CHECK_EQ(vev_loop_stop_thread(c.loop), 0);
	int fd = client_socket();
	struct pollfd p = { .fd = fd, .events = POLLRDHUP };
	int64_t deadline = lvtest_now_ms() + 20000;
	while (!(p.revents & (POLLRDHUP | POLLHUP))) {
		int left = (int)(deadline - lvtest_now_ms());
		CHECK(left > 0);
		CHECK(poll(&p, 1, left) >= 0);
	}
	CHECK_EQ(c.rec.close_reason, -1); /* the loop is not running */
	/* Resume: the client learns it was dropped, and says why. */
	CHECK_EQ(vev_loop_start_thread(c.loop), 0);
	CHECK(recorder_wait_closed(&c.rec, 10000));
	CHECK_EQ(c.rec.close_reason, VIR_CONNECT_CLOSE_REASON_EOF);
	CHECK_EQ(virConnectIsAlive(c.conn), 0);
	/* The daemon's log names the cause. */
	char log[256], line[1024];
	bool keepalive = false;
	snprintf(log, sizeof(log), "%s/libvirtd.log",
		 getenv("VEVENT_TEST_LIBVIRTD_DIR"));
	FILE *f = fopen(log, "r");
	CHECK(f != NULL);
	while (fgets(line, sizeof(line), f))
		keepalive = keepalive || strstr(line, "keepalive") != NULL;
	fclose(f);
	CHECK(keepalive);
	client_close(&c, false);
}

static void frozen_daemon_is_detected_by_the_client_keepalive(void)
{
	struct client c;
	client_open(&c, 1, 2);
	CHECK_EQ(kill(daemon_pid, SIGSTOP), 0);
	/* interval * (count + 1) = 3 s, plus rounding to whole seconds. */
	bool closed = recorder_wait_closed(&c.rec, 15000);
	kill(daemon_pid, SIGCONT);
	CHECK(closed);
	CHECK_EQ(c.rec.close_reason, VIR_CONNECT_CLOSE_REASON_KEEPALIVE);
	CHECK_EQ(virConnectIsAlive(c.conn), 0);
	client_close(&c, false);
}

static void killed_daemon_is_reported_as_end_of_file(void)
{
	struct client c;
	client_open(&c, 1, 2);
	CHECK_EQ(kill(daemon_pid, SIGKILL), 0);
	CHECK(recorder_wait_closed(&c.rec, 10000));
	CHECK_EQ(c.rec.close_reason, VIR_CONNECT_CLOSE_REASON_EOF);
	CHECK(virDomainLookupByName(c.conn, "test") == NULL);
	client_close(&c, false);
}

static void closing_everything_leaves_no_registration(void)
{
	/* Two connections on one loop, each with keepalive, an event
	 * callback and a close callback, and events in flight. */
	struct client a, b;
	client_open(&a, 1, 2);
	recorder_init(&b.rec);
	b.loop = a.loop;
	b.conn = virConnectOpen(uri);
	CHECK(b.conn != NULL);
	CHECK_EQ(virConnectSetKeepAlive(b.conn, 1, 2), 0);
	b.cb = virConnectDomainEventRegisterAny(
		b.conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
		VIR_DOMAIN_EVENT_CALLBACK(recorder_lifecycle), &b.rec,
		recorder_free);
	CHECK(b.cb >= 0);
	CHECK_EQ(virConnectRegisterCloseCallback(b.conn, recorder_closed,
						 &b.rec, recorder_free),
		 0);
	uint64_t watches;
	CHECK_EQ(vev_loop_stat(a.loop, VEV_STAT_HANDLES, &watches), 0);
	CHECK(watches >= 2); /* a socket each */

	virDomainPtr dom = virDomainLookupByName(b.conn, "test");
	CHECK(dom != NULL);
	CHECK_EQ(virDomainSuspend(dom), 0);
	CHECK_EQ(virDomainResume(dom), 0);
	virDomainFree(dom);
	CHECK(recorder_wait_events(&a.rec, 2, 10000));
	CHECK(recorder_wait_events(&b.rec, 2, 10000));

	CHECK_EQ(virConnectDomainEventDeregisterAny(b.conn, b.cb), 0);
	CHECK_EQ(virConnectUnregisterCloseCallback(b.conn, recorder_closed), 0);
	CHECK(virConnectClose(b.conn) >= 0);
	/* Stops the loop's thread, then checks the loop is empty and every
	 * free callback ran: b's may have been left to the loop if one of
	 * its events was being delivered. */
	client_close(&a, true);
	CHECK_EQ(b.rec.frees, 2);
	CHECK_EQ(b.rec.close_reason, -1);
	CHECK_EQ(a.rec.close_reason, -1);
}

/* Less than meson.build's timeout, so that a hang is reported here. */
const unsigned lvtest_watchdog = 80;

const struct lvtest tests[] = {
	{ "events_from_a_second_connection_arrive",
	  events_from_a_second_connection_arrive },
	{ "keepalive_keeps_an_idle_connection_open",
	  keepalive_keeps_an_idle_connection_open },
	{ "paused_loop_lets_the_daemon_keepalive_close",
	  paused_loop_lets_the_daemon_keepalive_close },
	{ "frozen_daemon_is_detected_by_the_client_keepalive",
	  frozen_daemon_is_detected_by_the_client_keepalive },
	{ "killed_daemon_is_reported_as_end_of_file",
	  killed_daemon_is_reported_as_end_of_file },
	{ "closing_everything_leaves_no_registration",
	  closing_everything_leaves_no_registration },
	{ NULL, NULL },
};
