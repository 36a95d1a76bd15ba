# SPDX-License-Identifier: LGPL-2.1-or-later
"""vevent.Loop as a Python object: errors, exceptions in callbacks, the GIL,
threads, releases of callbacks and opaques, run()/quit(), fileno(), the
context manager."""

import errno
import gc
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref

import pytest

import vevent
from contract import wait_until_polling

R = vevent.HANDLE_READABLE
W = vevent.HANDLE_WRITABLE


class Opaque:
    """Counts its releases, and where they happened."""

    released = []

    def __init__(self, name):
        self.name = name

    def __del__(self):
        Opaque.released.append((self.name, threading.get_ident()))


@pytest.fixture(autouse=True)
def reset_released():
    Opaque.released = []
    yield


def released(name):
    return [r for r in Opaque.released if r[0] == name]


def test_constants_are_libvirts():
    libvirt = pytest.importorskip("libvirt")
    assert vevent.HANDLE_READABLE == libvirt.VIR_EVENT_HANDLE_READABLE
    assert vevent.HANDLE_WRITABLE == libvirt.VIR_EVENT_HANDLE_WRITABLE
    assert vevent.HANDLE_ERROR == libvirt.VIR_EVENT_HANDLE_ERROR
    assert vevent.HANDLE_HANGUP == libvirt.VIR_EVENT_HANDLE_HANGUP


def test_errors_are_oserrors_with_vevents_message(fds):
    loop = vevent.Loop()
    assert issubclass(vevent.Error, OSError)
    r, w = fds.pipe()
    fds.close(w)
    with pytest.raises(vevent.Error) as e:
        loop.add_handle(w, R, lambda *a: None)
    assert e.value.errno == errno.EBADF
    assert "not an open" in e.value.strerror
    with pytest.raises(OverflowError):
        loop.add_handle(2**40, R, lambda *a: None)
    with pytest.raises(OverflowError):
        loop.add_timeout(2**40, lambda *a: None)
    with pytest.raises(TypeError):
        loop.add_handle("0", R, lambda *a: None)
    with pytest.raises(ValueError):
        vevent.Loop("kqueue")
    with pytest.raises(ValueError):
        loop.run_once(-1)
    with pytest.raises(ValueError):
        loop.stat("nonsense")
    assert loop.stats()["handles"] == 0  # nothing changed
    loop.close()


def test_callback_exception_goes_to_unraisablehook(fds, unraisable):
    loop = vevent.Loop()
    r, w = fds.pipe()
    os.write(w, b"x")
    calls = []

    def bad(watch, fd, events, opaque):
        calls.append("bad")
        raise RuntimeError("boom")

    def good(timer, opaque):
        calls.append("good")

    loop.add_handle(r, R, bad)
    loop.add_timeout(0, good)
    assert loop.run_once(0) == 2
    assert loop.run_once(0) == 2  # the loop goes on
    assert calls.count("bad") == 2 and calls.count("good") == 2
    assert len(unraisable) == 2
    assert unraisable[0].exc_type is RuntimeError
    assert str(unraisable[0].exc_value) == "boom"
    assert unraisable[0].object is bad
    loop.close()


def test_keyboard_interrupt_in_callback_ends_run(unraisable):
    loop = vevent.Loop()
    ticks = []

    def tick(timer, opaque):
        ticks.append(timer)
        if len(ticks) == 3:
            raise KeyboardInterrupt

    loop.add_timeout(0, tick)
    with pytest.raises(KeyboardInterrupt):
        loop.run()
    assert len(ticks) == 3
    assert unraisable == []
    loop.run_once(0)  # usable afterwards
    assert len(ticks) == 4
    loop.close()


def test_signal_handler_exception_ends_run():
    loop = vevent.Loop()

    class Alarm(Exception):
        pass

    def on_alarm(signum, frame):
        raise Alarm

    old = signal.signal(signal.SIGALRM, on_alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        # Nothing registered: only the signal can end this wait.
        with pytest.raises(Alarm):
            loop.run()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    loop.close()


def test_gil_released_while_waiting():
    loop = vevent.Loop()
    fired = []

    main = threading.get_native_id()

    def worker():
        # Needs the GIL to see the main thread wait, and to add.
        wait_until_polling(main)
        total = sum(range(10000))
        loop.add_timeout(0, lambda t, o: fired.append(o), total)

    t = threading.Thread(target=worker)
    t.start()
    while not fired:
        loop.run_once()  # blocks until the worker adds its timer
    t.join()
    assert fired == [sum(range(10000))]
    loop.close()


def test_helper_thread_runs_callbacks_with_the_gil():
    loop = vevent.Loop()
    where = []
    done = threading.Event()

    def on_timer(timer, opaque):
        where.append((threading.get_ident(), opaque.name))
        loop.remove_timeout(timer)
        done.set()

    loop.start_thread()
    loop.add_timeout(5, on_timer, Opaque("helper"))
    assert done.wait(10)
    loop.stop_thread()
    assert where[0][0] != threading.get_ident()
    # Released on the loop's thread, the helper, after the callback.
    assert released("helper") == [("helper", where[0][0])]
    with pytest.raises(vevent.Error) as e:
        loop.stop_thread()
    assert e.value.errno == errno.ESRCH
    loop.close()


def test_helper_thread_keeps_one_python_thread_state():
    # The helper thread gets its Python thread state once, not per callback:
    # thread-local data survives from one callback to the next (a fresh
    # state per callback would also cost an mmap and a munmap each).
    loop = vevent.Loop()
    local = threading.local()
    seen = []
    done = threading.Event()

    def on_timer(timer, opaque):
        seen.append(getattr(local, "count", 0))
        local.count = getattr(local, "count", 0) + 1
        if len(seen) == 3:
            loop.remove_timeout(timer)
            done.set()

    loop.start_thread()
    loop.add_timeout(1, on_timer)
    assert done.wait(10)
    loop.stop_thread()
    assert seen == [0, 1, 2]
    loop.close()


def test_stop_thread_from_its_callback_is_refused(unraisable):
    loop = vevent.Loop()
    result = []
    done = threading.Event()

    def on_timer(timer, opaque):
        try:
            loop.stop_thread()
        except vevent.Error as e:
            result.append(e.errno)
        loop.remove_timeout(timer)
        done.set()

    loop.start_thread()
    loop.add_timeout(0, on_timer)
    assert done.wait(10)
    loop.stop_thread()
    assert result == [errno.EDEADLK]
    loop.close()


def test_running_helper_thread_keeps_the_loop_alive():
    loop = vevent.Loop()
    ref = weakref.ref(loop)
    hits = threading.Event()
    loop.start_thread()
    del loop
    gc.collect()
    assert ref() is not None
    ref().add_timeout(0, lambda t, o: hits.set())
    assert hits.wait(10)
    ref().stop_thread()
    gc.collect()
    assert ref() is None


def test_opaque_released_once_on_remove(fds):
    loop = vevent.Loop()
    r, w = fds.pipe()
    watch = loop.add_handle(r, R, lambda *a: None, Opaque("w"))
    timer = loop.add_timeout(-1, lambda *a: None, Opaque("t"))
    loop.remove_handle(watch)
    loop.remove_timeout(timer)
    assert Opaque.released == []  # never inside the remove call
    loop.run_once(0)
    assert sorted(n for n, _ in Opaque.released) == ["t", "w"]
    loop.run_once(0)
    assert len(Opaque.released) == 2
    loop.close()
    assert len(Opaque.released) == 2


def test_close_releases_everything_once(fds):
    r, w = fds.pipe()
    with vevent.Loop() as loop:
        assert isinstance(loop, vevent.Loop)
        loop.add_handle(r, R, lambda *a: None, Opaque("w"))
        loop.add_timeout(10, lambda *a: None, Opaque("t"))
        removed = loop.add_timeout(10, lambda *a: None, Opaque("pending"))
        loop.remove_timeout(removed)
    assert loop.closed
    assert sorted(n for n, _ in Opaque.released) == ["pending", "t", "w"]
    loop.close()  # harmless
    with pytest.raises(ValueError, match="closed"):
        loop.add_timeout(0, lambda *a: None)
    with pytest.raises(ValueError, match="closed"):
        loop.run_once(0)
    assert "closed" in repr(loop)


def test_clear_and_drain_release_on_the_caller(fds):
    loop = vevent.Loop()
    loop.add_timeout(-1, lambda *a: None, Opaque("a"))
    b = loop.add_timeout(-1, lambda *a: None, Opaque("b"))
    loop.remove_timeout(b)
    assert loop.drain() == 1
    assert [n for n, _ in Opaque.released] == ["b"]
    assert loop.clear() == 1
    assert [n for n, _ in Opaque.released] == ["b", "a"]
    # Ids go on growing after clear().
    assert loop.add_timeout(-1, lambda *a: None) == 3
    loop.close()


def test_dropping_the_loop_releases_everything(fds):
    loop = vevent.Loop()
    loop.add_timeout(-1, lambda *a: None, Opaque("plain"))
    del loop
    assert [n for n, _ in Opaque.released] == ["plain"]


def test_cycle_through_an_opaque_is_collected():
    loop = vevent.Loop()
    holder = Opaque("cycle")
    holder.loop = loop  # loop -> registration -> opaque -> loop
    loop.add_timeout(-1, lambda *a: None, holder)
    ref = weakref.ref(loop)
    del loop, holder
    assert ref() is not None
    gc.collect()
    assert ref() is None
    assert [n for n, _ in Opaque.released] == ["cycle"]


def test_close_refused_while_in_use(unraisable):
    loop = vevent.Loop()
    result = []

    def on_timer(timer, opaque):
        for call in (loop.close, lambda: loop.run_once(0), loop.run,
                     loop.drain):
            try:
                call()
            except vevent.Error as e:
                result.append(e.errno)
        loop.remove_timeout(timer)

    loop.add_timeout(0, on_timer)
    loop.run_once(0)
    assert result == [errno.EBUSY] * 4
    assert not loop.closed
    loop.close()


def test_file_objects_accepted_and_kept_alive():
    loop = vevent.Loop()
    a, b = socket.socketpair()
    seen = []
    watch = loop.add_handle(a, R, lambda w, fd, ev, o: seen.append((fd, ev)))
    fd = a.fileno()
    ref = weakref.ref(a)
    del a
    assert ref() is not None  # the watch keeps it open
    b.send(b"x")
    loop.run_once(0)
    assert seen == [(fd, R)]
    loop.remove_handle(watch)
    loop.run_once(0)
    assert ref() is None
    b.close()
    loop.close()


def test_quit_from_callback_ends_run_after_that_iteration(fds):
    loop = vevent.Loop()
    r, w = fds.pipe()
    os.write(w, b"x")
    calls = []
    loop.add_handle(r, R, lambda *a: calls.append("h"))

    def stop(timer, opaque):
        calls.append("t")
        loop.quit()

    loop.add_timeout(0, stop)
    loop.run()
    assert calls == ["t", "h"]  # one iteration, then run() returned
    loop.close()


def test_quit_from_another_thread_wakes_run():
    loop = vevent.Loop()
    t = threading.Thread(target=loop.quit)
    loop.add_timeout(0, lambda tm, o: (loop.remove_timeout(tm), t.start()))
    loop.run()  # blocked with nothing registered until quit()
    t.join()
    # No request is left behind: a wait blocks again for its whole time.
    start = time.monotonic()
    assert loop.run_once(0.05) == 0
    assert time.monotonic() - start >= 0.05
    loop.close()


def test_quit_before_run_returns_after_one_iteration():
    loop = vevent.Loop()
    loop.quit()
    # Pending, the request keeps iterations from blocking...
    assert loop.run_once() == 0
    # ... until a run() returns because of it.
    start = time.monotonic()
    loop.run()
    assert time.monotonic() - start < 5
    start = time.monotonic()
    assert loop.run_once(0.05) == 0
    assert time.monotonic() - start >= 0.05
    loop.close()


def test_quit_ends_the_helper_thread():
    loop = vevent.Loop()
    loop.start_thread()
    loop.quit()
    loop.stop_thread()  # joins the thread that quit() ended
    loop.close()


def test_fileno_readable_when_work_is_pending():
    loop = vevent.Loop("epoll")
    fd = loop.fileno()
    assert fd == loop.fileno()
    assert select.select([fd], [], [], 0)[0] == []
    fired = []
    start = time.monotonic()
    t = loop.add_timeout(20, lambda tm, o: fired.append(tm))
    # Readable when the timer is due, not before.
    assert select.select([fd], [], [], 10)[0] == [fd]
    assert time.monotonic() - start >= 0.020
    loop.run_once(0)
    assert fired == [t]
    loop.update_timeout(t, -1)
    loop.run_once(0)
    assert select.select([fd], [], [], 0)[0] == []
    loop.close()


def test_fileno_on_poll_backend_is_refused():
    loop = vevent.Loop("poll")
    with pytest.raises(vevent.Error) as e:
        loop.fileno()
    assert e.value.errno == errno.ENOTSUP
    loop.close()


def test_stats_and_introspection():
    loop = vevent.Loop()
    assert loop.backend in ("epoll", "poll")
    assert loop.next_timeout() is None
    loop.add_timeout(1000, lambda *a: None)
    assert 0 < loop.next_timeout() <= 1.0
    stats = loop.stats()
    assert set(stats) == {"iterations", "handle_calls", "timer_calls",
                          "free_calls", "wakeups", "handles", "timers",
                          "pending_frees", "memory"}
    assert stats["timers"] == 1
    assert loop.stat("timers") == 1
    loop.verify()
    loop.close()


EXIT_WITH_RUNNING_THREAD = r"""
import atexit
# Runs after vevent's own exit handler (atexit is last in, first out).
atexit.register(lambda: print("stopped:", "thread" not in repr(loop)))
import threading, vevent
loop = vevent.Loop()
ticks = threading.Event()
def tick(timer, opaque):
    ticks.set()
loop.add_timeout(0, tick, object())  # calls Python on every iteration
loop.start_thread()
ticks.wait(10)
print("exiting")
"""


def test_interpreter_exit_with_a_running_helper_thread():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    p = subprocess.run([sys.executable, "-c", EXIT_WITH_RUNNING_THREAD],
                       env=env, capture_output=True, text=True, timeout=20)
    assert p.returncode == 0, p.stderr
    assert p.stdout == "exiting\nstopped: True\n"
    assert p.stderr == ""


def test_help_reads_well():
    import pydoc
    text = pydoc.render_doc(vevent, renderer=pydoc.plaintext)
    for word in ("Loop", "add_handle", "register_libvirt", "unraisablehook",
                 "fileno"):
        assert word in text
