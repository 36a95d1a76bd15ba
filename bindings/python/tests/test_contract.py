# SPDX-License-Identifier: LGPL-2.1-or-later
"""The contract, one test per rule, through vevent.Loop: the tests of
tests/test-contract.c (same names), with Python callbacks and opaques."""

import errno
import os
import threading
import time

import pytest

import vevent
from contract import Harness, drain, now_ns, write1

R = vevent.HANDLE_READABLE
W = vevent.HANDLE_WRITABLE
E = vevent.HANDLE_ERROR
H = vevent.HANDLE_HANGUP


@pytest.fixture
def h(unraisable):
    harness = Harness()
    yield harness
    assert unraisable == []


# ---- rule 1: ids ----------------------------------------------------------

def test_rule01_ids(h, fds):
    p = fds.pipe()
    a = h.watch(p[0], R)
    b = h.watch(p[0], R)
    t1 = h.timer(-1)
    t2 = h.timer(-1)
    assert (a.id, b.id) == (1, 2)
    assert (t1.id, t2.id) == (1, 2)  # a separate id space
    assert h.unwatch(b)
    assert h.unwatch(t2)
    # Never reused, even after removal.
    assert h.watch(p[1], W).id == 3
    assert h.timer(-1).id == 3
    # A failed add consumes no id.
    with pytest.raises(vevent.Error):
        h.loop.add_handle(-1, 0, h.handle_cb)
    assert h.watch(p[0], 0).id == 4
    h.finish()


# ---- rule 2: add ----------------------------------------------------------

def test_rule02_add_rejects_bad_fd(h, fds):
    p = fds.pipe()
    closed = p[1]
    fds.close(p[1])
    with pytest.raises(vevent.Error) as e:
        h.loop.add_handle(-1, R, h.handle_cb)
    assert e.value.errno == errno.EBADF and e.value.strerror
    with pytest.raises(vevent.Error) as e:
        h.loop.add_handle(closed, R, h.handle_cb)
    assert e.value.errno == errno.EBADF
    assert "not an open" in e.value.strerror
    with pytest.raises(vevent.Error):
        h.loop.add_handle(999999, R, h.handle_cb)
    assert h.loop.stat("handles") == 0  # nothing changed
    h.finish()


def test_rule02_add_rejects_null_callback(h, fds):
    p = fds.pipe()
    with pytest.raises(TypeError, match="callback"):
        h.loop.add_handle(p[0], R, None)
    with pytest.raises(TypeError, match="callback"):
        h.loop.add_timeout(0, None)
    assert h.loop.stat("handles") + h.loop.stat("timers") == 0
    # Nothing consumed an id.
    assert h.watch(p[0], 0).id == 1
    h.finish()


def test_rule02_unknown_bits_ignored(h, fds):
    p = fds.pipe()
    write1(p[1])
    r = h.watch(p[0], R | 0x7F0)
    h.run_nowait(1)
    assert r.calls == 1
    assert r.events == R
    h.finish()


def test_rule02_zero_events_not_polled(h, fds):
    s = fds.socketpair()
    write1(s[1])
    r = h.watch(s[0], 0)
    h.run_nowait(3)
    assert r.calls == 0
    # Not even ERROR/HANGUP reach a watch that polls nothing.
    fds.close(s[1])
    h.run_nowait(2)
    assert r.calls == 0
    h.loop.update_handle(r.id, R)
    h.run_nowait(1)
    assert r.calls == 1
    assert r.events == R | H
    h.loop.update_handle(r.id, 0)
    h.run_nowait(2)
    assert r.calls == 1
    h.finish()


# ---- rule 3: level-triggered events ---------------------------------------

def test_rule03_level_triggered(h, fds):
    p = fds.pipe()
    r = h.watch(p[0], R)
    h.run_nowait(2)
    assert r.calls == 0
    write1(p[1])
    h.run_nowait(3)  # still unread: once per iteration
    assert r.calls == 3
    assert r.events == R
    drain(p[0])
    h.run_nowait(2)
    assert r.calls == 3
    h.finish()


def test_rule03_bits_ored_and_only_asked(h, fds):
    s = fds.socketpair()
    write1(s[1])
    both = h.watch(s[0], R | W)
    rd = h.watch(s[0], R)
    wr = h.watch(s[0], W)
    h.run_nowait(1)
    assert both.calls == 1  # one call with all pending bits
    assert both.events == R | W
    assert rd.events == R
    assert wr.events == W
    h.finish()


def test_rule03_pipe_writer_closed_hangup(h, fds):
    p = fds.pipe()
    # A watch asking only for WRITABLE still hears HANGUP.
    r = h.watch(p[0], R)
    w = h.watch(p[0], W)
    fds.close(p[1])
    h.run_nowait(1)
    assert (r.calls, r.events) == (1, H)
    assert (w.calls, w.events) == (1, H)
    h.finish()


def stop_on_timer(r):
    r.arg = 1


def test_rule03_error_hangup_only(h, fds):
    p = fds.pipe()
    write1(p[1])
    r = h.watch(p[0], E | H)
    t = h.timer(30)
    t.action = stop_on_timer
    iterations = 0
    while not t.arg:
        assert h.loop.run_once() >= 0
        iterations += 1
        assert iterations <= 5  # not spinning on the data
    assert r.calls == 0
    fds.close(p[1])
    h.run_nowait(2)
    assert r.calls == 2
    assert r.events == H
    h.finish()


def test_rule03_socket_peer_closed(h, fds):
    s = fds.socketpair()
    r = h.watch(s[0], R)
    fds.close(s[1])
    h.run_nowait(1)
    assert r.calls == 1
    assert r.events == R | H
    h.finish()


# ---- rule 4: one fd, several watches --------------------------------------

def test_rule04_same_fd_several_watches(h, fds):
    s = fds.socketpair()
    a = h.watch(s[0], R)
    b = h.watch(s[0], R | W)
    c = h.watch(s[0], W)
    h.run_nowait(1)
    assert a.calls == 0
    assert b.events == W
    assert c.events == W
    write1(s[1])
    h.run_nowait(1)
    assert (a.calls, a.events) == (1, R)
    assert b.events == R | W
    assert c.calls == 2
    # Removing one leaves the others' masks intact.
    assert h.unwatch(b)
    h.loop.update_handle(c.id, 0)
    h.run_nowait(1)
    assert (a.calls, b.calls, c.calls) == (2, 2, 2)
    h.finish()


# ---- rule 5: descriptors closed while watched -----------------------------

def test_rule05_closed_fd_never_spins(h, fds):
    p = fds.pipe()
    r = h.watch(p[0], R)
    h.run_nowait(1)
    fds.close(p[0])
    t = h.timer(60)
    t.action = stop_on_timer
    iterations = 0
    while not t.arg:
        assert h.loop.run_once() >= 0
        iterations += 1
        # A spinning loop would run thousands before 60 ms pass.
        assert iterations <= 5
    # ERROR at most once (exactly once where the backend can know).
    assert r.calls <= 1
    if h.is_poll_backend():
        assert r.calls == 1
    if r.calls:
        assert r.events == E
    assert h.unwatch(r)
    h.finish()


def test_rule05_closed_fd_reused_by_new_watch(h, fds):
    p = fds.pipe()
    old = h.watch(p[0], R)
    h.run_nowait(1)
    num = p[0]
    fds.close(p[0])
    fds.close(p[1])
    q = fds.pipe()  # takes the lowest numbers: the old read end's
    assert q[0] == num
    fresh = h.watch(q[0], R)
    write1(q[1])
    h.run_nowait(2)
    assert fresh.calls == 2
    # The old watch never reports the new file's data.
    assert not old.all_events & R
    assert old.calls <= 1
    h.finish()


# ---- rule 6: timers --------------------------------------------------------

def test_rule06_timer_zero_every_iteration(h):
    t = h.timer(0)
    for i in range(1, 4):
        # Would block forever if a 0 timer let the wait block.
        assert h.loop.run_once() >= 0
        assert t.calls == i
    h.finish()


def test_rule06_timer_negative_disabled(h):
    a = h.timer(-1)
    b = h.timer(-1000)
    c = h.timer(0)
    h.run_nowait(2)
    assert (a.calls, b.calls, c.calls) == (0, 0, 2)
    h.loop.update_timeout(c.id, -7)
    h.run_nowait(2)
    assert c.calls == 2
    h.loop.update_timeout(a.id, 0)
    h.run_nowait(1)
    assert a.calls == 1
    h.finish()


def test_rule06_timer_period_never_early(h):
    # Each fire is due a period after the dispatch of the one before, which
    # happened after `dispatched_after` (taken before its iteration).
    dispatched_after = now_ns()
    t = h.timer(25)
    for _ in range(4):
        before = t.calls
        while True:
            started = now_ns()
            assert h.loop.run_once() >= 0
            if t.calls != before:
                break
        assert t.last_ns - dispatched_after >= 25 * 1000000
        dispatched_after = started
    h.finish()


def sleep_in_first_call(r):
    if r.calls == 1:
        # A slow callback, not a wait: the loop must not make up for the
        # periods it missed meanwhile.
        time.sleep(0.12)


def test_rule06_timer_no_catch_up_burst(h):
    t = h.timer(20)
    t.action = sleep_in_first_call
    at = []
    for i in range(4):
        while t.calls == i:
            assert h.loop.run_once() >= 0
        at.append(t.last_ns)
    # Re-armed from dispatch: the period holds again after the slow call.
    assert at[2] - at[1] >= 20 * 1000000
    assert at[3] - at[2] >= 20 * 1000000
    h.finish()


def test_rule06_timer_update_restarts(h):
    t = h.timer(80)
    assert h.loop.run_once(0.03) == 0
    assert t.calls == 0
    t1 = now_ns()
    h.loop.update_timeout(t.id, 80)  # same period: countdown restarts
    while t.calls == 0:
        assert h.loop.run_once() >= 0
    assert t.last_ns - t1 >= 80 * 1000000
    h.finish()


# ---- rule 7: free callbacks (opaque releases) -----------------------------

def remove_self(r):
    r.harness.check(r.harness.unwatch(r), "remove_self failed")


def test_rule07_free_callback_rules(h, fds):
    p = fds.pipe()
    write1(p[1])
    hd = h.watch(p[0], R)
    t = h.timer(0)
    hd.harness = t.harness = h
    hd.action = t.action = remove_self
    # Token.__del__ checks: not inside remove, not under a callback, loop
    # thread.  Released by the end of the next iteration at the latest.
    h.run_nowait(1)
    assert (hd.calls, t.calls) == (1, 1)
    h.run_nowait(1)
    assert (hd.freed, t.freed) == (1, 1)
    u = h.timer(-1)
    assert h.unwatch(u)
    assert u.freed == 0  # never inside the remove call
    h.run_nowait(1)
    assert u.freed == 1
    h.finish()


def test_rule07_timer_free_not_starved(h, fds):
    p = fds.pipe()
    write1(p[1])
    # Something is always ready, so no iteration ever blocks.
    h.watch(p[0], R)
    h.timer(0)
    victim = h.timer(1000)
    h.run_nowait(1)
    assert h.unwatch(victim)
    h.run_nowait(1)
    assert victim.freed == 1
    h.finish()


# ---- rule 8: changes during dispatch --------------------------------------

def remove_other(h):
    def action(r):
        h.check(h.unwatch(r.other), "remove_other failed")
    return action


def test_rule08_removed_before_turn(h, fds):
    p, q = fds.pipe(), fds.pipe()
    write1(p[1])
    write1(q[1])
    a = h.watch(p[0], R)
    b = h.watch(q[0], R)
    a.action, a.other = remove_other(h), b
    ta = h.timer(0)
    tb = h.timer(0)
    ta.action, ta.other = remove_other(h), tb
    h.run_nowait(1)
    assert (a.calls, b.calls, ta.calls, tb.calls) == (1, 0, 1, 0)
    h.finish()


def test_rule08_disabled_before_turn(h, fds):
    p, q = fds.pipe(), fds.pipe()
    write1(p[1])
    write1(q[1])
    a = h.watch(p[0], R)
    b = h.watch(q[0], R)
    a.other = b
    a.action = lambda r: h.loop.update_handle(r.other.id, 0)
    ta = h.timer(0)
    tb = h.timer(0)
    ta.other = tb
    ta.action = lambda r: h.loop.update_timeout(r.other.id, -1)
    h.run_nowait(1)
    assert (b.calls, tb.calls) == (0, 0)
    a.action = ta.action = None
    h.run_nowait(1)
    assert (b.calls, tb.calls) == (0, 0)
    h.finish()


def test_rule08_added_during_dispatch(h, fds):
    p, q = fds.pipe(), fds.pipe()
    write1(p[1])
    write1(q[1])

    def add_ready_watch_and_timer(r):
        if r.calls > 1:
            return
        r.other = h.watch(q[0], R)
        r.arg = h.timer(0)

    a = h.watch(p[0], R)
    a.action = add_ready_watch_and_timer
    h.run_nowait(1)
    w, t = a.other, a.arg
    assert (w.calls, t.calls) == (0, 0)
    h.run_nowait(1)
    assert (w.calls, t.calls) == (1, 1)
    h.finish()


# ---- rule 9: threads --------------------------------------------------------

def churn_cb(h):
    def cb(*args):
        r = args[-1].rec
        h.check(threading.get_ident() == h.thread,
                "callback off the loop thread")
        h.check(r.freed == 0, "callback after release")
        r.calls += 1
    return cb


def add_zero_timer_in_thread(h, wait_for_poll):
    """A thread that adds a 0 ms timer (after the loop blocks, if asked)."""
    from contract import Token
    r = h.new_rec()
    r.is_timer = True
    result = {}

    def job():
        if wait_for_poll:
            h.wait_until_polling()
        r.id = h.loop.add_timeout(0, churn_cb(h), Token(h, r))
        result["id"] = r.id

    t = threading.Thread(target=job)
    t.start()
    return r, t, result


def test_rule09_other_thread_add_wakes_loop(h):
    r, t, result = add_zero_timer_in_thread(h, True)
    # Nothing registered: blocks until the other thread adds.
    while r.calls == 0:
        assert h.loop.run_once() >= 0
    t.join()
    assert result["id"] > 0
    h.finish()


def test_rule09_no_lock_held_in_callbacks(h):
    def spawn_and_join_adder(r):
        # If a lock were held during callbacks this would deadlock (and
        # the watchdog would fail the test).
        other, t, result = add_zero_timer_in_thread(h, False)
        t.join()
        h.check(result.get("id", 0) > 0, "add from a thread failed")
        r.other = other
        h.check(h.unwatch(r), "remove failed")

    t = h.timer(0)
    t.action = spawn_and_join_adder
    h.run_nowait(1)
    assert t.calls == 1
    h.run_nowait(1)
    assert t.other.calls == 1
    h.finish()


def test_rule09_threads_add_update_remove_while_running(h, fds):
    from contract import Token
    s = fds.socketpair()
    done = []

    def churn(fd):
        # Add, update and remove while the loop runs in the main thread.
        recs = [h.new_rec() for _ in range(400)]
        cb = churn_cb(h)
        for i in range(200):
            r = recs[i]
            r.is_timer = True
            tid = h.loop.add_timeout(
                0 if i % 3 == 0 else 1 if i % 3 == 1 else -1, cb,
                Token(h, r))
            r.id = tid
            h.loop.update_timeout(tid, 0 if i % 2 else 5)
            if i % 4 != 3:
                h.loop.remove_timeout(tid)
                r.removed = True
            w = recs[200 + i]
            w.fd = fd
            w.id = h.loop.add_handle(fd, W, cb, Token(h, w))
            if i % 5 != 0:
                h.loop.remove_handle(w.id)
                w.removed = True
        done.append(fd)

    threads = [threading.Thread(target=churn, args=(fd,)) for fd in s]
    for t in threads:
        t.start()
    h.timer(1)
    while len(done) < 2:
        assert h.loop.run_once() >= 0
    for t in threads:
        t.join()
    h.finish()


# ---- rule 10: run ------------------------------------------------------------

def test_rule10_run_blocks_until_something_is_added(h):
    r, t, result = add_zero_timer_in_thread(h, True)
    assert h.loop.run_once() >= 0  # returns once the add woke it
    t.join()
    assert result["id"] > 0
    h.finish()


# ---- rule 13: unknown ids ----------------------------------------------------

def test_rule13_unknown_ids(h, fds):
    p = fds.pipe()
    for remove, ident in ((h.loop.remove_handle, 1),
                          (h.loop.remove_timeout, 1),
                          (h.loop.remove_handle, 0),
                          (h.loop.remove_handle, -5)):
        with pytest.raises(vevent.Error) as e:
            remove(ident)
        assert e.value.errno == errno.ENOENT
    r = h.watch(p[0], R)
    t = h.timer(-1)
    assert h.unwatch(r)
    assert h.unwatch(t)
    assert not h.unwatch(r)
    assert not h.unwatch(t)
    # Updates of unknown ids raise and change nothing.
    for update, ident, value in ((h.loop.update_handle, r.id, R),
                                 (h.loop.update_handle, 12345, R),
                                 (h.loop.update_timeout, t.id, 0),
                                 (h.loop.update_timeout, -1, 0)):
        with pytest.raises(vevent.Error) as e:
            update(ident, value)
        assert e.value.errno == errno.ENOENT
    h.run_nowait(1)
    assert r.calls + t.calls == 0
    h.finish()


# ---- libvirt's event test scenarios -----------------------------------------

NPIPES = 10


def test_lv_trigger_one_of_many(h, fds):
    p = [fds.pipe() for _ in range(NPIPES)]
    w = [h.watch(x[0], R) for x in p]
    write1(p[4][1])
    h.run_nowait(1)
    assert [x.calls for x in w] == [int(i == 4) for i in range(NPIPES)]
    h.finish()


def test_lv_remove_before_poll(h, fds):
    p = fds.pipe()
    w = h.watch(p[0], R)
    write1(p[1])
    assert h.unwatch(w)
    h.run_nowait(1)
    assert w.calls == 0
    h.finish()


def remove_in_thread(h, r):
    result = {}

    def job():
        h.wait_until_polling()
        try:
            if r.is_timer:
                h.loop.remove_timeout(r.id)
            else:
                h.loop.remove_handle(r.id)
            result["rc"] = 0
        except vevent.Error as e:
            result["rc"] = -e.errno

    t = threading.Thread(target=job)
    t.start()
    return t, result


def test_lv_remove_from_thread_while_blocked(h, fds):
    p = fds.pipe()
    w = h.watch(p[0], R)
    t, result = remove_in_thread(h, w)
    # The removal ends the blocked iteration, with no callback.
    assert h.loop.run_once() == 0
    t.join()
    assert result["rc"] == 0
    w.removed = True
    assert w.calls == 0
    h.finish()


def test_lv_remove_later_ready_in_dispatch(h, fds):
    p = [fds.pipe() for _ in range(NPIPES)]
    w = []
    for x in p:
        write1(x[1])
        w.append(h.watch(x[0], R))
    w[2].action, w[2].other = remove_other(h), w[7]
    h.run_nowait(1)
    assert [x.calls for x in w] == [int(i != 7) for i in range(NPIPES)]
    h.finish()


def test_lv_remove_self_in_dispatch(h, fds):
    p = fds.pipe()
    write1(p[1])
    w = h.watch(p[0], R)
    w.harness = h
    w.action = remove_self
    h.run_nowait(3)
    assert w.calls == 1
    h.finish()


def test_lv_timer_trigger_one_of_many(h):
    t = [h.timer(-1) for _ in range(NPIPES)]
    h.loop.update_timeout(t[6].id, 0)
    h.run_nowait(1)
    assert [x.calls for x in t] == [int(i == 6) for i in range(NPIPES)]
    h.finish()


def test_lv_timer_remove_before_run(h):
    t = h.timer(0)
    assert h.unwatch(t)
    h.run_nowait(1)
    assert t.calls == 0
    h.finish()


def test_lv_timer_remove_from_thread_while_blocked(h):
    tm = h.timer(5000)
    t, result = remove_in_thread(h, tm)
    assert h.loop.run_once() == 0
    t.join()
    assert result["rc"] == 0
    tm.removed = True
    assert tm.calls == 0
    h.finish()


def test_lv_timer_remove_later_due_in_dispatch(h):
    t = [h.timer(0) for _ in range(NPIPES)]
    t[1].action, t[1].other = remove_other(h), t[8]
    h.run_nowait(1)
    assert [x.calls for x in t] == [int(i != 8) for i in range(NPIPES)]
    h.finish()


def test_lv_timer_remove_self_in_dispatch(h):
    t = h.timer(0)
    t.harness = h
    t.action = remove_self
    h.run_nowait(3)
    assert t.calls == 1
    h.finish()


def test_lv_last_of_many_after_removals(h, fds):
    p = [fds.pipe() for _ in range(NPIPES)]
    w = [h.watch(x[0], R) for x in p]
    for x in w[:-1]:
        assert h.unwatch(x)
    write1(p[-1][1])
    h.run_nowait(1)
    assert w[-1].calls == 1
    h.finish()


def test_lv_same_fd_twice_one_with_zero(h, fds):
    p = fds.pipe()
    write1(p[1])
    a = h.watch(p[0], R)
    b = h.watch(p[0], 0)
    h.run_nowait(1)
    assert (a.calls, b.calls) == (1, 0)
    h.loop.update_handle(b.id, R)
    h.run_nowait(1)
    assert (a.calls, b.calls) == (2, 1)
    h.finish()
