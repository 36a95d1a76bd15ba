# SPDX-License-Identifier: LGPL-2.1-or-later
"""Run examples/embed-poll and check what it prints.

    check-embed-poll.py EXAMPLE              epoll: the whole run
    check-embed-poll.py EXAMPLE --enotsup    poll backend: a clear refusal

With epoll: every tick arrives, in order, never early; the watch reads
every tick back after it was written; both free callbacks run; the host's
own descriptor (standard input, fed here) is served alongside.
"""
import os
import re
import subprocess
import sys

TICKS = 5
STDIN = b"hello, host\n"


def fail(msg, out=""):
    sys.stderr.write("check-embed-poll: %s\n" % msg)
    if out:
        sys.stderr.write("--- output ---\n%s" % out)
    sys.exit(1)


def run(exe, env):
    try:
        p = subprocess.run([exe], input=STDIN, capture_output=True, env=env,
                           timeout=20)
    except subprocess.TimeoutExpired as e:
        fail("still running after 20 s (was the host ever woken up?)",
             (e.stdout or b"").decode())
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def check_enotsup(exe):
    env = dict(os.environ, VEVENT_BACKEND="poll")
    rc, out, err = run(exe, env)
    if rc != 1:
        fail("exit status %d on the poll backend, expected 1" % rc, out + err)
    if not re.search(r"^embed-poll: vev_loop_fd: the poll backend ", err,
                     re.M):
        fail("no clear vev_loop_fd error on the poll backend", err)
    if "tick" in out:
        fail("ran on the poll backend", out)


def check_run(exe):
    env = dict(os.environ)
    env.pop("VEVENT_BACKEND", None)
    rc, out, err = run(exe, env)
    if rc != 0 or err:
        fail("exit status %d, stderr %r" % (rc, err), out)
    lines = out.splitlines()
    if not re.match(r"vevent \S+, backend epoll, loop descriptor \d+$",
                    lines[0]):
        fail("unexpected first line", out)
    m = re.fullmatch(r"done: (\d+) ticks, (\d+) iterations", lines[-1])
    # Each tick's byte is read in a later iteration than the tick's.
    if not m or int(m[1]) != TICKS or int(m[2]) < TICKS + 1:
        fail("unexpected last line", out)

    tick_at, read_at, free_at = {}, {}, {}
    stdin_bytes, stdin_end = 0, None
    for i, line in enumerate(lines[1:-1], 1):
        m = re.fullmatch(r"tick (\d+): ([0-9.]+) ms after arming "
                         r"\(period (\d+) ms\)", line)
        if m:
            n, ms, period = int(m[1]), float(m[2]), int(m[3])
            if n != len(tick_at) + 1:
                fail("tick %d out of order (line %d)" % (n, i + 1), out)
            # Printed with 3 decimals (rounded): at least the period.
            if ms < period:
                fail("tick %d early: %.3f ms < %d ms" % (n, ms, period), out)
            tick_at[n] = i
            continue
        m = re.fullmatch(r"watch: read tick (\d+)", line)
        if m:
            n = int(m[1])
            if n != len(read_at) + 1:
                fail("watch read tick %d out of order" % n, out)
            if n not in tick_at:
                fail("watch read tick %d before it was written" % n, out)
            read_at[n] = i
            continue
        m = re.fullmatch(r"free: (timer|watch)", line)
        if m:
            if m[1] in free_at:
                fail("free callback of the %s ran twice" % m[1], out)
            free_at[m[1]] = i
            continue
        m = re.fullmatch(r"host: stdin: (\d+) bytes", line)
        if m and stdin_end is None:
            stdin_bytes += int(m[1])
            continue
        if line == "host: end of standard input" and stdin_end is None:
            stdin_end = i
            continue
        fail("unexpected line %d: %r" % (i + 1, line), out)

    if len(tick_at) != TICKS or len(read_at) != TICKS:
        fail("%d ticks and %d reads, expected %d each" %
             (len(tick_at), len(read_at), TICKS), out)
    if free_at.get("timer", -1) < tick_at[TICKS]:
        fail("the timer's free callback did not run after the last tick", out)
    if free_at.get("watch", -1) < read_at[TICKS]:
        fail("the watch's free callback did not run after the last read", out)
    if stdin_bytes != len(STDIN) or stdin_end is None:
        fail("the host read %d bytes of standard input (expected %d)%s" %
             (stdin_bytes, len(STDIN),
              "" if stdin_end else " and never saw its end"), out)


def main():
    if len(sys.argv) == 3 and sys.argv[2] == "--enotsup":
        check_enotsup(sys.argv[1])
    elif len(sys.argv) == 2:
        check_run(sys.argv[1])
    else:
        fail("usage: check-embed-poll.py EXAMPLE [--enotsup]")


main()
