#!/bin/sh
# Installs the build into a scratch root and proves that what a user of each
# integration gets works: shared and static libraries with sonames and only
# their API exported, headers, pkg-config files, man pages; a program built
# from `pkg-config --cflags --libs vevent-<host>` alone; and, with libvirt,
# the example built against the installed files and real libvirt.  Built
# like the header comments say: plain `cc`, the compiler's default C dialect
# (libuv's own header needs POSIX declarations that -std=c11 hides).
# Usage: install-test.sh SRC BUILD SANITIZE "HOSTS" libvirt|no-libvirt
set -eu
src=$1
build=$2
san=${3:-none}
hosts=$4
libvirt=$5
cc=${CC:-cc}
[ "$san" = none ] || cc="$cc -fsanitize=$san"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
fail() { echo "install-test: $*" >&2; exit 1; }

meson install -C "$build" --no-rebuild --destdir "$root" >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log"; fail "meson install failed"; }

inc=$(find "$root" -path '*/include/vevent' -type d | head -n 1)
[ -f "$inc/event-impl.h" ] || fail "header vevent/event-impl.h not installed"

# The .pc files name the install prefix: point a copy of them at the scratch
# root, and leave the host libraries' own .pc files where the system has them.
mkdir "$tmp/pc"
for pc in $(find "$root" -name 'vevent*.pc'); do
	prefix=$(sed -n 's/^prefix=//p' "$pc")
	sed "s|^prefix=.*|prefix=$root$prefix|" "$pc" >"$tmp/pc/$(basename "$pc")"
done
export PKG_CONFIG_PATH="$tmp/pc${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
exports() { nm -D --defined-only "$1" | awk '$2 ~ /^[TDBR]$/ {print $3}' | sed 's/@.*//'; }

for h in $hosts; do
	lib=$(find "$root" -name "libvevent-$h.so.0" | head -n 1)
	[ -n "$lib" ] || fail "libvevent-$h.so.0 (soname link) not installed"
	libdir=$(dirname "$lib")
	for f in "libvevent-$h.so" "libvevent-$h.a"; do
		[ -e "$libdir/$f" ] || fail "$f not installed"
	done
	readelf -d "$libdir/libvevent-$h.so" | grep -q "SONAME.*libvevent-$h.so.0" ||
		fail "libvevent-$h.so has no soname libvevent-$h.so.0"
	# Only the six public names; nothing of the adapter, no virEvent*
	# (vev_* of the loop come from libvevent, which it links).
	got=$(exports "$libdir/libvevent-$h.so" | sort | tr '\n' ' ')
	want=$(printf 'vev_%s_%s\n' "$h" bind "$h" last_error "$h" loop "$h" stat "$h" unbind "$h" verify | sort | tr '\n' ' ')
	[ "$got" = "$want" ] || fail "libvevent-$h exports '$got', expected '$want'"
	[ -f "$inc/vevent-$h.h" ] || fail "header vevent/vevent-$h.h not installed"
	for m in bind unbind loop last_error stat verify; do
		find "$root" -name "vev_${h}_$m.3" | grep -q . || fail "man page vev_${h}_$m.3 not installed"
	done

	flags=$(pkg-config --cflags --libs "vevent-$h") || fail "pkg-config vevent-$h"
	def=USE_$(echo "$h" | tr a-z A-Z)
	# shellcheck disable=SC2086
	$cc -Wall -Werror -D$def -o "$tmp/consumer-$h" \
		"$src/integrations/tests/install-consumer.c" $flags ||
		fail "a program does not build with pkg-config vevent-$h"
	out=$(LD_LIBRARY_PATH="$libdir" timeout 20 "$tmp/consumer-$h") ||
		fail "the vevent-$h program failed"
	[ "$out" = ok ] || fail "vevent-$h program printed: $out"
	# Static: the archives (this one and libvevent's), and what their .pc
	# files require.
	# shellcheck disable=SC2086
	$cc -D$def -o "$tmp/static-$h" "$src/integrations/tests/install-consumer.c" \
		$(pkg-config --cflags "vevent-$h") "$libdir/libvevent-$h.a" \
		$(pkg-config --libs --static "vevent-$h" |
			sed -e "s/-lvevent-$h//" -e "s|-lvevent\b|$libdir/libvevent.a|") ||
		fail "static link against libvevent-$h.a failed"
	out=$(timeout 20 "$tmp/static-$h") || fail "the static vevent-$h program failed"
	[ "$out" = ok ] || fail "static vevent-$h program printed: $out"

	if [ "$libvirt" = libvirt ]; then
		# The example, with real libvirt's header in the same file.
		# shellcheck disable=SC2086
		$cc -Wall -Werror -o "$tmp/example-$h" "$src/examples/$h-domain-events.c" \
			$(pkg-config --cflags --libs "vevent-$h" libvirt) ||
			fail "examples/$h-domain-events.c does not build against the installed vevent-$h"
		LD_LIBRARY_PATH="$libdir" timeout 30 "$tmp/example-$h" >"$tmp/example-$h.out" 2>&1 ||
			{ cat "$tmp/example-$h.out"; fail "examples/$h-domain-events failed"; }
		[ "$(grep -c '^vevent-demo: ' "$tmp/example-$h.out")" = 4 ] ||
			fail "examples/$h-domain-events printed: $(cat "$tmp/example-$h.out")"
	fi
	echo "install-test: vevent-$h ok"
done
echo "install-test: ok"
