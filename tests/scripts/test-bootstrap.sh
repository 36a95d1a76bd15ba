#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# scripts/bootstrap for a user who is not root and has no sudo: it must not
# claim to install anything, must name what is missing with the exact
# command that installs it, and must fail (1) without running apt-get.
# The user is `nobody` (through setpriv) when this runs as root, else the
# caller; PATH holds only what bootstrap needs, plus an apt-get that records
# being run.  A package that cannot exist stands for the missing one.
set -eu
src=$1
fake=vevent-test-no-such-package
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 755 "$tmp"
fail() { echo "test-bootstrap: $*"; exit 1; }

mkdir "$tmp/bin"
for prog in sh dpkg-query grep id cat; do
	p=$(command -v "$prog") || { echo "SKIP: no $prog"; exit 77; }
	ln -s "$p" "$tmp/bin/$prog"
done
printf '#!/bin/sh\necho "apt-get $*" >>%s/apt-get.ran\nexit 0\n' "$tmp" >"$tmp/bin/apt-get"
chmod 755 "$tmp/bin/apt-get"
touch "$tmp/apt-get.ran" "$tmp/out" "$tmp/err"
chmod 666 "$tmp/apt-get.ran" "$tmp/out" "$tmp/err"

as_user=""
if [ "$(id -u)" -eq 0 ]; then
	command -v setpriv >/dev/null 2>&1 || { echo "SKIP: no setpriv to drop root"; exit 77; }
	as_user="$(command -v setpriv) --reuid=65534 --regid=65534 --clear-groups"
fi
status=0
# shellcheck disable=SC2086
env -i PATH="$tmp/bin" HOME="$tmp" $as_user "$tmp/bin/sh" "$src/scripts/bootstrap" "$fake" \
	>"$tmp/out" 2>"$tmp/err" || status=$?

echo "--- stdout"; cat "$tmp/out"; echo "--- stderr"; cat "$tmp/err"; echo "---"
[ "$status" -eq 1 ] || fail "exit status $status, expected 1"
[ ! -s "$tmp/apt-get.ran" ] || fail "apt-get ran: $(cat "$tmp/apt-get.ran")"
if grep -qi 'installing' "$tmp/out" "$tmp/err"; then
	fail "says it is installing although it cannot"
fi
grep -q "missing:.* $fake\$" "$tmp/err" || fail "does not name the missing package $fake"
grep -qE "^  apt-get update && apt-get install --no-install-recommends .*$fake\$" "$tmp/err" ||
	fail "does not give the command that installs $fake"
grep -q 'as root' "$tmp/err" || fail "does not say the command needs root"
echo "ok"
