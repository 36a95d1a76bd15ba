#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# scripts/check-doc-links can fail: on a small tree with each kind of bad
# reference it reports each one and exits 1; with them fixed it exits 0.
set -eu
check=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "test-check-doc-links: $*"; exit 1; }
t=$tmp/tree

# The missing names are put together here so that this file names none.
gone=GONE
mkdir -p "$t/docs" "$t/src"
cat >"$t/README.md" <<EOT
# Top

See [the design](docs/design.md#the-part), [a note](docs/$gone.md),
[here](#top), [there](#nowhere), ![a plot](plot.svg), and [web](https://example.org/$gone.md).

[ref]: docs/$gone-ref.md
EOT
printf '# Design\n\n## The part\n' >"$t/docs/design.md"
printf '/* As %s-notes.md says. */\nint x;\n' "$gone" >"$t/src/a.c"

status=0
"$check" "$t" >"$tmp/out" 2>&1 || status=$?
cat "$tmp/out"
[ "$status" -eq 1 ] || fail "exit status $status on a tree with bad references"
for want in "README.md:3: link to a missing file: docs/$gone.md" \
	"README.md:4: link to a missing heading: #nowhere" \
	"README.md:4: link to a missing file: plot.svg" \
	"README.md:6: link to a missing file: docs/$gone-ref.md" \
	"src/a.c:1: names a Markdown file the repository does not have: $gone-notes.md"; do
	grep -qF "$want" "$tmp/out" || fail "not reported: $want"
done
grep -q "example.org" "$tmp/out" && fail "a web address was taken for a file"
# The two missing link targets are also missing names: 7 in all.
[ "$(grep -vc '^check-doc-links:' "$tmp/out")" -eq 7 ] || fail "expected 7 problems"

# Fixed: every reference resolves.
printf '# Top\n\nSee [the design](docs/design.md#the-part) and [here](#top).\n' >"$t/README.md"
touch "$t/docs/$gone-notes.md"
"$check" "$t" || fail "fails on a tree whose references all resolve"
echo ok
