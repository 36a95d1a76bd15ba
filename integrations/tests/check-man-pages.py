#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Checks the integrations' man pages against their headers.

Usage: check-man-pages.py INTEGRATIONS_DIR [HOST...]

For each host (default: glib libevent libuv), the header
include/vevent/vevent-HOST.h is the specification, and man/vev_HOST_bind.3
must
  - name every function the header exports in NAME and declare it in
    SYNOPSIS, and name no other vev_HOST_ function there;
  - have an alias page man/vev_HOST_NAME.3 (".so man3/vev_HOST_bind.3") for
    every other exported function;
  - point at vev_loop_fd(3), the embedding the integrations are built on;
  - not describe the exceptions of the engine the integrations had before
    they embedded a vevent loop;
  - render without warnings (when man(1) is installed).
Prints one line per problem and exits 1 if there is any.
"""

import os
import re
import shutil
import subprocess
import sys

EXPORT = re.compile(r"^VEV_EXPORT\b[^(]*?\b(vev_\w+)\s*\(", re.M)

# What the old engine documented and the embedded loop no longer does.
STALE = [
    (r"EV_ET\b", "libevent's edge-triggered ERROR/HANGUP-only watches"),
    (r"EV_FEATURE_ET", "methods without edge triggering"),
    (r"edge\\?-triggered", "edge-triggered watches"),
    (r"UV_PRIORITIZED", "libuv's priority polling of ERROR/HANGUP watches"),
    (r"32 ready", "libevent's 32 ready descriptors per wait"),
    (r"one poll handle per", "libuv's one poll handle per descriptor"),
    (r"g_main_context_wakeup", "GLib woken on each change"),
    (r"uv_poll_init \(\)\s*\n?makes", "watched descriptors made non-blocking"),
    (r"select method makes", "select failing on a closed descriptor"),
]


def section(text, name):
    m = re.search(r"^\.SH %s\n(.*?)(?=^\.SH |\Z)" % name, text, re.M | re.S)
    return m.group(1) if m else ""


def check_host(top, host, problems):
    def problem(msg):
        problems.append("%s: %s" % (host, msg))

    header = os.path.join(top, "include", "vevent", "vevent-%s.h" % host)
    page_name = "vev_%s_bind.3" % host
    page = os.path.join(top, "man", page_name)
    try:
        with open(header) as f:
            exported = EXPORT.findall(f.read())
        with open(page) as f:
            text = f.read()
    except OSError as e:
        problem(str(e))
        return
    if not exported:
        problem("%s exports no function" % header)
        return

    name = section(text, "NAME").split("\\-")[0]
    named = re.findall(r"vev_%s_\w+" % host, name)
    synopsis = section(text, "SYNOPSIS").replace("\\-", "-")
    declared = re.findall(r"\b(vev_%s_\w+)\s*\(" % host, synopsis)
    for fn in exported:
        if fn not in named:
            problem("%s: NAME does not list %s()" % (page_name, fn))
        if fn not in declared:
            problem("%s: SYNOPSIS does not declare %s()" % (page_name, fn))
        if fn == "vev_%s_bind" % host:
            continue
        alias = os.path.join(top, "man", fn + ".3")
        want = ".so man3/%s" % page_name
        try:
            with open(alias) as f:
                if f.read().strip() != want:
                    problem("%s.3 is not the alias '%s'" % (fn, want))
        except OSError:
            problem("no alias page %s.3 for %s()" % (fn, fn))
    for fn in sorted(set(named + declared) - set(exported)):
        problem("%s: %s() is not in %s" % (page_name, fn,
                                           os.path.basename(header)))

    if not re.search(r"^\.BR vev_loop_fd \(3\)", section(text, "SEE ALSO"),
                     re.M):
        problem("%s: SEE ALSO lacks vev_loop_fd(3)" % page_name)
    for pattern, what in STALE:
        m = re.search(pattern, text)
        if m:
            line = text.count("\n", 0, m.start()) + 1
            problem("%s:%d: still describes %s" % (page_name, line, what))

    if shutil.which("man"):
        r = subprocess.run(["man", "--warnings", "-E", "UTF-8", "-l", page],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           env=dict(os.environ, MANWIDTH="80"),
                           universal_newlines=True, timeout=60)
        if r.returncode != 0 or r.stderr.strip():
            problem("%s renders with warnings: %s" %
                    (page_name, r.stderr.strip() or "exit %d" % r.returncode))


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    top = argv[1]
    hosts = argv[2:] or ["glib", "libevent", "libuv"]
    problems = []
    for host in hosts:
        check_host(top, host, problems)
    for p in problems:
        print("check-man-pages: " + p)
    if not shutil.which("man"):
        print("check-man-pages: man(1) not installed, rendering not checked")
    print("check-man-pages: %d hosts, %d problems" % (len(hosts),
                                                      len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
