# SPDX-License-Identifier: LGPL-2.1-or-later
"""vevent.libvirt and vevent.aio with real libvirt-python on
test:///default.  Each scenario runs in a process of its own
(libvirt_scenarios.py): libvirt keeps one event loop per process."""

import os
import subprocess
import sys

import pytest

pytest.importorskip("libvirt", reason="libvirt-python is not installed "
                    "(Debian: python3-libvirt)")
try:
    import vevent._libvirt  # noqa: F401
except ImportError:
    pytest.skip("vevent was built without its libvirt bridge",
                allow_module_level=True)

HERE = os.path.dirname(os.path.abspath(__file__))


def run_scenario(name, *python_args):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    p = subprocess.run(
        [sys.executable, *python_args,
         os.path.join(HERE, "libvirt_scenarios.py"), name],
        env=env, capture_output=True, text=True, timeout=90)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout == "ok\n"
    return p


@pytest.mark.parametrize("name", [
    "thread_lifecycle",
    "main_thread_loop",
    "already_registered",
    "other_implementation",
    "libvirtaio_first",
    "libvirt_python_missing",
    # 1,000 register/unregister cycles of domain callbacks: every opaque
    # released once, no descriptor or memory growth.
    "cycles_thread",
])
def test_register(name):
    run_scenario(name)


@pytest.mark.parametrize("name", [
    "aio_lifecycle",
    "aio_new_asyncio_loop",
    "aio_errors",
    "aio_after_thread_register",
    "cycles_aio",
])
def test_aio(name):
    # Nothing deprecated in 3.12-3.14 (get_event_loop() without a running
    # loop warns from 3.12 on): warnings are errors here.
    run_scenario(name, "-W", "error::DeprecationWarning")
