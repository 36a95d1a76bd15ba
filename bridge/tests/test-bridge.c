/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* vev_libvirt_register(): its errors, and that each of the six libvirt
 * functions reaches the registered loop.  Registration is process-wide, so
 * each test runs in its own process. */
#include <fcntl.h>
#include <sys/stat.h>

#include "lvtest.h"

static vev_loop *new_loop(void)
{
	vev_loop *loop;
	CHECK_EQ(vev_loop_new(&loop, VEV_LOOP_AUTO), 0);
	return loop;
}

/* libvirt writes its warnings on stderr; capture them in a file. */
static int stderr_saved = -1;
static char capture_path[64];

static void capture_stderr(void)
{
	snprintf(capture_path, sizeof(capture_path), "/tmp/vev-bridge.XXXXXX");
	int fd = mkstemp(capture_path);
	CHECK(fd >= 0);
	fflush(stderr);
	stderr_saved = dup(2);
	CHECK(dup2(fd, 2) == 2);
	close(fd);
}

/* Restores stderr and returns what was written meanwhile (static buffer). */
static const char *captured_stderr(void)
{
	static char text[4096];
	fflush(stderr);
	dup2(stderr_saved, 2);
	close(stderr_saved);
	int fd = open(capture_path, O_RDONLY);
	CHECK(fd >= 0);
	ssize_t n = read(fd, text, sizeof(text) - 1);
	text[n > 0 ? n : 0] = 0;
	close(fd);
	unlink(capture_path);
	return text;
}

static void register_rejects_a_null_loop(void)
{
	CHECK_EQ(vev_libvirt_register(NULL), -EINVAL);
	CHECK(strstr(vev_libvirt_last_error(), "NULL") != NULL);
	CHECK(vev_libvirt_loop() == NULL);
	/* Nothing was registered: libvirt still has no implementation. */
	CHECK_EQ(virEventAddTimeout(-1, NULL, NULL, NULL), -1);
}

static void register_twice_is_an_error(void)
{
	vev_loop *loop = new_loop(), *other = new_loop();
	CHECK_EQ(vev_libvirt_register(loop), 0);
	CHECK(vev_libvirt_loop() == loop);
	CHECK_EQ(vev_libvirt_register(loop), -EALREADY);
	CHECK(strstr(vev_libvirt_last_error(), "already registered") != NULL);
	CHECK_EQ(vev_libvirt_register(other), -EALREADY);
	CHECK(strstr(vev_libvirt_last_error(), "another vevent loop") != NULL);
	CHECK(vev_libvirt_loop() == loop);
	CHECK_EQ(vev_loop_free(other), 0);
}

static void register_after_libvirt_default_impl_is_an_error(void)
{
	CHECK_EQ(virEventRegisterDefaultImpl(), 0);
	vev_loop *loop = new_loop();
	capture_stderr();
	int rc = vev_libvirt_register(loop);
	const char *err = captured_stderr();
	CHECK_EQ(rc, -EBUSY);
	CHECK(strstr(vev_libvirt_last_error(), "already has an event loop") !=
	      NULL);
	CHECK(vev_libvirt_loop() == NULL);
	/* Detected before registering: libvirt had nothing to warn about. */
	if (strstr(err, "Ignoring attempt"))
		lvtest_fail(__FILE__, __LINE__, "libvirt warned: %s", err);
	uint64_t timers;
	CHECK_EQ(vev_loop_stat(loop, VEV_STAT_TIMERS, &timers), 0);
	CHECK_EQ(timers, 0);
	CHECK_EQ(vev_loop_free(loop), 0);
}

/* A foreign table that records what reaches it. */
static int foreign_calls[6];

static int f_add_handle(int fd, int ev, virEventHandleCallback cb, void *o,
			virFreeCallback ff)
{
	foreign_calls[0]++;
	return 10;
}

static void f_update_handle(int w, int ev)
{
	foreign_calls[1]++;
}

static int f_remove_handle(int w)
{
	foreign_calls[2]++;
	return 0;
}

static int f_add_timeout(int t, virEventTimeoutCallback cb, void *o,
			 virFreeCallback ff)
{
	foreign_calls[3]++;
	return 20;
}

static void f_update_timeout(int t, int ms)
{
	foreign_calls[4]++;
}

static int f_remove_timeout(int t)
{
	foreign_calls[5]++;
	return 0;
}

static void register_after_a_foreign_impl_is_an_error(void)
{
	virEventRegisterImpl(f_add_handle, f_update_handle, f_remove_handle,
			     f_add_timeout, f_update_timeout, f_remove_timeout);
	vev_loop *loop = new_loop();
	CHECK_EQ(vev_libvirt_register(loop), -EBUSY);
	CHECK(vev_libvirt_loop() == NULL);
	/* The check added one disabled timer there and removed it. */
	CHECK_EQ(foreign_calls[3], 1);
	CHECK_EQ(foreign_calls[5], 1);
	CHECK_EQ(foreign_calls[0] + foreign_calls[1] + foreign_calls[2] +
			 foreign_calls[4],
		 0);
	/* libvirt still uses the foreign table. */
	CHECK_EQ(virEventAddTimeout(5, NULL, NULL, NULL), 20);
	CHECK_EQ(vev_loop_free(loop), 0);
}

static void register_after_a_handles_only_impl_is_an_error(void)
{
	virEventRegisterImpl(f_add_handle, f_update_handle, f_remove_handle,
			     NULL, NULL, NULL);
	vev_loop *loop = new_loop();
	capture_stderr();
	int rc = vev_libvirt_register(loop);
	captured_stderr(); /* libvirt's "Ignoring attempt" warning */
	CHECK_EQ(rc, -EBUSY);
	CHECK(strstr(vev_libvirt_last_error(), "ignored") != NULL);
	CHECK(vev_libvirt_loop() == NULL);
	CHECK_EQ(virEventAddHandle(0, VIR_EVENT_HANDLE_READABLE, NULL, NULL,
				   NULL),
		 10);
	CHECK_EQ(vev_loop_free(loop), 0);
}

static vev_loop *race_loops[2];
static int race_rc[2];

static void *race_register(void *arg)
{
	int i = (int)(intptr_t)arg;
	race_rc[i] = vev_libvirt_register(race_loops[i]);
	return NULL;
}

static void concurrent_registrations_one_wins(void)
{
	pthread_t th[2];
	race_loops[0] = new_loop();
	race_loops[1] = new_loop();
	for (int i = 0; i < 2; i++)
		CHECK_EQ(pthread_create(&th[i], NULL, race_register,
					(void *)(intptr_t)i),
			 0);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	int winner = race_rc[0] == 0 ? 0 : 1;
	CHECK_EQ(race_rc[winner], 0);
	CHECK_EQ(race_rc[1 - winner], -EALREADY);
	CHECK(vev_libvirt_loop() == race_loops[winner]);
	CHECK_EQ(vev_loop_free(race_loops[1 - winner]), 0);
}

/* ---- forwarding --------------------------------------------------------- */

static int handle_calls, handle_events, timer_calls, frees;

static void on_handle(int watch, int fd, int events, void *opaque)
{
	handle_calls++;
	handle_events |= events;
	char c;
	(void)!read(fd, &c, 1);
}

static void on_timer(int timer, void *opaque)
{
	timer_calls++;
}

static void on_free(void *opaque)
{
	frees++;
}

static void each_libvirt_function_reaches_the_loop(void)
{
	vev_loop *loop = lvtest_register_loop();
	int p[2];
	CHECK_EQ(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);

	/* Through libvirt's own exported functions, as libvirt calls them. */
	int w = virEventAddHandle(p[0], VIR_EVENT_HANDLE_READABLE, on_handle,
				  NULL, on_free);
	CHECK(w > 0);
	int t = virEventAddTimeout(-1, on_timer, NULL, on_free);
	CHECK(t > 0);
	uint64_t n;
	CHECK_EQ(vev_loop_stat(loop, VEV_STAT_HANDLES, &n), 0);
	CHECK_EQ(n, 1);
	CHECK_EQ(vev_loop_stat(loop, VEV_STAT_TIMERS, &n), 0);
	CHECK_EQ(n, 1);

	CHECK_EQ(write(p[1], "x", 1), 1);
	CHECK_EQ(vev_run_once(loop, 5000), 1);
	CHECK_EQ(handle_calls, 1);
	CHECK_EQ(handle_events, VIR_EVENT_HANDLE_READABLE);

	/* Update: the watch stops asking, the timer fires at once. */
	virEventUpdateHandle(w, 0);
	virEventUpdateTimeout(t, 0);
	CHECK_EQ(write(p[1], "x", 1), 1);
	CHECK_EQ(vev_run_once(loop, 5000), 1);
	CHECK_EQ(timer_calls, 1);
	CHECK_EQ(handle_calls, 1);
	virEventUpdateTimeout(t, -1);

	/* Removal: free callbacks run on the loop, not inside the call. */
	CHECK_EQ(virEventRemoveHandle(w), 0);
	CHECK_EQ(virEventRemoveTimeout(t), 0);
	CHECK_EQ(frees, 0);
	CHECK_EQ(vev_run_once(loop, VEV_NO_WAIT), 0);
	CHECK_EQ(frees, 2);

	/* libvirt's return conventions for what the loop rejects. */
	CHECK_EQ(virEventRemoveHandle(w), -1);
	CHECK_EQ(virEventRemoveTimeout(t), -1);
	virEventUpdateHandle(w, VIR_EVENT_HANDLE_READABLE); /* no-op */
	virEventUpdateTimeout(t, 10);
	CHECK_EQ(virEventAddHandle(-1, VIR_EVENT_HANDLE_READABLE, on_handle,
				   NULL, on_free),
		 -1);
	CHECK(strstr(vev_last_error(), "fd") != NULL ||
	      strstr(vev_last_error(), "descriptor") != NULL);
	CHECK_EQ(virEventAddTimeout(0, NULL, NULL, on_free), -1);
	CHECK_EQ(frees, 2); /* failed adds never call ff */

	close(p[0]);
	close(p[1]);
	lvtest_check_loop_clean(loop, false);
}

static void registration_reaches_libvirt_from_another_thread(void)
{
	/* libvirt calls the table from its own threads too: add from one,
	 * run on another, remove from a third. */
	vev_loop *loop = lvtest_register_loop();
	CHECK_EQ(vev_loop_start_thread(loop), 0);
	pthread_t loop_thread = lvtest_loop_thread(loop);
	CHECK(!pthread_equal(loop_thread, pthread_self()));
	int t = virEventAddTimeout(0, on_timer, NULL, on_free);
	CHECK(t > 0);
	CHECK_EQ(virEventRemoveTimeout(t), 0);
	lvtest_check_loop_clean(loop, true);
	CHECK_EQ(frees, 1);
}

/* Less than meson.build's timeout, so that a hang is reported here. */
const unsigned lvtest_watchdog = 25;

const struct lvtest tests[] = {
	{ "register_rejects_a_null_loop", register_rejects_a_null_loop },
	{ "register_twice_is_an_error", register_twice_is_an_error },
	{ "register_after_libvirt_default_impl_is_an_error",
	  register_after_libvirt_default_impl_is_an_error },
	{ "register_after_a_foreign_impl_is_an_error",
	  register_after_a_foreign_impl_is_an_error },
	{ "register_after_a_handles_only_impl_is_an_error",
	  register_after_a_handles_only_impl_is_an_error },
	{ "concurrent_registrations_one_wins",
	  concurrent_registrations_one_wins },
	{ "each_libvirt_function_reaches_the_loop",
	  each_libvirt_function_reaches_the_loop },
	{ "registration_reaches_libvirt_from_another_thread",
	  registration_reaches_libvirt_from_another_thread },
	{ NULL, NULL },
};
