#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# scripts/skip-reasons, which scripts/run-tests runs after the suite: from
# a meson test log, the number of skipped tests and each reason once, with
# the tests that gave it; nothing when nothing was skipped.
set -eu
src=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "test-skip-reasons: $*"; exit 1; }

cat >"$tmp/testlog.json" <<'EOT'
{"name": "vevent:loop+epoll / loop/epoll/ids", "result": "OK", "stdout": "ok\n"}
{"name": "vevent:bridge+libvirtd / bridge-libvirtd/epoll/events", "result": "SKIP", "stdout": "SKIP: a private libvirtd runs as root; this is uid 1000\n"}
{"name": "vevent:bridge+libvirtd / bridge-libvirtd/poll/events", "result": "SKIP", "stdout": "starting\nSKIP: a private libvirtd runs as root; this is uid 1000\n"}
{"name": "vevent:perl / perl/epoll/30-anyevent", "result": "SKIP", "stdout": "1..0 # SKIP AnyEvent is not installed (Debian: libanyevent-perl)\n"}
{"name": "vevent:misc / misc/quiet", "result": "SKIP", "stdout": ""}
EOT
/usr/bin/python3 "$src/scripts/skip-reasons" "$tmp/testlog.json" >"$tmp/out"
cat "$tmp/out"
cat >"$tmp/want" <<'EOT'
skipped: 4 tests, because:
  SKIP: a private libvirtd runs as root; this is uid 1000
    (2: bridge-libvirtd/epoll/events, bridge-libvirtd/poll/events)
  1..0 # SKIP AnyEvent is not installed (Debian: libanyevent-perl)
    (1: perl/epoll/30-anyevent)
  (the test printed no reason)
    (1: misc/quiet)
EOT
diff -u "$tmp/want" "$tmp/out" || fail "unexpected report"

head -n 1 "$tmp/testlog.json" >"$tmp/none.json"
/usr/bin/python3 "$src/scripts/skip-reasons" "$tmp/none.json" >"$tmp/out"
[ ! -s "$tmp/out" ] || fail "reports skips where there are none: $(cat "$tmp/out")"

# scripts/run-tests shows the report, from the log meson wrote: under a
# wrapper (--valgrind) meson names it testlog-valgrind.json.
grep -q 'scripts/skip-reasons "$testlog"' "$src/scripts/run-tests" ||
	fail "scripts/run-tests does not show the skip reasons"
grep -q 'testlog=$dir/meson-logs/testlog${test_args:+-valgrind}.json' "$src/scripts/run-tests" ||
	fail "scripts/run-tests does not read the valgrind run's log"
echo ok
