#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Domain events delivered to a Python process: vevent against libvirt's own
event loops for Python.

A receiver process opens N connections to a private libvirtd (built-in test
driver only) and registers a lifecycle callback on each; this process then
defines and undefines domains on the daemon at a fixed rate, one event per
call, so that every connection receives every event.  Four ways of running
libvirt's event loop in the receiver, each in a fresh process (libvirt keeps
one event implementation per process):

  vevent-thread   vevent.libvirt.register(): a native helper thread
  default-thread  libvirt.virEventRegisterDefaultImpl() and a Python thread
                  calling virEventRunDefaultImpl()
  vevent-aio      vevent.aio.register_libvirt() inside asyncio.run()
  libvirtaio      libvirtaio.virEventRegisterAsyncIOImpl() inside asyncio.run()

and, only when asked for with --modes, vevent-pythread: register(thread=False)
with a Python thread calling the loop's run().

Measured per (mode, N): the receiver's CPU time (CLOCK_PROCESS_CPUTIME_ID,
every thread) from the moment it is ready until the last expected event
arrives, divided by the events delivered (events caused x N); and the
delivery latency of each event on each connection, from the clock reading
taken just before the call that caused it to the one taken first thing in
the callback (CLOCK_MONOTONIC, shared by the processes of one machine).
Every run also checks that each caused event reached each connection
exactly once.  Repeats are interleaved: each repeat runs every (mode, N)
once, in a shuffled order; the tables give medians over the repeats.

  python-events.py [--build DIR | --pkgdir DIR] [--out DIR] ...
  python-events.py --smoke ...   N = 1, a few events, one repeat, no timing
                                 judged: correctness only (meson test)
  python-events.py --replot DIR  the tables again from DIR/raw.csv

Outputs (--out, default bench/results-python/; a smoke run keeps nothing
unless --out is given): raw.csv (one row per measurement), summary.csv,
tables.md, machine.txt.  Exits 77 (skipped), saying why, when the machine
cannot run a private libvirtd (not root, no libvirtd), libvirt-python is
missing, or the package was built without its libvirt bridge.
"""

import argparse
import asyncio
import collections
import csv
import ctypes
import datetime
import glob
import json
import math
import os
import platform
import random
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SKIP = 77

MODES = ["vevent-thread", "default-thread", "vevent-aio", "libvirtaio"]
# Only with --modes: vevent's loop run by a Python thread (register(
# thread=False), loop.run()), which tells the cost of the native helper
# thread's callbacks into Python apart from the rest.
EXTRA_MODES = ["vevent-pythread"]
# (vevent's mode, the libvirt-python loop it replaces)
PAIRS = [("vevent-aio", "libvirtaio"), ("vevent-thread", "default-thread"),
         ("vevent-pythread", "default-thread")]
# (raw.csv column, table title, name in the ratio table)
METRICS = [("cpu_us_per_event", "CPU µs per delivered event", "CPU per event"),
           ("lat_p50_us", "p50 delivery latency, µs", "p50 latency"),
           ("lat_p99_us", "p99 delivery latency, µs", "p99 latency")]

EVENT_DEFINED, EVENT_UNDEFINED = 0, 1
DOMAIN_XML = ("<domain type='test'><name>%s</name><memory>8192</memory>"
              "<os><type>hvm</type></os></domain>")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def skip(why):
    print("SKIP: " + why, flush=True)
    sys.exit(SKIP)


# ------------------------------------------------------------- the receiver

def receiver(args):
    """Runs in the fresh process: N connections, one callback each."""
    import faulthandler
    faulthandler.dump_traceback_later(args.timeout + 60, exit=True)
    import libvirt

    n = int(args.n)
    expected = args.caused * n
    records = []  # (connection, domain name, event, receive time in ns)
    mark = {}
    clock, cpu = time.monotonic_ns, time.process_time_ns
    finished = []  # set by each mode: called once, on the callback's thread

    def on_event(conn, dom, event, detail, index):
        t = clock()
        records.append((index, dom.name(), event, t))
        if len(records) == expected:
            mark["cpu_end"], mark["t_end"] = cpu(), t
            finished[0]()

    def open_all():
        conns = []
        for i in range(n):
            c = libvirt.open(args.uri)
            c.domainEventRegisterAny(None,
                                     libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                     on_event, i)
            conns.append(c)
        return conns

    def ready():
        mark["cpu_start"], mark["t_start"] = cpu(), clock()
        print("ready", flush=True)

    def report():
        got = list(records)
        with open(args.result, "w") as f:
            json.dump({"mode": args.receiver, "n": n,
                       "complete": "cpu_end" in mark,
                       "cpu_ns": mark.get("cpu_end", cpu()) -
                       mark["cpu_start"],
                       "window_ns": mark.get("t_end", clock()) -
                       mark["t_start"],
                       "records": got}, f)
        print("done", flush=True)
        # The default loop's Python thread is blocked inside libvirt, and
        # the connections go with the process: nothing is left to tidy.
        os._exit(0)

    if args.receiver in ("vevent-thread", "default-thread",
                         "vevent-pythread"):
        done = threading.Event()
        finished.append(done.set)
        if args.receiver == "vevent-thread":
            import vevent.libvirt
            vevent.libvirt.register(thread=True)
        elif args.receiver == "vevent-pythread":
            import vevent.libvirt
            loop = vevent.libvirt.register(thread=False)
            threading.Thread(target=loop.run, daemon=True).start()
        else:
            libvirt.virEventRegisterDefaultImpl()

            def run_default():
                while True:
                    libvirt.virEventRunDefaultImpl()

            threading.Thread(target=run_default, daemon=True).start()
        mark["conns"] = open_all()  # open until the process ends
        ready()
        done.wait(args.timeout)
        time.sleep(args.linger)  # to see duplicates arrive, if any
        report()

    async def main():
        aioloop = asyncio.get_running_loop()
        fut = aioloop.create_future()
        finished.append(lambda: fut.done() or fut.set_result(None))
        if args.receiver == "vevent-aio":
            import vevent.aio
            vevent.aio.register_libvirt()
        else:
            import libvirtaio
            libvirtaio.virEventRegisterAsyncIOImpl()
        mark["conns"] = open_all()  # open until the process ends
        ready()
        try:
            await asyncio.wait_for(asyncio.shield(fut), args.timeout)
        except asyncio.TimeoutError:
            pass
        await asyncio.sleep(args.linger)
        report()

    asyncio.run(main())


# ------------------------------------------------------ the private daemon

class Daemon:
    """A private libvirtd: a short temporary socket directory, TCP and TLS
    off, no authentication on the UNIX socket, only the test driver built
    into libvirt (an empty driver directory), and room for this benchmark's
    clients.  It dies with this process (PR_SET_PDEATHSIG)."""

    def __init__(self, binary, max_clients):
        self.dir = tempfile.mkdtemp(prefix="vev-pyev.", dir="/tmp")
        self.proc = None
        for d in ("run", "drivers", "home"):
            os.mkdir(os.path.join(self.dir, d))
        conf = os.path.join(self.dir, "libvirtd.conf")
        with open(conf, "w") as f:
            f.write('unix_sock_dir = "%s/run"\n'
                    "listen_tcp = 0\nlisten_tls = 0\n"
                    'auth_unix_rw = "none"\nauth_unix_ro = "none"\n'
                    "max_clients = %d\nmax_anonymous_clients = %d\n"
                    'log_outputs = "3:stderr"\n'
                    % (self.dir, max_clients, max_clients))
        self.sock = os.path.join(self.dir, "run", "libvirt-sock")
        self.uri = "test+unix:///default?socket=" + self.sock
        env = dict(os.environ)
        home = os.path.join(self.dir, "home")
        env.update(LIBVIRT_DRIVER_DIR=os.path.join(self.dir, "drivers"),
                   HOME=home, XDG_RUNTIME_DIR=home, XDG_CONFIG_HOME=home,
                   XDG_CACHE_HOME=home)
        env.pop("LIBVIRT_DEBUG", None)
        self.log_path = os.path.join(self.dir, "libvirtd.log")
        parent = os.getpid()

        def die_with_parent():
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
            if os.getppid() != parent:
                os._exit(1)

        with open(self.log_path, "w") as logf:
            self.proc = subprocess.Popen(
                [binary, "-f", conf, "-p",
                 os.path.join(self.dir, "libvirtd.pid"), "-t", "600"],
                stdin=subprocess.DEVNULL, stdout=logf, stderr=logf, env=env,
                preexec_fn=die_with_parent)
        self._wait_for_socket()

    def _wait_for_socket(self):
        # It creates the socket before it serves: retry, up to a deadline.
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError("libvirtd exited during startup (status "
                                   "%d)\n%s" % (self.proc.returncode,
                                                self.log()))
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(self.sock)
                return
            except OSError:
                pass
            finally:
                s.close()
            if time.monotonic() > deadline:
                raise RuntimeError("libvirtd's socket did not appear within "
                                   "20 s\n" + self.log())
            time.sleep(0.01)

    def log(self):
        try:
            with open(self.log_path) as f:
                return f.read()[-4000:]
        except OSError:
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


# ------------------------------------------------------------ measurements

def read_line(proc, timeout):
    """The receiver's next line on stdout, or None at the deadline/EOF."""
    deadline = time.monotonic() + timeout
    buf = b""
    fd = proc.stdout.fileno()
    while not buf.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return None
        chunk = os.read(fd, 1)
        if not chunk:
            return None
        buf += chunk
    return buf.decode().strip()


def cause_events(conn, prefix, count, rate):
    """Defines and undefines domains, one call every 1/rate s on a fixed
    schedule; returns {(name, event): time before the call, in ns}."""
    caused = {}
    period = 1e9 / rate
    start = time.monotonic_ns()
    dom = None
    for i in range(count):
        due = start + int(i * period)
        now = time.monotonic_ns()
        if due > now:
            time.sleep((due - now) / 1e9)  # the pace, nothing to wait for
        name = "%s%d" % (prefix, i // 2)
        t = time.monotonic_ns()
        if i % 2 == 0:
            dom = conn.defineXML(DOMAIN_XML % name)
            caused[(name, EVENT_DEFINED)] = t
        else:
            dom.undefine()
            caused[(name, EVENT_UNDEFINED)] = t
    return caused


def percentile(sorted_values, p):
    """Nearest rank."""
    if not sorted_values:
        return float("nan")
    k = max(0, math.ceil(p / 100 * len(sorted_values)) - 1)
    return sorted_values[k]


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except (OSError, ValueError):
        return float("nan")


def measure(ctx, mode, n, repeat, tag):
    """One receiver process; returns (row dict, failure text or None)."""
    import libvirt
    args = ctx.args
    prefix = "pe%sx" % tag
    result = os.path.join(ctx.tmp, "result-%s.json" % tag)
    errpath = os.path.join(ctx.tmp, "receiver-%s.err" % tag)
    duration = args.events / args.rate
    timeout = duration + (8 if args.smoke else 20)
    row = dict(repeat=repeat, mode=mode, n=n, events_caused=args.events,
               rate_per_s=args.rate, loadavg_1min=loadavg())
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [ctx.pkgdir] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    driver = libvirt.open(ctx.daemon.uri)
    with open(errpath, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "--receiver", mode,
             "--n", str(n), "--uri", ctx.daemon.uri,
             "--caused", str(args.events), "--timeout", str(timeout),
             "--linger", str(args.linger), "--result", result],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
            env=env)
    ctx.child = proc

    def failed(why):
        row["ok"] = 0
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        with open(errpath) as f:
            text = f.read()[-3000:]
        return row, "%s, N = %d: %s\n%s" % (mode, n, why, text)

    try:
        line = read_line(proc, 60 + n)
        if line != "ready":
            return failed("the receiver did not get ready (%r)" % line)
        caused = cause_events(driver, prefix, args.events, args.rate)
        line = read_line(proc, timeout + args.linger + 30)
        if line != "done":
            return failed("the receiver did not finish (%r)" % line)
        proc.wait(10)
    finally:
        driver.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        ctx.child = None
    with open(result) as f:
        res = json.load(f)
    os.unlink(result)

    counts = collections.Counter()
    lat = []
    unexpected = 0
    for index, name, event, t in res["records"]:
        t0 = caused.get((name, event))
        if t0 is None:
            unexpected += 1
            continue
        counts[(index, name, event)] += 1
        if counts[(index, name, event)] == 1:
            lat.append((t - t0) / 1000)
    expected = args.events * n
    lat.sort()
    delivered = len(lat)
    cpu_s = res["cpu_ns"] / 1e9
    row.update(
        deliveries_expected=expected, delivered=delivered,
        missing=expected - delivered,
        duplicates=sum(c - 1 for c in counts.values()),
        unexpected=unexpected, cpu_s=round(cpu_s, 6),
        window_s=round(res["window_ns"] / 1e9, 6),
        cpu_us_per_event=round(cpu_s * 1e6 / max(delivered, 1), 3),
        lat_p50_us=round(percentile(lat, 50), 1),
        lat_p99_us=round(percentile(lat, 99), 1),
        lat_max_us=round(lat[-1], 1) if lat else float("nan"),
        lat_mean_us=round(statistics.fmean(lat), 1) if lat else float("nan"))
    ok = (res["complete"] and row["missing"] == 0 and
          row["duplicates"] == 0 and unexpected == 0)
    row["ok"] = int(ok)
    if not ok:
        return row, ("%s, N = %d: %d of %d deliveries arrived, %d "
                     "duplicate(s), %d unexpected event(s)" %
                     (mode, n, delivered, expected, row["duplicates"],
                      unexpected))
    return row, None


# ------------------------------------------------------------------ report

RAW_FIELDS = ["repeat", "mode", "n", "events_caused", "rate_per_s",
              "deliveries_expected", "delivered", "missing", "duplicates",
              "unexpected", "ok", "cpu_s", "window_s", "cpu_us_per_event",
              "lat_p50_us", "lat_p99_us", "lat_max_us", "lat_mean_us",
              "loadavg_1min"]


def fmt(v):
    if v != v:  # NaN
        return "-"
    if v >= 100:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    return "%.2f" % v


def summarize(rows, modes, ns):
    """{(mode, n, metric): (median, spread)} over the good repeats."""
    out = {}
    for mode in modes:
        for n in ns:
            good = [r for r in rows if r["mode"] == mode and r["n"] == n and
                    r.get("ok")]
            for metric, _, _ in METRICS:
                vals = [r[metric] for r in good]
                if not vals:
                    continue
                med = statistics.median(vals)
                spread = (max(vals) - min(vals)) / med if med else 0.0
                out[(mode, n, metric)] = (med, spread, len(vals))
    return out


def tables(summary, modes, ns, repeats):
    lines = ["Median over %d interleaved repeat(s); ±: spread (max − min) / "
             "median over the repeats.  CPU time is the receiver process's "
             "(all threads) from ready to the last delivery, divided by the "
             "events delivered (events caused × N).  Latency: from just "
             "before the call that caused the event to the callback, per "
             "event and connection." % repeats, ""]
    head = "| mode | " + " | ".join("N = %d" % n for n in ns) + " |"
    rule = "|---|" + "--:|" * len(ns)
    for metric, title, _ in METRICS:
        lines += ["#### " + title, "", head, rule]
        for mode in modes:
            cells = []
            for n in ns:
                s = summary.get((mode, n, metric))
                cells.append("%s ±%.0f%%" % (fmt(s[0]), s[1] * 100)
                             if s else "-")
            lines.append("| %s | %s |" % (mode, " | ".join(cells)))
        lines.append("")
    lines += ["#### Ratios (medians; below 1 means vevent uses less CPU or "
              "delivers sooner)", "",
              "| ratio | metric | " + " | ".join("N = %d" % n for n in ns) +
              " |", "|---|---|" + "--:|" * len(ns)]
    for a, b in PAIRS:
        if a not in modes or b not in modes:
            continue
        for metric, _, short in METRICS:
            cells = []
            for n in ns:
                x, y = summary.get((a, n, metric)), summary.get((b, n, metric))
                cells.append("%.2f×" % (x[0] / y[0]) if x and y and y[0]
                             else "-")
            lines.append("| %s / %s | %s | %s |" % (a, b, short,
                                                   " | ".join(cells)))
    return "\n".join(lines) + "\n"


def machine_info(args, ctx, started, elapsed, load_start):
    import libvirt
    v = libvirt.getVersion()
    try:
        commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short",
                                 "HEAD"], capture_output=True, text=True,
                                timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f
                        if l.startswith("model name")), "")
    except OSError:
        pass
    return "\n".join([
        "date: %s (UTC)" % started,
        "host: %s, %d CPU(s), %s" % (platform.node(), os.cpu_count() or 0,
                                      cpu),
        "kernel: %s %s" % (platform.system(), platform.release()),
        "python: %s (%s)" % (platform.python_version(), sys.executable),
        "libvirt: %d.%d.%d" % (v // 1000000, v // 1000 % 1000, v % 1000),
        "vevent package: %s%s" % (ctx.pkgdir,
                                  " (commit %s)" % commit if commit else ""),
        "events caused per measurement: %d at %g/s; repeats: %d; N: %s" % (
            args.events, args.rate, args.repeats,
            ", ".join(str(n) for n in ctx.ns)),
        "load average (1 min): %.2f at start, %.2f at end" % (load_start,
                                                              loadavg()),
        "elapsed: %.0f s" % elapsed, ""])


def write_report(out, rows, modes, ns, repeats, machine=None):
    """Writes raw.csv (when machine is given: a new run), summary.csv,
    tables.md and machine.txt into out (if any); returns the tables."""
    summary = summarize(rows, modes, ns)
    text = tables(summary, modes, ns, repeats)
    if not out:
        return text
    os.makedirs(out, exist_ok=True)
    if machine is not None:
        with open(os.path.join(out, "raw.csv"), "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=RAW_FIELDS, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)
        with open(os.path.join(out, "machine.txt"), "w") as f:
            f.write(machine)
    with open(os.path.join(out, "summary.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["mode", "n", "metric", "median", "spread", "repeats_ok"])
        for (mode, n, metric), (med, spread, k) in sorted(
                summary.items(), key=lambda kv: (
                    modes.index(kv[0][0]), kv[0][1], kv[0][2])):
            w.writerow([mode, n, metric, med, round(spread, 3), k])
    with open(os.path.join(out, "tables.md"), "w") as f:
        f.write(text)
    return text


def replot(src, out):
    """The tables again from a kept raw.csv."""
    path = os.path.join(src, "raw.csv")
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as e:
        sys.exit("python-events: --replot: %s" % e)
    try:
        for r in rows:
            for k in ("repeat", "n", "ok"):
                r[k] = int(r[k])
            for metric, _, _ in METRICS:
                # Empty in the rows of measurements that failed early.
                r[metric] = float(r[metric] or "nan")
    except (KeyError, ValueError) as e:
        sys.exit("python-events: --replot: %s is not a raw.csv of this "
                 "benchmark (%s)" % (path, e))
    present = {r["mode"] for r in rows}
    modes = [m for m in MODES + EXTRA_MODES if m in present]
    if not rows or len(modes) != len(present):
        sys.exit("python-events: --replot: no rows, or unknown modes, in "
                 + path)
    ns = sorted({r["n"] for r in rows})
    repeats = max(r["repeat"] for r in rows)
    print(write_report(out or src, rows, modes, ns, repeats))


# -------------------------------------------------------------------- main

def find_pkgdir(args):
    if args.pkgdir:
        cands = [args.pkgdir]
    elif args.build:
        cands = [os.path.join(args.build, "bindings", "python")]
    else:
        cands = [os.path.join(ROOT, d, "bindings", "python")
                 for d in ("build-bench", "build")]
    for c in cands:
        if glob.glob(os.path.join(c, "vevent", "_vevent.*.so")):
            return os.path.abspath(c)
    sys.exit("python-events: the Python package is not built in %s; build "
             "it first:\n  meson setup build-bench -Dbench=true "
             "-Dbuildtype=release\n  ninja -C build-bench" % " or ".join(cands))


def find_libvirtd():
    env = os.environ.get("LIBVIRTD")
    if env:
        return env if os.access(env, os.X_OK) else None
    path = os.environ.get("PATH", "/usr/bin:/bin") + ":/usr/sbin:/usr/local/sbin"
    for d in path.split(":"):
        p = os.path.join(d, "libvirtd")
        if d and os.access(p, os.X_OK):
            return p
    return None


def check_prerequisites(pkgdir):
    if os.environ.get("VEVENT_PY_SKIP"):
        skip(os.environ["VEVENT_PY_SKIP"])
    if os.geteuid() != 0:
        skip("a private libvirtd runs as root; this is uid %d" % os.geteuid())
    libvirtd = find_libvirtd()
    if not libvirtd:
        skip("libvirtd not found (install Debian's libvirt-daemon, or set "
             "LIBVIRTD)")
    try:
        import libvirt  # noqa: F401
        import libvirtaio  # noqa: F401
    except ImportError:
        skip("libvirt-python is not installed (Debian: python3-libvirt)")
    if not glob.glob(os.path.join(pkgdir, "vevent", "_libvirt.*.so")):
        skip("vevent was built without its libvirt bridge (libvirt-dev not "
             "found), so vevent.libvirt is not available")
    return libvirtd


def parse_args():
    ap = argparse.ArgumentParser(
        description="Domain-event delivery to Python: vevent.aio against "
        "libvirtaio, vevent.libvirt against the default loop, over N "
        "connections to a private libvirtd.")
    ap.add_argument("--smoke", action="store_true", help="N = 1, a few "
                    "events, one repeat: correctness only, under 30 s")
    ap.add_argument("--build", help="Meson build directory (default: "
                    "build-bench, then build)")
    ap.add_argument("--pkgdir", help="the directory holding the built "
                    "vevent/ package (default: BUILD/bindings/python)")
    ap.add_argument("--out", help="output directory (default: "
                    "bench/results-python/; none for --smoke)")
    ap.add_argument("--repeats", type=int, help="default 3 (smoke: 1)")
    ap.add_argument("--n", help="comma-separated connection counts "
                    "(default 1,10,100; smoke: 1)")
    ap.add_argument("--modes", help="comma-separated, from " +
                    ",".join(MODES + EXTRA_MODES) + " (default: the first "
                    "four)")
    ap.add_argument("--events", type=int, help="events caused per "
                    "measurement, even (default 300; smoke: 20)")
    ap.add_argument("--rate", type=float, default=100.0,
                    help="events caused per second (default 100)")
    ap.add_argument("--seed", type=int, default=1, help="shuffle seed")
    ap.add_argument("--replot", metavar="DIR", help="only redo summary.csv "
                    "and tables.md from DIR/raw.csv (into --out if given)")
    # A receiver (internal: this script runs itself in a fresh process).
    ap.add_argument("--receiver", choices=MODES + EXTRA_MODES,
                    help=argparse.SUPPRESS)
    ap.add_argument("--uri", help=argparse.SUPPRESS)
    ap.add_argument("--caused", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--timeout", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--linger", type=float, help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.receiver:
        return args

    def bad(msg):
        ap.error(msg)

    args.repeats = args.repeats or (1 if args.smoke else 3)
    args.events = args.events or (20 if args.smoke else 300)
    args.linger = 0.5 if args.smoke else 0.2
    if args.repeats < 1:
        bad("--repeats must be at least 1")
    if args.events < 2 or args.events % 2:
        bad("--events must be even and at least 2 (each domain is defined, "
            "then undefined)")
    if not 0 < args.rate <= 10000:
        bad("--rate must be in (0, 10000]")
    try:
        args.ns = ([int(x) for x in args.n.split(",")] if args.n else
                   ([1] if args.smoke else [1, 10, 100]))
    except ValueError:
        bad("--n: comma-separated integers, e.g. 1,10,100")
    if any(n < 1 or n > 1000 for n in args.ns):
        bad("--n: each count must be in 1..1000")
    args.modes = args.modes.split(",") if args.modes else MODES
    for m in args.modes:
        if m not in MODES + EXTRA_MODES:
            bad("--modes: unknown mode %r (known: %s)" % (
                m, ",".join(MODES + EXTRA_MODES)))
    return args


class Context:
    pass


def main():
    args = parse_args()
    if args.receiver:
        return receiver(args)
    if args.replot:
        return replot(args.replot, args.out)
    pkgdir = find_pkgdir(args)
    libvirtd = check_prerequisites(pkgdir)
    out = args.out or (None if args.smoke else
                       os.path.join(HERE, "results-python"))

    # meson test ends a test with SIGTERM: clean up on the way out.
    def on_term(sig, frame):
        raise SystemExit(128 + sig)
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)

    ctx = Context()
    ctx.args, ctx.pkgdir, ctx.ns, ctx.child = args, pkgdir, args.ns, None
    ctx.tmp = tempfile.mkdtemp(prefix="vev-pyev-out.")
    ctx.daemon = None
    started = datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%d %H:%M")
    t_start, load_start = time.monotonic(), loadavg()
    rows, failures = [], []
    try:
        ctx.daemon = Daemon(libvirtd, max(args.ns) + 50)
        jobs = [(m, n) for m in args.modes for n in args.ns]
        rng = random.Random(args.seed)
        count = 0
        for repeat in range(1, args.repeats + 1):
            order = jobs[:]
            rng.shuffle(order)
            for mode, n in order:
                count += 1
                row, failure = measure(ctx, mode, n, repeat, str(count))
                rows.append(row)
                if failure:
                    failures.append(failure)
                    log("FAILED: " + failure)
                    if not ctx.daemon.alive():
                        raise RuntimeError("libvirtd died\n" +
                                           ctx.daemon.log())
                else:
                    log("repeat %d/%d  %-14s N = %-3d  %7.1f µs CPU/event  "
                        "p50 %7.0f µs  p99 %7.0f µs  (%d deliveries)" % (
                            repeat, args.repeats, mode, n,
                            row["cpu_us_per_event"], row["lat_p50_us"],
                            row["lat_p99_us"], row["delivered"]))
    finally:
        if ctx.child is not None and ctx.child.poll() is None:
            ctx.child.kill()
            ctx.child.wait()
        if ctx.daemon is not None:
            ctx.daemon.close()
        shutil.rmtree(ctx.tmp, ignore_errors=True)
    elapsed = time.monotonic() - t_start

    machine = machine_info(args, ctx, started, elapsed, load_start)
    text = write_report(out, rows, args.modes, args.ns, args.repeats, machine)
    if not args.smoke:
        print(machine)
        print(text)
    if out:
        print("results in %s (%.0f s)" % (out, elapsed))
    if failures:
        print("BENCH FAILURE: %d measurement(s) failed:" % len(failures))
        for f in failures:
            print("  " + f.splitlines()[0])
        sys.exit(1)
    if args.smoke:
        print("smoke: %s: every caused event reached every connection "
              "exactly once (%.1f s)" % (", ".join(args.modes), elapsed))


if __name__ == "__main__":
    main()
