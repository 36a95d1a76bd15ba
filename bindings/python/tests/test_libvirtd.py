# SPDX-License-Identifier: LGPL-2.1-or-later
"""libvirt-python on vevent against a private libvirtd, which meson starts
for each run of this file (bridge/tests/with-libvirtd): events caused by a
second connection, keepalive holding an idle connection, a killed daemon
reported through the close callback, each with vevent.libvirt.register()
and with vevent.aio, in a process of its own (libvirt_scenarios.py).
Select one with -k: the killed-daemon scenarios end the daemon."""

import os

import pytest

from test_libvirt import run_scenario

if "VEVENT_TEST_LIBVIRTD_URI" not in os.environ:
    pytest.skip("no private libvirtd (run under bridge/tests/with-libvirtd)",
                allow_module_level=True)


@pytest.mark.parametrize("mode", ["thread", "aio"])
@pytest.mark.parametrize("name", ["second_connection", "keepalive",
                                  "killed"])
def test_daemon(name, mode):
    run_scenario("daemon_%s_%s" % (name, mode), "-W",
                 "error::DeprecationWarning")
