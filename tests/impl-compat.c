/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The contract's subject: libvirt's virEvent* API on vevent's default
 * implementation.  Blocking iterations go through virEventRunDefaultImpl();
 * bounded ones use the default loop's native run (the compat API has no
 * timeout of its own). */
#include "harness.h"
#include "impl.h"
#include "loop-private.h"
#include "vevent/vevent.h"

static int run_once(int timeout_ms)
{
	if (timeout_ms < 0)
		return virEventRunDefaultImpl();
	int rc = vev_run_once(vev_compat_default_loop(), timeout_ms);
	return rc < 0 ? -1 : rc;
}

static int verify(void)
{
	return impl_verify(vev_compat_default_loop());
}

static bool is_polling(void)
{
	return vev__test_is_polling(vev_compat_default_loop());
}

static int live(void)
{
	return impl_live(vev_compat_default_loop());
}

static int pending_frees(void)
{
	return impl_pending_frees(vev_compat_default_loop());
}

static const char *backend(void)
{
	return vev_loop_backend(vev_compat_default_loop());
}

static const struct impl compat = {
	.name = "compat",
	.add_handle = virEventAddHandle,
	.update_handle = virEventUpdateHandle,
	.remove_handle = virEventRemoveHandle,
	.add_timeout = virEventAddTimeout,
	.update_timeout = virEventUpdateTimeout,
	.remove_timeout = virEventRemoveTimeout,
	.run_once = run_once,
	.verify = verify,
	.is_polling = is_polling,
	.live = live,
	.pending_frees = pending_frees,
	.backend = backend,
	.last_error = vev_compat_last_error,
};

const struct impl *impl_setup(void)
{
	CHECK(virEventRegisterDefaultImpl() == 0);
	return &compat;
}
