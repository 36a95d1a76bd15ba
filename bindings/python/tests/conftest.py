# SPDX-License-Identifier: LGPL-2.1-or-later
"""Shared fixtures: a watchdog per test, descriptors closed after each
test, and a recorder of unraisable exceptions."""

import faulthandler
import os
import socket
import sys

import pytest

# Each test is bounded: a hung loop dumps every thread's stack and ends the
# process with an error (pytest-timeout is not a Debian dependency here).
TEST_TIMEOUT = float(os.environ.get("VEVENT_PY_TEST_TIMEOUT", "30"))


@pytest.fixture(autouse=True)
def watchdog(request):
    # The real stderr: pytest.ini captures at the sys level only.
    faulthandler.dump_traceback_later(TEST_TIMEOUT, exit=True,
                                      file=sys.__stderr__)
    yield
    faulthandler.cancel_dump_traceback_later()


class Fds:
    """Pipes and socket pairs, closed at the end of the test."""

    def __init__(self):
        self.open = []

    def pipe(self):
        r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.open += [r, w]
        return r, w

    def socketpair(self):
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        a.setblocking(False)
        b.setblocking(False)
        fa, fb = a.detach(), b.detach()
        self.open += [fa, fb]
        return fa, fb

    def close(self, fd):
        os.close(fd)
        self.open.remove(fd)

    def close_all(self):
        for fd in self.open:
            try:
                os.close(fd)
            except OSError:
                pass
        self.open = []


@pytest.fixture
def fds():
    f = Fds()
    yield f
    f.close_all()


@pytest.fixture
def unraisable(monkeypatch):
    """The exceptions that reach sys.unraisablehook during the test."""
    seen = []
    monkeypatch.setattr(sys, "unraisablehook", seen.append)
    return seen


def write1(fd):
    assert os.write(fd, b"x") == 1


def drain(fd):
    try:
        while os.read(fd, 256):
            pass
    except BlockingIOError:
        pass
