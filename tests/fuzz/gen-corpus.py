#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the seed corpus (corpus/) and the regression inputs (regress/) of
the API-sequence fuzzer, in the byte format of README.md.

Usage: tests/fuzz/gen-corpus.py [DIR]   (default: the directory of this file)

Each scenario is a list of operations built with the helpers below; the
output is deterministic, so running this again rewrites identical files.
"""
import os
import sys

# Opcodes (fuzz-api.c, enum op).
NEW, ADD_H, ADD_T, UPD_H, UPD_T, RM_H, RM_T, WRITE, READ, CLOSE, RUN, DRAIN, \
    QUIT_RUN, CHECK, BAD = range(15)

R, W, E, H, UNKNOWN = 1, 2, 4, 8, 16
PIPE, SOCK, NULLDEV = 0, 2, 3
# Period classes (period_of() in fuzz-api.c).
P0, PNEG, PMIN, PHOUR, PMAX, P10MIN, P1MS, P2MS = 0, 3, 4, 5, 6, 7, 8, 9
SELF, FRESH, ZERO = 0xFF, 0xFE, 0xFD
# Where an action runs.
EVERY, FIRST, IN_FF = 1, 2, 3


def cfg(poll=False, ending=0, embed=False):
    return [(1 if poll else 0) | (ending << 1) | (8 if embed else 0)]


def op(code, a=0, b=0):
    return [code, a & 0xFF, b & 0xFF]


def new(kind=PIPE):
    return op(NEW, kind)


def act(where=0, action=None):
    return [where] + (action if action else [0, 0, 0])


def add_h(chan, events, end=0, ff_null=False, where=0, action=None):
    b = (events & 0x1F) | (end << 5) | (0xC0 if ff_null else 0)
    return op(ADD_H, chan, b) + act(where, action)


def add_t(period, ff_null=False, where=0, action=None):
    return op(ADD_T, period, 3 if ff_null else 0) + act(where, action)


def upd_h(sel, events):
    return op(UPD_H, sel, events)


def upd_t(sel, period):
    return op(UPD_T, sel, period)


def rm_h(sel):
    return op(RM_H, sel)


def rm_t(sel):
    return op(RM_T, sel)


def write(chan, end=0):
    return op(WRITE, chan, end)


def read(chan, end=0):
    return op(READ, chan, end)


def close(chan, end=0):
    return op(CLOSE, chan, end)


def run(n=1):
    assert 1 <= n <= 3
    return op(RUN, n - 1)


def host_run(n=1):
    """Embedded: the host sleeps in poll until the descriptor is readable,
    then runs n iterations (elsewhere the same as run(n))."""
    assert 1 <= n <= 3
    return op(RUN, n - 1, 2)


def drain():
    return op(DRAIN)


def quit_run():
    return op(QUIT_RUN)


def check():
    return op(CHECK)


def bad(k):
    return op(BAD, k)


SEEDS = {
    "readable-level": new() + add_h(0, R) + write(0) + run(3) + read(0)
    + run() + write(0) + run(),
    "pipe-hangup": new() + add_h(0, R) + close(0, 1) + run(2),
    "pipe-data-then-hangup": new() + add_h(0, R) + write(0) + write(0)
    + close(0, 1) + run(2) + read(0) + run(),
    "pipe-writer-watch": new() + add_h(0, W, end=1) + run(2) + close(0, 0)
    + run(2),
    "socket-peer-closed": new(SOCK) + add_h(0, R) + add_h(0, R | W, end=1)
    + write(0, 1) + run() + close(0, 1) + run(2),
    "socket-writable": new(SOCK) + add_h(0, W) + add_h(0, R | W) + run(2)
    + write(0, 0) + run(),
    "devnull-always-ready": new(NULLDEV) + add_h(0, R) + add_h(0, W)
    + add_h(0, R | W) + run(3) + upd_h(0, 0) + run(),
    "events-zero-then-update": new() + add_h(0, 0) + write(0) + run(2)
    + upd_h(0, R) + run() + upd_h(0, 0) + run(),
    "error-only-watch": new() + add_h(0, E) + write(0) + run() + close(0, 1)
    + run(2),
    "unknown-bit-ignored": new() + add_h(0, UNKNOWN) + add_h(0, UNKNOWN | R)
    + write(0) + run(2),
    "same-fd-many-watches": new() + add_h(0, R) + add_h(0, R) + add_h(0, W)
    + add_h(0, R, end=1) + add_h(0, W, end=1) + write(0) + run(2)
    + rm_h(1) + run() + close(0, 1) + run(),
    "timers-zero-disabled-large": add_t(P0) + add_t(PNEG) + add_t(PHOUR)
    + add_t(PMAX) + add_t(PMIN) + run(3) + upd_t(1, P0) + run(2),
    "timer-update-cycle": add_t(P0) + run() + upd_t(0, PNEG) + run()
    + upd_t(0, P0) + run() + upd_t(0, P10MIN) + run(2),
    "timer-small-periods": add_t(P1MS) + add_t(P2MS) + run(3) + run(3)
    + run(3) + upd_t(0, P2MS) + run(3),
    "watch-removes-itself": new() + add_h(0, R, where=EVERY,
                                         action=rm_h(SELF))
    + write(0) + run(3),
    "timer-removes-itself": add_t(P0, where=FIRST, action=rm_t(SELF))
    + add_t(P0) + run(3),
    "callback-removes-other": new() + add_h(0, R, where=EVERY,
                                           action=rm_h(1))
    + add_h(0, R) + add_t(P0, where=FIRST, action=rm_h(0)) + write(0)
    + run(3),
    "callback-adds-zero-timer": add_t(P0, where=EVERY,
                                      action=add_t(P0)) + run(3),
    "callback-adds-ready-watch": new() + write(0)
    + add_t(P0, where=FIRST, action=add_h(0, R)) + run(3),
    "callback-closes-own-fd": new() + add_h(0, R, where=FIRST,
                                           action=close(SELF, 0))
    + write(0) + run(3),
    "callback-writes-other": new() + new() + add_h(1, R)
    + add_h(0, R, where=FIRST, action=write(1)) + write(0) + run(3),
    "callback-updates-other-to-zero": new() + add_h(0, R)
    + add_t(P0, where=EVERY, action=upd_h(0, 0)) + write(0) + run(2),
    "callback-disables-timer": add_t(P0)
    + add_t(P0, where=EVERY, action=upd_t(0, PNEG)) + run(2),
    "ff-adds-timer": add_t(PNEG, where=IN_FF, action=add_t(P0)) + rm_t(0)
    + run(3),
    "ff-removes-other": add_t(P0) + add_t(PNEG, where=IN_FF,
                                          action=rm_t(0)) + rm_t(1)
    + run(3),
    "ff-writes-pipe": new() + add_h(0, R)
    + add_t(PNEG, where=IN_FF, action=write(0)) + rm_t(0) + run(2),
    "ff-closes-fd": new() + add_h(0, R, where=IN_FF, action=close(SELF, 0))
    + write(0) + run() + rm_h(0) + run(2),
    "closed-while-watched": new() + add_h(0, R) + add_h(0, 0) + write(0)
    + run() + close(0, 0) + run(3) + upd_h(0, R | W) + run(2),
    "closed-number-reused": new() + add_h(0, R) + run() + close(0, 0) + new()
    + add_h(1, R) + write(1) + run(3),
    "closed-number-reused-unwatched": new() + add_h(0, R) + run()
    + close(0, 0) + new() + write(1) + run(2) + add_h(1, R) + run(2),
    "nested-ebusy": add_t(P0, where=FIRST, action=run()) + add_t(
        P0, where=FIRST, action=drain()) + add_t(
        P0, where=FIRST, action=op(RUN, 0, 1)) + run(2),
    "nested-bad-calls": add_t(P0, where=EVERY, action=bad(10))
    + add_t(P0, where=EVERY, action=bad(11))
    + add_t(P0, where=EVERY, action=bad(9)) + run(2),
    "nested-quit": add_t(P0, where=FIRST, action=quit_run()) + run(2)
    + quit_run() + run(),
    "drain-after-removals": add_t(P0) + add_t(PNEG) + new() + add_h(0, R)
    + rm_t(0) + rm_h(0) + drain() + rm_t(1) + run(),
    "quit-then-run": add_t(P0) + quit_run() + quit_run() + run(),
    "bad-calls": sum((bad(k) for k in range(12)), []),
    "ids-stale-and-fresh": add_t(PNEG) + rm_t(0) + rm_t(0) + upd_t(0, P0)
    + upd_t(FRESH, P0) + rm_t(ZERO) + new() + add_h(0, R) + rm_h(0)
    + upd_h(0, R) + rm_h(FRESH) + upd_h(ZERO, R),
    "ff-null": new() + add_h(0, R, ff_null=True) + add_t(P0, ff_null=True)
    + write(0) + run() + rm_h(0) + rm_t(0) + run() + drain(),
    "many-pipes": sum((new() + add_h(i, R) + write(i) for i in range(12)),
                      []) + run(2),
    "verify-in-callback": add_t(P0, where=EVERY, action=check()) + new()
    + add_h(0, R, where=EVERY, action=check()) + write(0) + run(3),
    "callback-reads-own-fd": new() + add_h(0, R, where=EVERY,
                                          action=read(SELF)) + write(0)
    + run(2) + write(0) + run(2),
    "socket-callback-closes-peer": new(SOCK) + add_h(
        0, R, where=FIRST, action=close(SELF, 1)) + write(0, 1) + run(3),
    "devnull-closed-reused": new(NULLDEV) + add_h(0, R) + run() + close(0)
    + run() + new() + add_h(1, R) + write(1) + run(2) + read(1) + run(2),
}

ENDINGS = {"end-free": 1, "end-drain": 2}

# Scenarios for the embedded mode (byte 0 bit 3): the loop is driven through
# vev_loop_fd() like a host loop would, on epoll (poll has no descriptor).
EMBED_SEEDS = {
    "host-sleeps-until-timers": add_t(P1MS) + add_t(P2MS) + host_run()
    + host_run() + host_run(2) + upd_t(0, P2MS) + host_run() + upd_t(1, PHOUR)
    + host_run() + upd_t(1, P1MS) + host_run(),
    "timer-shortened": add_t(PHOUR) + add_t(P10MIN) + run() + upd_t(0, P1MS)
    + host_run() + upd_t(1, PNEG) + upd_t(0, PMAX) + run() + upd_t(1, P2MS)
    + host_run(),
    "timer-callback-shortens-other": add_t(PHOUR)
    + add_t(P1MS, where=FIRST, action=upd_t(0, P2MS)) + host_run()
    + host_run() + host_run(),
    "changes-between-iterations": new() + add_h(0, R) + run() + write(0)
    + run() + read(0) + run() + add_t(P0) + run() + rm_t(0) + run()
    + add_t(PNEG) + upd_t(1, P0) + run() + upd_h(0, 0) + write(0) + run()
    + upd_h(0, R) + run() + close(0, 1) + run() + rm_h(0) + run(),
    "callback-quits-then-host-polls": new()
    + add_h(0, R, where=FIRST, action=quit_run()) + write(0) + run()
    + read(0) + check() + run() + check() + quit_run() + run(),
    "ff-at-end-removes-then-host-polls": add_t(P0, where=FIRST,
                                               action=rm_t(1))
    + add_t(PNEG, where=IN_FF, action=rm_t(2)) + add_t(PNEG) + run()
    + check() + run() + check(),
    "always-ready-and-closed": new(NULLDEV) + add_h(0, R) + run() + new()
    + add_h(1, R, end=1) + add_h(1, W, end=1) + run() + close(1, 0) + run(2)
    + close(1, 1) + run(2) + close(0) + run(2),
}

# Inputs that once showed a library bug; README.md in regress/ says which.
REGRESS = {
    "reuse-before-first-iteration": (False, new() + add_h(0, R)
                                     + close(0, 0) + new() + add_h(1, R)
                                     + write(1) + run(2)),
    "always-ready-inherited": (False, new(NULLDEV) + add_h(0, R) + run()
                               + rm_h(0) + close(0) + new() + add_h(1, R)
                               + run(2)),
    "always-ready-reused": (False, new(NULLDEV) + add_h(0, R) + run()
                            + close(0) + new() + add_h(1, R) + write(1)
                            + run(2)),
    "reuse-after-unpoll": (False, new() + add_h(0, R) + run() + close(0, 0)
                           + new() + upd_h(0, 0) + run() + upd_h(0, R)
                           + write(1) + run(2)),
    "epoll-reuse-after-remove-silent": (False, new() + add_h(0, R) + run()
                                        + close(0, 0) + new() + write(1)
                                        + run() + rm_h(0) + add_h(1, R)
                                        + run(2)),
    "poll-stale-skips-ready": (True, new() + add_h(0, R) + run()
                               + close(0, 0) + new(NULLDEV)
                               + add_h(0, W, end=1) + run(2)),
    "reuse-unpolled-watch": (False, new() + add_h(0, 0) + run()
                             + close(0, 0) + new() + write(1) + upd_h(0, R)
                             + run(2)),
}


def write_all(out_dir):
    corpus = os.path.join(out_dir, "corpus")
    regress = os.path.join(out_dir, "regress")
    os.makedirs(corpus, exist_ok=True)
    os.makedirs(regress, exist_ok=True)
    n = 0
    for i, (name, ops) in enumerate(sorted(SEEDS.items())):
        for suffix, ending in [("", 0)] + (
                [(f"-{k}", v) for k, v in ENDINGS.items()] if i % 4 == 0
                else []):
            data = bytes(cfg(poll=i % 2 == 1, ending=ending)) + bytes(ops)
            with open(os.path.join(corpus, f"seed-{name}{suffix}.bin"),
                      "wb") as f:
                f.write(data)
            n += 1
    for i, (name, ops) in enumerate(sorted(EMBED_SEEDS.items())):
        ending = i % 3
        data = bytes(cfg(ending=ending, embed=True)) + bytes(ops)
        with open(os.path.join(corpus, f"seed-embed-{name}.bin"), "wb") as f:
            f.write(data)
        n += 1
    for name, (poll, ops) in sorted(REGRESS.items()):
        with open(os.path.join(regress, f"regress-{name}.bin"), "wb") as f:
            f.write(bytes(cfg(poll=poll)) + bytes(ops))
        n += 1
    print(f"wrote {n} inputs under {out_dir}")


if __name__ == "__main__":
    write_all(sys.argv[1] if len(sys.argv) > 1
              else os.path.dirname(os.path.abspath(__file__)))
