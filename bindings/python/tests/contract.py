# SPDX-License-Identifier: LGPL-2.1-or-later
"""The recording harness of the contract tests, as tests/test-contract.c
has it in C, driving a vevent.Loop: callbacks record their calls, opaques
record their release, and every test ends with finish()."""

import os
import threading
import time

import vevent

# Blocking waits of both backends (x86-64 and aarch64 numbers): poll,
# ppoll, epoll_wait, epoll_pwait, epoll_pwait2.
WAIT_SYSCALLS = {7, 271, 232, 281, 441, 73, 22}


def now_ns():
    return time.monotonic_ns()


class Rec:
    def __init__(self):
        self.id = -1
        self.is_timer = False
        self.fd = -1
        self.calls = 0
        self.events = 0
        self.all_events = 0
        self.order = 0
        self.freed = 0
        self.removed = False
        self.last_ns = 0
        self.action = None
        self.arg = 0
        self.other = None


class Token:
    """The opaque of one registration: the harness keeps no reference to
    it, so its release by the loop runs __del__ at once."""

    def __init__(self, harness, rec):
        self.harness = harness
        self.rec = rec

    def __del__(self):
        h = self.harness
        # Rule 7: never inside remove, never on a callback's stack, on the
        # loop's thread.
        h.check(not h.in_remove, "opaque released inside a remove call")
        h.check(h.depth == 0, "opaque released on a callback's stack")
        h.check(threading.get_ident() == h.thread,
                "opaque released off the loop thread")
        self.rec.freed += 1


class Harness:
    def __init__(self, backend=None):
        self.loop = vevent.Loop(backend) if backend else vevent.Loop()
        self.thread = threading.get_ident()
        self.native_id = threading.get_native_id()
        self.recs = []
        self.sequence = 0
        self.depth = 0
        self.in_remove = False
        self.failures = []

    # Assertions inside callbacks would only reach sys.unraisablehook.
    def check(self, cond, what):
        if not cond:
            self.failures.append(what)

    def new_rec(self):
        r = Rec()
        self.recs.append(r)
        return r

    def handle_cb(self, watch, fd, events, token):
        r = token.rec
        self.check(threading.get_ident() == self.thread,
                   "watch callback off the loop thread")
        self.check(watch == r.id, "watch id %d != %d" % (watch, r.id))
        self.check(fd == r.fd, "fd %d != %d" % (fd, r.fd))
        self.check(r.freed == 0, "callback after release")
        self.depth += 1
        r.calls += 1
        r.events = events
        r.all_events |= events
        self.sequence += 1
        r.order = self.sequence
        r.last_ns = now_ns()
        if r.action:
            r.action(r)
        self.depth -= 1

    def timer_cb(self, timer, token):
        r = token.rec
        self.check(threading.get_ident() == self.thread,
                   "timer callback off the loop thread")
        self.check(timer == r.id, "timer id %d != %d" % (timer, r.id))
        self.check(r.freed == 0, "callback after release")
        self.depth += 1
        r.calls += 1
        self.sequence += 1
        r.order = self.sequence
        r.last_ns = now_ns()
        if r.action:
            r.action(r)
        self.depth -= 1

    def watch(self, fd, events):
        r = self.new_rec()
        r.fd = fd
        r.id = self.loop.add_handle(fd, events, self.handle_cb,
                                    Token(self, r))
        assert r.id > 0
        return r

    def timer(self, timeout):
        r = self.new_rec()
        r.is_timer = True
        r.id = self.loop.add_timeout(timeout, self.timer_cb, Token(self, r))
        assert r.id > 0
        return r

    def unwatch(self, r):
        """Remove r; True if the removal succeeded."""
        self.in_remove = True
        try:
            if r.is_timer:
                self.loop.remove_timeout(r.id)
            else:
                self.loop.remove_handle(r.id)
        except vevent.Error:
            return False
        finally:
            self.in_remove = False
        r.removed = True
        return True

    def run_nowait(self, n):
        for _ in range(n):
            assert self.loop.run_once(0) >= 0

    def is_poll_backend(self):
        return self.loop.backend == "poll"

    def wait_until_polling(self):
        wait_until_polling(self.native_id)

    def finish(self):
        """Every test ends here: all removed, every opaque released exactly
        once, the loop empty and its invariants holding."""
        loop = self.loop
        loop.verify()
        for r in self.recs:
            if r.id > 0 and not r.removed and r.freed == 0:
                assert self.unwatch(r)
        self.run_nowait(1)
        stats = loop.stats()
        assert stats["handles"] == 0
        assert stats["timers"] == 0
        assert stats["pending_frees"] == 0
        for r in self.recs:
            if r.id > 0:
                assert r.freed == 1, "registration %d released %d times" % (
                    r.id, r.freed)
        loop.verify()
        assert self.failures == []
        loop.close()


def wait_until_polling(native_id):
    """Spin (yielding) until the thread native_id blocks in a loop's wait:
    its current system call, which Linux shows in /proc."""
    path = "/proc/self/task/%d/syscall" % native_id
    while True:
        try:
            with open(path) as f:
                nr = f.read().split()[0]
        except OSError:
            time.sleep(0.05)  # no /proc: the best we can do
            return
        if nr.isdigit() and int(nr) in WAIT_SYSCALLS:
            return
        time.sleep(0)


def write1(fd):
    assert os.write(fd, b"x") == 1


def drain(fd):
    try:
        while os.read(fd, 256):
            pass
    except BlockingIOError:
        pass
