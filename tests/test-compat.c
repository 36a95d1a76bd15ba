/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The compat layer's registration rules (docs/design.md, "The contract",
 * rules 10-12):
 * each test runs in a fresh process, since registration is process-wide. */
#define TEST_HARNESS_MAIN
#include "harness.h"
#include "vevent/libvirt-event.h"
#include "vevent/vevent.h"

static int calls;

static void handle_cb(int watch, int fd, int events, void *opaque)
{
	calls++;
}

static void timer_cb(int timer, void *opaque)
{
	calls++;
}

/* A custom implementation that records what reaches it. */
static int custom_calls[6];

static int c_add_handle(int fd, int ev, virEventHandleCallback cb, void *o,
			virFreeCallback ff)
{
	custom_calls[0]++;
	return 100;
}

static void c_update_handle(int w, int ev)
{
	custom_calls[1]++;
}

static int c_remove_handle(int w)
{
	custom_calls[2]++;
	return 0;
}

static int c_add_timeout(int t, virEventTimeoutCallback cb, void *o,
			 virFreeCallback ff)
{
	custom_calls[3]++;
	return 200;
}

static void c_update_timeout(int t, int ms)
{
	custom_calls[4]++;
}

static int c_remove_timeout(int t)
{
	custom_calls[5]++;
	return 0;
}

static void register_custom(void)
{
	virEventRegisterImpl(c_add_handle, c_update_handle, c_remove_handle,
			     c_add_timeout, c_update_timeout, c_remove_timeout);
}

static void rule12_before_registration(void)
{
	test_subject = "compat";
	CHECK_EQ(virEventAddHandle(0, VIR_EVENT_HANDLE_READABLE, handle_cb, NULL,
				   NULL), -1);
	CHECK(strstr(vev_compat_last_error(), "no event loop") != NULL);
	CHECK_EQ(virEventRemoveHandle(1), -1);
	CHECK_EQ(virEventAddTimeout(0, timer_cb, NULL, NULL), -1);
	CHECK_EQ(virEventRemoveTimeout(1), -1);
	virEventUpdateHandle(1, VIR_EVENT_HANDLE_READABLE); /* no-op */
	virEventUpdateTimeout(1, 0);
	CHECK(vev_compat_default_loop() == NULL);
}

static void rule10_run_before_registration_fails(void)
{
	test_subject = "compat";
	/* libvirt aborts here; vevent returns -1 and says why. */
	CHECK_EQ(virEventRunDefaultImpl(), -1);
	CHECK(strstr(vev_compat_last_error(), "virEventRegisterDefaultImpl") !=
	      NULL);
}

static void rule11_default_twice_returns_0(void)
{
	test_subject = "compat";
	CHECK_EQ(virEventRegisterDefaultImpl(), 0);
	struct vev_loop *loop = vev_compat_default_loop();
	CHECK(loop != NULL);
	CHECK_EQ(virEventRegisterDefaultImpl(), 0);
	CHECK(vev_compat_default_loop() == loop);
	int t = virEventAddTimeout(0, timer_cb, NULL, NULL);
	CHECK_EQ(t, 1);
	CHECK_EQ(virEventRunDefaultImpl(), 0);
	CHECK_EQ(calls, 1);
	CHECK_EQ(virEventRemoveTimeout(t), 0);
}

static void rule11_default_after_custom_fails(void)
{
	test_subject = "compat";
	register_custom();
	CHECK_EQ(virEventRegisterDefaultImpl(), -1);
	CHECK(strstr(vev_compat_last_error(), "already registered") != NULL);
	/* libvirt would block forever here. */
	CHECK_EQ(virEventRunDefaultImpl(), -1);
	CHECK(strstr(vev_compat_last_error(), "custom") != NULL);
	CHECK(vev_compat_default_loop() == NULL);
}

static void rule11_custom_impl_receives_calls(void)
{
	test_subject = "compat";
	register_custom();
	CHECK_EQ(virEventAddHandle(0, 1, handle_cb, NULL, NULL), 100);
	virEventUpdateHandle(100, 0);
	CHECK_EQ(virEventRemoveHandle(100), 0);
	CHECK_EQ(virEventAddTimeout(5, timer_cb, NULL, NULL), 200);
	virEventUpdateTimeout(200, 1);
	CHECK_EQ(virEventRemoveTimeout(200), 0);
	for (int i = 0; i < 6; i++)
		CHECK_EQ(custom_calls[i], 1);
}

static void rule11_first_registration_wins(void)
{
	test_subject = "compat";
	CHECK_EQ(virEventRegisterDefaultImpl(), 0);
	register_custom(); /* ignored, with a warning */
	CHECK(strstr(vev_compat_last_error(), "already registered") != NULL);
	int t = virEventAddTimeout(0, timer_cb, NULL, NULL);
	CHECK_EQ(t, 1);
	CHECK_EQ(custom_calls[3], 0);
	CHECK_EQ(virEventRunDefaultImpl(), 0);
	CHECK_EQ(calls, 1);
	CHECK_EQ(virEventRemoveTimeout(t), 0);
}

static void rule11_partial_table_accepted(void)
{
	test_subject = "compat";
	/* libvirt stores partial tables (some register only timeouts); the
	 * missing functions then fail like an unregistered API. */
	virEventRegisterImpl(NULL, NULL, NULL, c_add_timeout, c_update_timeout,
			     c_remove_timeout);
	CHECK_EQ(virEventAddTimeout(1, timer_cb, NULL, NULL), 200);
	CHECK_EQ(virEventAddHandle(0, 1, handle_cb, NULL, NULL), -1);
	CHECK(strstr(vev_compat_last_error(), "addHandle") != NULL);
	virEventUpdateHandle(1, 1);
	CHECK_EQ(virEventRemoveHandle(1), -1);
	CHECK_EQ(virEventRegisterDefaultImpl(), -1);
}

static void backend_env_applies_to_default_loop(void)
{
	test_subject = "compat";
	setenv("VEVENT_BACKEND", "poll", 1);
	CHECK_EQ(virEventRegisterDefaultImpl(), 0);
	CHECK(strcmp(vev_loop_backend(vev_compat_default_loop()), "poll") == 0);
}

static void bad_backend_env_fails_registration(void)
{
	test_subject = "compat";
	setenv("VEVENT_BACKEND", "select", 1);
	CHECK_EQ(virEventRegisterDefaultImpl(), -1);
	CHECK(strstr(vev_compat_last_error(), "VEVENT_BACKEND") != NULL);
	/* Nothing was registered: a corrected retry works. */
	CHECK_EQ(virEventRunDefaultImpl(), -1);
	setenv("VEVENT_BACKEND", "epoll", 1);
	CHECK_EQ(virEventRegisterDefaultImpl(), 0);
}

const struct test tests[] = {
	{ "rule12_before_registration", rule12_before_registration },
	{ "rule10_run_before_registration_fails",
	  rule10_run_before_registration_fails },
	{ "rule11_default_twice_returns_0", rule11_default_twice_returns_0 },
	{ "rule11_default_after_custom_fails", rule11_default_after_custom_fails },
	{ "rule11_custom_impl_receives_calls", rule11_custom_impl_receives_calls },
	{ "rule11_first_registration_wins", rule11_first_registration_wins },
	{ "rule11_partial_table_accepted", rule11_partial_table_accepted },
	{ "backend_env_applies_to_default_loop",
	  backend_env_applies_to_default_loop },
	{ "bad_backend_env_fails_registration",
	  bad_backend_env_fails_registration },
	{ NULL, NULL },
};
