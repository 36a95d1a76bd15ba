#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""vevent-monitor as a user runs it: a subprocess whose output is read as it
arrives, with deadlines instead of sleeps.

Usage: test-monitor.py MONITOR TEST
Tests named daemon_* need a private libvirtd: run them under with-libvirtd,
which sets VEVENT_TEST_LIBVIRTD_URI / _PID / _DIR.  Exit status 77 = skipped.
"""
import json
import os
import re
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time

MONITOR = None
SKIP = 77

DEMO_LIFECYCLE = [
    "defined (added)", "started (booted)", "suspended (paused)",
    "resumed (unpaused)", "stopped (saved)", "started (restored)",
    "stopped (shutdown)", "started (booted)", "stopped (destroyed)",
    "undefined (removed)",
]
LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)  (\S+)  (\S+)  (.*)$")


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


class Monitor:
    """A running vevent-monitor whose stdout and stderr lines are collected
    as they come."""

    def __init__(self, *args, stdout=subprocess.PIPE, env=None,
                 preexec_fn=None):
        """stdout other than PIPE (a file, a descriptor) is not read."""
        self.argv = [MONITOR, *args]
        self.proc = subprocess.Popen(self.argv, stdout=stdout,
                                     stderr=subprocess.PIPE,
                                     env=dict(os.environ, **(env or {})),
                                     preexec_fn=preexec_fn)
        self.out, self.err = [], []
        self._partial = {"out": b"", "err": b""}
        self._sel = selectors.DefaultSelector()
        if self.proc.stdout:
            self._sel.register(self.proc.stdout, selectors.EVENT_READ, "out")
        self._sel.register(self.proc.stderr, selectors.EVENT_READ, "err")

    def _pump(self, timeout):
        """Reads what is available, waiting up to timeout; False at EOF of
        both streams."""
        if not self._sel.get_map():
            return False
        for key, _ in self._sel.select(timeout):
            data = os.read(key.fileobj.fileno(), 65536)
            name = key.data
            if not data:
                self._sel.unregister(key.fileobj)
                if self._partial[name]:
                    getattr(self, name).append(self._partial[name].decode())
                    self._partial[name] = b""
                continue
            buf = self._partial[name] + data
            *lines, self._partial[name] = buf.split(b"\n")
            getattr(self, name).extend(l.decode() for l in lines)
        return True

    def wait_for(self, stream, pattern, timeout):
        """Waits until a line of stream ('out' or 'err') matches."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            if any(rx.search(l) for l in getattr(self, stream)):
                return
            left = deadline - time.monotonic()
            if left <= 0 or not self._pump(left):
                if any(rx.search(l) for l in getattr(self, stream)):
                    return
                raise Failure("no line matching %r on std%s within %gs; "
                              "got:\n%s" % (pattern, stream, timeout,
                                            self.transcript()))

    def wait_exit(self, timeout):
        deadline = time.monotonic() + timeout
        while self._pump(max(0.0, deadline - time.monotonic())):
            if time.monotonic() >= deadline:
                break
        try:
            return self.proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise Failure("did not exit within %gs:\n%s" % (timeout,
                                                            self.transcript()))

    def still_running(self, seconds):
        """Reads output for that long, unless the monitor exits first;
        whether it is still running."""
        deadline = time.monotonic() + seconds
        while self.proc.poll() is None:
            left = deadline - time.monotonic()
            if left <= 0:
                return True
            if not self._pump(min(left, 0.05)):
                try:
                    self.proc.wait(left)
                except subprocess.TimeoutExpired:
                    return True
        return False

    def close_stdout(self):
        """What a reader that exits does to the monitor's stdout."""
        self._sel.unregister(self.proc.stdout)
        self.proc.stdout.close()

    def signal(self, sig):
        self.proc.send_signal(sig)

    def transcript(self):
        return ("$ %s\n--- stdout\n%s\n--- stderr\n%s" %
                (" ".join(self.argv), "\n".join(self.out), "\n".join(self.err)))

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def run(*args, timeout=30, **kwargs):
    m = Monitor(*args, **kwargs)
    try:
        rc = m.wait_exit(timeout)
    finally:
        m.kill()
    return rc, m


def expect_status(m, rc, want):
    check(rc == want, "exit status %s, expected %s\n%s" % (rc, want,
                                                           m.transcript()))


def event_lines(m):
    parsed = []
    for l in m.out:
        mt = LINE.match(l)
        if mt:
            parsed.append(mt.groups())
    return parsed


def json_lines(m):
    objs = []
    for l in m.out:
        try:
            o = json.loads(l)
        except ValueError:
            raise Failure("not a JSON object: %r\n%s" % (l, m.transcript()))
        for k in ("time", "domain", "uuid", "event", "detail", "details"):
            check(k in o, "field %s missing in %r" % (k, l))
        check(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", o["time"]),
              "bad time in %r" % l)
        objs.append(o)
    return objs


def check_demo_text(m, rc):
    expect_status(m, rc, 0)
    lines = event_lines(m)
    demo = [l for l in lines if l[1].startswith("demo-")]
    check(demo, "no demo event\n" + m.transcript())
    name = demo[0][1]
    check(all(l[1] == name for l in demo), "several demo domains")
    lifecycle = [l[3] for l in demo if l[2] == "lifecycle"]
    check(lifecycle == DEMO_LIFECYCLE,
          "lifecycle events %r, expected %r" % (lifecycle, DEMO_LIFECYCLE))
    check(any(re.match(r"^  watches left +0$", l) for l in m.out),
          "statistics do not show an empty loop\n" + m.transcript())
    check(any(l.startswith("loop statistics") for l in m.out),
          "no loop statistics\n" + m.transcript())
    return demo


# ---- without a daemon -------------------------------------------------------

def test_usage():
    rc, m = run("--help")
    expect_status(m, rc, 0)
    check(any("Usage:" in l for l in m.out), "no usage text")
    rc, m = run("--version")
    expect_status(m, rc, 0)
    check(re.match(r"^vevent-monitor \S+ \(vevent \S+, libvirt \d+\.\d+\.\d+\)$",
                   m.out[0]), "version line: %r" % m.out[0])
    rc, m = run("--list-events")
    expect_status(m, rc, 0)
    for name in ("lifecycle", "reboot", "rtc-change", "watchdog", "io-error",
                 "graphics", "block-job", "disk-change", "tray-change",
                 "pm-suspend", "balloon-change", "device-added",
                 "device-removed", "tunable", "agent-lifecycle",
                 "job-completed", "metadata-change", "block-threshold",
                 "memory-failure"):
        check(name in m.out, "--list-events lacks " + name)
    for args, why in ((["--events", "lifecycle,bogus"], "unknown event type 'bogus'"),
                      (["--events", ""], "at least one"),
                      (["--duration", "0"], "positive number"),
                      (["--duration", "abc"], "positive number"),
                      (["--keepalive", "x"], "INTERVAL"),
                      (["--demo-delay", "-5"], "milliseconds"),
                      (["--uri"], "needs a value"),
                      (["--frobnicate"], "unknown option"),
                      (["extra"], "unexpected argument")):
        rc, m = run(*args)
        expect_status(m, rc, 2)
        check(any(why in l for l in m.err), "%s: no %r in\n%s" %
              (args, why, m.transcript()))
        check(not m.out, "%s printed on stdout" % args)
    rc, m = run("--events", "nonsense")
    check(any("valid types: lifecycle, reboot" in l and l.endswith(", all")
              for l in m.err), "valid types not listed\n" + m.transcript())


def test_demo_text():
    rc, m = run("--demo", "--demo-delay", "0")
    check_demo_text(m, rc)
    check(any(re.search(r"  metadata-change  description changed$", l)
              for l in m.out), "no metadata-change line\n" + m.transcript())
    check(any("demo: done" in l for l in m.err), "demo not done")


def test_demo_json():
    rc, m = run("--demo", "--demo-delay", "0", "--json")
    expect_status(m, rc, 0)
    objs = json_lines(m)
    demo = [o for o in objs if (o["domain"] or "").startswith("demo-")]
    lifecycle = [o["detail"] for o in demo if o["event"] == "lifecycle"]
    check(lifecycle == DEMO_LIFECYCLE, "lifecycle %r" % lifecycle)
    for o in demo:
        check(re.match(r"^[0-9a-f-]{36}$", o["uuid"]), "uuid %r" % o["uuid"])
    first = [o for o in demo if o["event"] == "lifecycle"][0]
    check(first["details"] == {"type": "defined", "reason": "added",
                               "type_code": 0, "reason_code": 0},
          "details %r" % first["details"])
    stats = objs[-1]
    check(stats["event"] == "loop-statistics" and stats["domain"] is None,
          "last object is not the statistics: %r" % stats)
    d = stats["details"]
    check(d["backend"] in ("epoll", "poll"), "backend %r" % d)
    want = os.environ.get("VEVENT_BACKEND")
    check(not want or d["backend"] == want, "backend %r, expected %s" % (d, want))
    check(d["handles"] == 0 and d["timers"] == 0 and d["pending_frees"] == 0,
          "registrations left on the loop: %r" % d)
    check(d["timer_calls"] >= len(DEMO_LIFECYCLE), "few timer calls: %r" % d)


def test_demo_with_only_lifecycle_events():
    rc, m = run("--demo", "--demo-delay", "0", "--events", "lifecycle")
    check_demo_text(m, rc)
    check(not any("metadata-change" in l for l in m.out),
          "metadata-change printed though not selected")
    check(any("for 1 event type on" in l for l in m.err), "banner\n" +
          m.transcript())


def test_unreachable_uri():
    t0 = time.monotonic()
    rc, m = run("--uri", "test+unix:///default?socket=/nonexistent/vev-sock",
                timeout=20)
    expect_status(m, rc, 1)
    check(any("cannot connect to test+unix" in l for l in m.err),
          "no message\n" + m.transcript())
    check(time.monotonic() - t0 < 15, "took too long")


def test_duration():
    t0 = time.monotonic()
    rc, m = run("--duration", "0.3", "--stats")
    expect_status(m, rc, 0)
    check(time.monotonic() - t0 < 10, "--duration 0.3 took too long")
    check(not event_lines(m), "events on an idle test driver")
    check(any(re.match(r"^  watches left +0$", l) for l in m.out),
          "loop not empty at exit\n" + m.transcript())


def stop_by_signal(sig, name):
    m = Monitor("--stats")
    try:
        m.wait_for("err", r"watching test:///default for \d+ event types?", 20)
        m.signal(sig)
        rc = m.wait_exit(20)
        expect_status(m, rc, 0)
        m.wait_for("err", name + " received, stopping", 1)
        check(any(re.match(r"^  timers left +0$", l) for l in m.out),
              "loop not empty at exit\n" + m.transcript())
    finally:
        m.kill()


def test_sigint():
    stop_by_signal(signal.SIGINT, "SIGINT")


def test_sigterm():
    stop_by_signal(signal.SIGTERM, "SIGTERM")

def test_banner_plural():
    for events, words in (("lifecycle", "1 event type on"),
                          ("lifecycle,reboot", "2 event types on")):
        rc, m = run("--events", events, "--duration", "0.05")
        expect_status(m, rc, 0)
        check(any(words in l for l in m.err), "no %r in the banner\n%s" %
              (words, m.transcript()))


def test_events_empty_name():
    for arg in ("lifecycle,,reboot", ",lifecycle", "lifecycle,", ","):
        rc, m = run("--events", arg, timeout=10)
        expect_status(m, rc, 2)
        check(any("--events: '%s' has an empty event type name" % arg in l
                  for l in m.err), "%r: no message\n%s" % (arg, m.transcript()))
        check(not any("watching" in l for l in m.err),
              "%r: started watching" % arg)


def test_duration_limits():
    for arg, why in (("99999999999", "more than the maximum of 1000000000 "
                                     "seconds"),
                     ("1000000000.001", "more than the maximum"),
                     ("1e400", "more than the maximum"),
                     ("inf", "more than the maximum"),
                     ("nan", "not a positive number"),
                     ("-1", "not a positive number"),
                     ("-0", "not a positive number"),
                     ("", "not a positive number"),
                     ("5s", "not a positive number")):
        rc, m = run("--duration", arg, timeout=10)
        expect_status(m, rc, 2)
        check(any("--duration: '%s' is %s" % (arg, why) in l for l in m.err),
              "%r: no %r\n%s" % (arg, why, m.transcript()))
        check(len(m.err) == 1, "%r: more than one message\n%s" %
              (arg, m.transcript()))


def stats_value(m, words):
    for l in m.out:
        mt = re.match(r"^  %s +(\d+)$" % re.escape(words), l)
        if mt:
            return int(mt.group(1))
    raise Failure("no %r in the statistics\n%s" % (words, m.transcript()))


# Steps of 100 ms instead of a day: a duration longer than a step is then
# reached through several re-armed steps within a test's time.
STEP_ENV = {"VEVENT_MONITOR_TEST_DURATION_STEP_MS": "100"}


def test_duration_long():
    # Beyond what an int of milliseconds holds (4294967.296 s wrapped to
    # 0 ms, 2147484 s to a negative, disabled timer): armed, not expired.
    ms = [Monitor("--duration", d, "--stats", env=STEP_ENV)
          for d in ("4294967.296", "2147484", "1000000000")]
    try:
        for m in ms:
            m.wait_for("err", r"watching test:///default", 20)
        check(ms[0].still_running(1.0), "stopped early\n" + ms[0].transcript())
        for m in ms:
            check(m.proc.poll() is None, "stopped early\n" + m.transcript())
            m.signal(signal.SIGTERM)
        for m in ms:
            expect_status(m, m.wait_exit(20), 0)
            m.wait_for("err", "SIGTERM received, stopping", 1)
            check(stats_value(m, "timers left") == 0, "timer left\n" +
                  m.transcript())
            # The idle test driver has no timer: these are the steps.
            check(stats_value(m, "timer callbacks (event delivery, "
                              "keepalive, demo)") >= 2,
                  "the duration timer is not stepping\n" + m.transcript())
    finally:
        for m in ms:
            m.kill()
    # Several steps, then the end, never before the deadline.
    t0 = time.monotonic()
    rc, m = run("--duration", "0.75", "--stats", env=STEP_ENV)
    elapsed = time.monotonic() - t0
    expect_status(m, rc, 0)
    check(elapsed >= 0.75, "stopped after %.3f s" % elapsed)
    check(not any("received" in l for l in m.err), "stopped by a signal")
    rc, m = run("--duration", "1", env={
        "VEVENT_MONITOR_TEST_DURATION_STEP_MS": "0"})
    expect_status(m, rc, 1)
    check(any("is not 1-86400000 milliseconds" in l for l in m.err),
          "bad step accepted\n" + m.transcript())


# ---- a standard output that fails ------------------------------------------

OUTPUT_FAILED = "cannot write to standard output: "


def expect_output_failure(m, rc, why):
    expect_status(m, rc, 1)
    msgs = [l for l in m.err if OUTPUT_FAILED in l]
    check(len(msgs) == 1 and msgs[0].endswith(OUTPUT_FAILED + why),
          "expected one message ending %r\n%s" % (OUTPUT_FAILED + why,
                                                    m.transcript()))
    check(not any("demo: done" in l or "still holds" in l for l in m.err),
          "went on or did not shut down cleanly\n" + m.transcript())


def test_output_reader_gone():
    # A reader that exits while nothing is being written.
    m = Monitor("--events", "lifecycle")
    try:
        m.wait_for("err", r"watching test:///default", 20)
        m.close_stdout()
        expect_output_failure(m, m.wait_exit(10), "the reader went away")
    finally:
        m.kill()


def test_output_piped_to_head():
    # vevent-monitor --demo | head -1, with the next step a minute away.
    r, w = os.pipe()
    m = Monitor("--demo", "--demo-delay", "60000", stdout=w)
    os.close(w)
    head = subprocess.Popen(["head", "-1"], stdin=r, stdout=subprocess.PIPE)
    os.close(r)
    try:
        first, _ = head.communicate(timeout=20)
        check(re.search(r"  demo-\d+  lifecycle  defined \(added\)\n$",
                        first.decode()), "head got %r" % first)
        expect_output_failure(m, m.wait_exit(10), "the reader went away")
    finally:
        head.kill()
        m.kill()


def test_output_peer_stops_reading():
    # A socket whose reader shut its side: writes fail with EPIPE, and
    # nothing is reported by poll, so only a checked write can see it.
    mine, theirs = socket.socketpair()
    mine.shutdown(socket.SHUT_RD)
    try:
        rc, m = run("--demo", "--demo-delay", "0", stdout=theirs.fileno())
    finally:
        theirs.close()
        mine.close()
    expect_output_failure(m, rc, "the reader went away")


def test_output_full_device():
    with open("/dev/full", "wb") as full:
        rc, m = run("--demo", "--demo-delay", "0", stdout=full)
        expect_output_failure(m, rc, "No space left on device")
        check(any("demo: virDomainDefineXML" in l for l in m.err),
              "the demo did not start\n" + m.transcript())
        # Nothing but the statistics, written while shutting down.
        rc, m = run("--duration", "0.05", "--stats", stdout=full)
        expect_output_failure(m, rc, "No space left on device")
        for args in (["--help"], ["--version"], ["--list-events"]):
            rc, m = run(*args, stdout=full)
            expect_output_failure(m, rc, "No space left on device")


def test_output_closed():
    rc, m = run("--demo", "--demo-delay", "0",
                preexec_fn=lambda: os.close(1), stdout=subprocess.DEVNULL)
    expect_output_failure(m, rc, "it is closed")
    check(not any("watching" in l for l in m.err),
          "started without an output\n" + m.transcript())



# ---- against a private libvirtd ------------------------------------------

def daemon():
    uri = os.environ.get("VEVENT_TEST_LIBVIRTD_URI")
    if not uri:
        print("SKIP: no private libvirtd (run under with-libvirtd)")
        sys.exit(SKIP)
    return (uri, int(os.environ["VEVENT_TEST_LIBVIRTD_PID"]),
            os.environ["VEVENT_TEST_LIBVIRTD_DIR"])


def virsh(uri, *args):
    r = subprocess.run(["virsh", "-q", "-c", uri, *args], timeout=30,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    check(r.returncode == 0, "virsh %s: %s" % (" ".join(args),
                                               r.stdout.decode()))


def start_monitor(uri, *args):
    m = Monitor("--uri", uri, *args)
    m.wait_for("err", r"watching .* for \d+ event types?", 20)
    return m


def test_daemon_virsh_events():
    uri, _, tmp = daemon()
    xml = os.path.join(tmp, "vd.xml")
    with open(xml, "w") as f:
        f.write("<domain type='test'><name>vd</name><memory>65536</memory>"
                "<os><type>hvm</type></os></domain>")
    text = start_monitor(uri)
    js = start_monitor(uri, "--json", "--events", "lifecycle,metadata-change")
    try:
        virsh(uri, "define", xml)
        virsh(uri, "start", "vd")
        virsh(uri, "suspend", "vd")
        virsh(uri, "desc", "vd", "described by virsh")
        virsh(uri, "resume", "vd")
        virsh(uri, "destroy", "vd")
        virsh(uri, "undefine", "vd")
        expected = [("lifecycle", "defined (added)"),
                    ("lifecycle", "started (booted)"),
                    ("lifecycle", "suspended (paused)"),
                    ("metadata-change", "description changed"),
                    ("lifecycle", "resumed (unpaused)"),
                    ("lifecycle", "stopped (destroyed)"),
                    ("lifecycle", "undefined (removed)")]
        text.wait_for("out", r"  vd  lifecycle  undefined \(removed\)$", 20)
        got = [(l[2], l[3]) for l in event_lines(text) if l[1] == "vd"]
        check(got == expected, "text: %r\n%s" % (got, text.transcript()))
        js.wait_for("out", r'"detail":"undefined \(removed\)"', 20)
        got = [(o["event"], o["detail"]) for o in json_lines(js)
               if o["domain"] == "vd"]
        check(got == expected, "json: %r\n%s" % (got, js.transcript()))
        for m in (text, js):
            m.signal(signal.SIGTERM)
            expect_status(m, m.wait_exit(20), 0)
    finally:
        text.kill()
        js.kill()


def test_daemon_demo():
    uri, _, _ = daemon()
    rc, m = run("--uri", uri, "--demo", "--demo-delay", "0")
    check_demo_text(m, rc)


def test_daemon_killed():
    uri, pid, _ = daemon()
    m = start_monitor(uri, "--json")
    try:
        os.kill(pid, signal.SIGKILL)
        rc = m.wait_exit(20)
        expect_status(m, rc, 1)
        closed = [o for o in json_lines(m) if o["event"] == "connection-closed"]
        check(len(closed) == 1 and closed[0]["details"]["reason"] == "eof",
              "closed %r\n%s" % (closed, m.transcript()))
        m.wait_for("err", r"closed: end of file from the server", 1)
    finally:
        m.kill()


def test_daemon_frozen():
    uri, pid, _ = daemon()
    m = start_monitor(uri, "--keepalive", "1,2")
    try:
        os.kill(pid, signal.SIGSTOP)
        t0 = time.monotonic()
        rc = m.wait_exit(30)
        os.kill(pid, signal.SIGCONT)
        expect_status(m, rc, 1)
        m.wait_for("out", r"  -  connection-closed  keepalive timeout", 1)
        m.wait_for("err", r"closed: keepalive timeout", 1)
        check(time.monotonic() - t0 < 20, "keepalive took too long")
    finally:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
        m.kill()


def test_daemon_unknown_event_name():
    # Rejected before connecting: no connection is ever opened.
    uri, _, _ = daemon()
    rc, m = run("--uri", uri, "--events", "lifecycle,explode")
    expect_status(m, rc, 2)


def main():
    global MONITOR
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    MONITOR, name = sys.argv[1], sys.argv[2]
    fn = globals().get("test_" + name)
    if not fn:
        print("no test named %s" % name, file=sys.stderr)
        return 2
    try:
        fn()
    except Failure as e:
        print("FAILED %s: %s" % (name, e), file=sys.stderr)
        return 1
    print("ok %s" % name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
