# SPDX-License-Identifier: LGPL-2.1-or-later
"""examples/python: each demo prints the four lifecycle events of its
scripted domain on test:///default, in order, and exits 0."""

import os
import subprocess
import sys

import pytest

pytest.importorskip("libvirt", reason="libvirt-python is not installed "
                    "(Debian: python3-libvirt)")

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        "..", "..", "..", "examples", "python")
EXPECTED = ("demo-1 defined (detail 0)\n"
            "demo-1 started (detail 0)\n"
            "demo-1 stopped (detail 1)\n"
            "demo-1 undefined (detail 0)\n")


@pytest.mark.parametrize("example", ["events-thread.py", "events-asyncio.py"])
def test_example_demo(example):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    p = subprocess.run(
        [sys.executable, "-W", "error::DeprecationWarning",
         os.path.join(EXAMPLES, example)],
        env=env, capture_output=True, text=True, timeout=90)
    assert p.returncode == 0, p.stderr
    assert p.stdout == EXPECTED
    assert p.stderr == ""
