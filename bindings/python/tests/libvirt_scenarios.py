# SPDX-License-Identifier: LGPL-2.1-or-later
"""libvirt-python on vevent, one scenario per process: libvirt keeps the
first event loop implementation for the life of a process.

    python3 libvirt_scenarios.py NAME

Exits 0 when the scenario holds, 1 (with a message) when it does not.
"""

import asyncio
import errno
import faulthandler
import os
import signal
import sys
import threading
import time

faulthandler.dump_traceback_later(60, exit=True)

import vevent  # noqa: E402

SUSPENDED, RESUMED = 3, 4


def fail(msg):
    print("FAILED: " + msg, file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def expect_error(fn, err, words):
    try:
        fn()
    except vevent.Error as e:
        check(e.errno == err, "errno %s, expected %s (%s)" % (
            e.errno, err, e.strerror))
        check(words in e.strerror, "%r not in %r" % (words, e.strerror))
        return e
    fail("no error raised, expected errno %d" % err)


class Events:
    """Lifecycle events of domain 'test', with the thread each came on."""

    def __init__(self):
        self.cond = threading.Condition()
        self.seen = []

    def callback(self, conn, dom, event, detail, opaque):
        with self.cond:
            self.seen.append((dom.name(), event, threading.get_ident(),
                              opaque))
            self.cond.notify_all()

    def wait(self, n, timeout=20):
        with self.cond:
            check(self.cond.wait_for(lambda: len(self.seen) >= n, timeout),
                  "only %d of %d events arrived" % (len(self.seen), n))


def suspend_resume(conn, events, run=None):
    import libvirt
    cb = conn.domainEventRegisterAny(
        None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, events.callback, "op")
    dom = conn.lookupByName("test")
    dom.suspend()
    dom.resume()
    if run:
        while len(events.seen) < 2:
            run()
    else:
        events.wait(2)
    check([e[:2] for e in events.seen] == [("test", SUSPENDED),
                                          ("test", RESUMED)],
          "events: %r" % events.seen)
    check(all(e[3] == "op" for e in events.seen), "opaque lost")
    conn.domainEventDeregisterAny(cb)
    return dom


def loop_thread_ident(loop):
    """The thread that runs loop's callbacks."""
    where = []
    done = threading.Event()

    def on_timer(timer, opaque):
        where.append(threading.get_ident())
        loop.remove_timeout(timer)
        done.set()

    loop.add_timeout(0, on_timer)
    check(done.wait(20), "the loop's thread never ran a timer")
    return where[0]


def scenario_thread_lifecycle():
    import libvirt
    import vevent.libvirt
    loop = vevent.libvirt.register()  # thread=True
    check(isinstance(loop, vevent.Loop), "register() returns the Loop")
    check(vevent.libvirt.registered_loop() is loop, "registered_loop()")
    helper = loop_thread_ident(loop)
    check(helper != threading.get_ident(), "helper is the main thread")
    conn = libvirt.open("test:///default")
    events = Events()
    suspend_resume(conn, events)
    check(all(e[2] == helper for e in events.seen),
          "domain events off the loop's helper thread")
    conn.close()
    # libvirt's removals are released by the loop's thread.
    loop.stop_thread()
    stats = loop.stats()
    check(stats["handles"] == 0 and stats["timers"] == 0,
          "libvirt left registrations: %r" % stats)
    check(stats["pending_frees"] == 0, "pending frees: %r" % stats)
    expect_error(loop.close, errno.EBUSY, "libvirt")


def scenario_main_thread_loop():
    import libvirt
    import vevent.libvirt
    loop = vevent.libvirt.register(thread=False)
    conn = libvirt.open("test:///default")
    events = Events()
    suspend_resume(conn, events, run=lambda: loop.run_once(5))
    check(all(e[2] == threading.get_ident() for e in events.seen),
          "domain events off the thread running run_once()")
    conn.close()
    loop.run_once(0)
    check(loop.stat("handles") + loop.stat("timers") == 0, "left behind")


def scenario_already_registered():
    import vevent.libvirt
    vevent.libvirt.register()
    expect_error(vevent.libvirt.register, errno.EALREADY, "already")
    expect_error(lambda: vevent.libvirt.register(vevent.Loop()),
                 errno.EALREADY, "already")


def scenario_other_implementation():
    import libvirt
    import vevent.libvirt
    libvirt.virEventRegisterDefaultImpl()
    loop = vevent.Loop()
    expect_error(lambda: vevent.libvirt.register(loop), errno.EBUSY,
                 "already has an event loop")
    check(vevent.libvirt.registered_loop() is None, "registered anyway")
    loop.close()  # not registered: may be closed


def scenario_libvirtaio_first():
    import libvirtaio
    import vevent.libvirt

    async def main():
        libvirtaio.virEventRegisterAsyncIOImpl()
        expect_error(vevent.libvirt.register, errno.EBUSY,
                     "already has an event loop")

    asyncio.run(main())


class NoLibvirt:
    def find_spec(self, name, path=None, target=None):
        if name == "libvirt":
            raise ImportError("No module named 'libvirt' (hidden)")


def scenario_libvirt_python_missing():
    sys.meta_path.insert(0, NoLibvirt())
    import vevent.libvirt
    try:
        vevent.libvirt.register()
    except ImportError as e:
        check("libvirt-python" in str(e) and "python3-libvirt" in str(e),
              "unclear message: %s" % e)
        return
    fail("no ImportError")


def aio_lifecycle(binding):
    import libvirt
    conn = libvirt.open("test:///default")
    events = Events()
    ident = threading.get_ident()
    loop = asyncio.get_running_loop()

    async def wait():
        while len(events.seen) < 2:
            await asyncio.sleep(0.01)

    async def run():
        import libvirt
        cb = conn.domainEventRegisterAny(
            None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, events.callback,
            "op")
        dom = conn.lookupByName("test")
        # From another thread, as applications do with blocking calls.
        await loop.run_in_executor(None, dom.suspend)
        await loop.run_in_executor(None, dom.resume)
        await asyncio.wait_for(wait(), 20)
        conn.domainEventDeregisterAny(cb)
        check([e[:2] for e in events.seen] ==
              [("test", SUSPENDED), ("test", RESUMED)],
              "events: %r" % events.seen)
        check(all(e[2] == ident for e in events.seen),
              "domain events off the asyncio thread")
        conn.close()
        await binding.drain()
        vloop = binding.loop
        check(vloop.stat("pending_frees") == 0, "pending frees left")
        check(vloop.stat("handles") + vloop.stat("timers") == 0,
              "libvirt left registrations: %r" % vloop.stats())

    return run()


def scenario_aio_lifecycle():
    import vevent.aio

    async def main():
        binding = vevent.aio.register_libvirt()
        check(binding.asyncio_loop is asyncio.get_running_loop(), "loop")
        check(vevent.aio.register_libvirt() is binding, "same loop twice")
        await aio_lifecycle(binding)
        binding.close()
        binding.close()

    asyncio.run(main())


def scenario_aio_new_asyncio_loop():
    """libvirtaio cannot move to a new asyncio loop; this can."""
    import vevent.aio
    bindings = []

    async def main():
        binding = vevent.aio.register_libvirt()
        bindings.append(binding)
        await aio_lifecycle(binding)

    asyncio.run(main())  # ends without close(): its asyncio loop closes
    asyncio.run(main())
    check(bindings[0].loop is bindings[1].loop, "a second vevent loop")
    check(bindings[0] is not bindings[1], "the same binding")


def scenario_aio_errors():
    import vevent.aio
    import vevent.libvirt
    try:
        vevent.aio.register_libvirt()
    except RuntimeError as e:
        check("no running event loop" in str(e), str(e))
    else:
        fail("register_libvirt() without a running loop")
    other = asyncio.new_event_loop()

    async def main():
        vevent.aio.register_libvirt(other)  # given, not running yet
        expect_error(vevent.aio.register_libvirt, errno.EALREADY,
                     "another asyncio loop")
        expect_error(vevent.libvirt.register, errno.EALREADY, "already")

    asyncio.run(main())
    other.close()


def scenario_aio_after_thread_register():
    import vevent.aio
    import vevent.libvirt
    vevent.libvirt.register()

    async def main():
        expect_error(vevent.aio.register_libvirt, errno.EALREADY,
                     "vevent.libvirt.register")

    asyncio.run(main())


# ---- against a private libvirtd (bridge/tests/with-libvirtd) --------------

class Closed:
    """A connection's close callback: reason and thread."""

    def __init__(self):
        self.cond = threading.Condition()
        self.reason = None
        self.thread = None

    def callback(self, conn, reason, opaque):
        with self.cond:
            self.reason = reason
            self.thread = threading.get_ident()
            self.cond.notify_all()

    def wait(self, timeout):
        with self.cond:
            return self.cond.wait_for(lambda: self.reason is not None,
                                      timeout)


def daemon_uri():
    return os.environ["VEVENT_TEST_LIBVIRTD_URI"]


class ThreadMode:
    """vevent.libvirt.register(): callbacks on the loop's helper thread."""

    def __init__(self):
        import vevent.libvirt
        self.loop = vevent.libvirt.register()
        self.thread = loop_thread_ident(self.loop)

    def finish(self):
        self.loop.stop_thread()


def in_mode(mode, body):
    """Runs body(m) with libvirt on a helper thread, or inside asyncio."""
    if mode == "thread":
        m = ThreadMode()
        body(m)
        m.finish()
        return m
    import vevent.aio

    class Aio:
        pass

    async def main():
        m = Aio()
        m.binding = vevent.aio.register_libvirt()
        m.loop = m.binding.loop
        m.thread = threading.get_ident()
        m.aioloop = asyncio.get_running_loop()
        # Blocking libvirt calls go to other threads, as in applications.
        m.call = lambda fn, *a: m.aioloop.run_in_executor(None, fn, *a)
        await body(m)
        await m.binding.drain()
        m.binding.close()

    asyncio.run(main())


def check_empty(loop):
    stats = loop.stats()
    check(stats["handles"] == 0 and stats["timers"] == 0,
          "libvirt left registrations: %r" % stats)
    check(stats["pending_frees"] == 0, "pending frees: %r" % stats)


def daemon_second_connection(mode):
    """Events caused by a second connection arrive on the first, on the
    documented thread; closing both leaves the loop empty."""
    import libvirt
    events = Events()

    def open_both():
        a = libvirt.open(daemon_uri())
        a.setKeepAlive(1, 2)
        cb = a.domainEventRegisterAny(
            None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, events.callback,
            "op")
        b = libvirt.open(daemon_uri())
        return a, cb, b

    def cause(b):
        dom = b.lookupByName("test")
        dom.suspend()
        dom.resume()

    def verify(m, a, cb, b):
        check([e[:2] for e in events.seen] == [("test", SUSPENDED),
                                              ("test", RESUMED)],
              "events: %r" % events.seen)
        check(all(e[2] == m.thread for e in events.seen),
              "events off the documented thread")
        check(m.loop.stat("handles") >= 2, "a socket watch each")
        a.domainEventDeregisterAny(cb)
        b.close()
        a.close()

    if mode == "thread":
        def body(m):
            a, cb, b = open_both()
            cause(b)
            events.wait(2)
            verify(m, a, cb, b)
        m = in_mode(mode, body)
        check_empty(m.loop)
        return

    async def body(m):
        a, cb, b = await m.call(open_both)
        await m.call(cause, b)
        while len(events.seen) < 2:
            await asyncio.sleep(0.01)
        verify(m, a, cb, b)
        await m.binding.drain()
        check_empty(m.loop)

    in_mode(mode, body)


def daemon_keepalive(mode):
    """The daemon pings every second and drops a client after 2 missed
    answers: five idle seconds, and the connection lives."""
    import libvirt
    closed = Closed()

    def open_conn():
        c = libvirt.open(daemon_uri())
        c.setKeepAlive(1, 2)
        c.registerCloseCallback(closed.callback, None)
        return c

    def verify(m, c, before):
        check(closed.reason is None, "closed, reason %r" % closed.reason)
        check(c.isAlive() == 1, "not alive")
        # Pings and pongs went through the loop's watch on the socket.
        check(m.loop.stat("handle_calls") - before >= 4,
              "only %d watch callbacks" % (m.loop.stat("handle_calls") -
                                           before))
        check(c.getLibVersion() > 0, "no version")
        c.unregisterCloseCallback()
        c.close()

    if mode == "thread":
        def body(m):
            c = open_conn()
            before = m.loop.stat("handle_calls")
            time.sleep(5)  # the point: time passes with no traffic
            verify(m, c, before)
        in_mode(mode, body)
        return

    async def body(m):
        c = await m.call(open_conn)
        before = m.loop.stat("handle_calls")
        await asyncio.sleep(5)
        verify(m, c, before)

    in_mode(mode, body)


def daemon_killed(mode):
    """A killed daemon is reported through the close callback (end of
    file), on the documented thread."""
    import libvirt
    closed = Closed()

    def open_conn():
        c = libvirt.open(daemon_uri())
        c.setKeepAlive(1, 2)
        c.registerCloseCallback(closed.callback, None)
        return c

    def verify(m, c):
        check(closed.reason == libvirt.VIR_CONNECT_CLOSE_REASON_EOF,
              "reason %r" % closed.reason)
        check(closed.thread == m.thread, "close callback off its thread")
        check(c.isAlive() == 0, "still alive")
        c.close()

    def kill():
        os.kill(int(os.environ["VEVENT_TEST_LIBVIRTD_PID"]), signal.SIGKILL)

    if mode == "thread":
        def body(m):
            c = open_conn()
            kill()
            check(closed.wait(10), "no close callback")
            verify(m, c)
        in_mode(mode, body)
        return

    async def body(m):
        c = await m.call(open_conn)
        kill()
        for _ in range(1000):
            if closed.reason is not None:
                break
            await asyncio.sleep(0.01)
        verify(m, c)

    in_mode(mode, body)


for _name in ("second_connection", "keepalive", "killed"):
    for _mode in ("thread", "aio"):
        globals()["scenario_daemon_%s_%s" % (_name, _mode)] = (
            lambda n=_name, m=_mode: globals()["daemon_" + n](m))


# ---- 1,000 register/unregister cycles of domain callbacks -----------------

def process_usage():
    """Descriptors open, and resident memory in pages."""
    with open("/proc/self/statm") as f:
        rss = int(f.read().split()[1])
    return len(os.listdir("/proc/self/fd")), rss


# A sanitizer's runtime keeps freed memory in quarantine: resident memory
# says nothing there.
SANITIZED = bool(os.environ.get("VEVENT_PY_PRELOADED"))


class Counted:
    """An opaque that counts its releases."""

    released = 0

    def __del__(self):
        Counted.released += 1


def cycles(mode):
    import gc
    import libvirt

    def one_cycle(conn):
        cb = conn.domainEventRegisterAny(
            None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
            lambda *a: None, Counted())
        conn.domainEventDeregisterAny(cb)

    def run(m, settle):
        conn = libvirt.open("test:///default")
        # Warm-up: caches, and the loop's tables at the size a batch needs
        # (removals wait for the next iteration, so a batch piles them up).
        for _ in range(1000):
            one_cycle(conn)
        settle()
        gc.collect()
        fds0, rss0 = process_usage()
        loop0 = (m.loop.stat("handles"), m.loop.stat("timers"))
        released0 = Counted.released
        for _ in range(1000):
            one_cycle(conn)
        settle()
        gc.collect()
        fds1, rss1 = process_usage()
        check(Counted.released - released0 == 1000,
              "%d of 1000 opaques released" % (Counted.released - released0))
        check(fds1 == fds0, "descriptors grew from %d to %d" % (fds0, fds1))
        # The loop keeps its tables at their high-water mark, which depends
        # on how many removals the helper thread had yet to finish: it must
        # hold what it held before, not its capacity.
        check((m.loop.stat("handles"), m.loop.stat("timers")) == loop0,
              "the loop holds %r registrations, not %r" % (
                  (m.loop.stat("handles"), m.loop.stat("timers")), loop0))
        # 1,000 leaked registrations would cost far more than 64 pages.
        check(rss1 - rss0 < 64 or SANITIZED,
              "resident memory grew by %d pages" % (rss1 - rss0))
        conn.close()

    if mode == "thread":
        def body(m):
            run(m, lambda: loop_thread_ident(m.loop))
        m = in_mode(mode, body)
        check_empty(m.loop)
        check(Counted.released == 2000, "released %d" % Counted.released)
        return

    async def body(m):
        async def settle():
            await m.binding.drain()

        conn = libvirt.open("test:///default")
        for _ in range(1000):
            one_cycle(conn)
        await settle()
        gc.collect()
        fds0, rss0 = process_usage()
        loop0 = m.loop.stat("memory")
        released0 = Counted.released
        for _ in range(1000):
            one_cycle(conn)
        await settle()
        gc.collect()
        fds1, rss1 = process_usage()
        check(Counted.released - released0 == 1000,
              "%d of 1000 opaques released" % (Counted.released - released0))
        check(fds1 == fds0, "descriptors grew from %d to %d" % (fds0, fds1))
        # One thread, drained at the same points: the same high-water mark.
        check(m.loop.stat("memory") <= loop0, "the loop grew from %d to %d "
              "bytes" % (loop0, m.loop.stat("memory")))
        check(rss1 - rss0 < 64 or SANITIZED,
              "resident memory grew by %d pages" % (rss1 - rss0))
        conn.close()
        await m.binding.drain()
        check_empty(m.loop)

    in_mode(mode, body)


def scenario_cycles_thread():
    cycles("thread")


def scenario_cycles_aio():
    cycles("aio")


if __name__ == "__main__":
    globals()["scenario_" + sys.argv[1]]()
    print("ok")
