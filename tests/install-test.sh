#!/bin/sh
# Installs the build into a scratch root and proves that what a user gets
# works: headers, shared and static libraries with sonames, exported symbols,
# pkg-config files, man pages, and a libvirt-style program that builds with
# `pkg-config --cflags --libs vevent-compat` and behaves as under libvirt.
set -eu
src=$1
build=$2
# A sanitizer build installs instrumented libraries: the consumer needs the
# same runtime.
san=${3:-none}
cc=${CC:-cc}
[ "$san" = none ] || cc="$cc -fsanitize=$san"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
fail() { echo "install-test: $*" >&2; exit 1; }

meson install -C "$build" --no-rebuild --destdir "$root" >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log"; fail "meson install failed"; }

pc=$(find "$root" -name vevent-compat.pc | head -n 1)
[ -n "$pc" ] || fail "vevent-compat.pc not installed"
[ -f "$(dirname "$pc")/vevent.pc" ] || fail "vevent.pc not installed"
lib=$(find "$root" -name 'libvevent.so.0' | head -n 1)
[ -n "$lib" ] || fail "libvevent.so.0 (soname link) not installed"
libdir=$(dirname "$lib")
for f in libvevent.so libvevent.a libvevent-compat.so libvevent-compat.so.0 libvevent-compat.a; do
	[ -e "$libdir/$f" ] || fail "$f not installed"
done
inc=$(find "$root" -path '*/include/vevent' -type d | head -n 1)
for h in vevent.h libvirt-event.h version.h; do
	[ -f "$inc/$h" ] || fail "header vevent/$h not installed"
done
if [ -f "$src/man/meson.build" ]; then
	for m in vevent.3 vev_add_handle.3 vev_update_handle.3 virEventAddHandle.3; do
		find "$root" -name "$m" | grep -q . || fail "man page $m not installed"
	done
fi

readelf -d "$libdir/libvevent.so" | grep -q 'SONAME.*libvevent.so.0' ||
	fail "libvevent.so has no soname libvevent.so.0"
# Only the public names leave the libraries; only compat has virEvent*.
exports() { nm -D --defined-only "$1" | awk '$2 ~ /^[TDBR]$/ {print $3}' | sed 's/@.*//'; }
bad=$(exports "$libdir/libvevent.so" | grep -v '^vev_' || true)
[ -z "$bad" ] || fail "libvevent exports non-API symbols: $bad"
exports "$libdir/libvevent.so" | grep -q '^virEvent' && fail "libvevent exports virEvent*"
bad=$(exports "$libdir/libvevent-compat.so" | grep -v -e '^virEvent' -e '^vev_compat_' || true)
[ -z "$bad" ] || fail "libvevent-compat exports non-API symbols: $bad"
[ "$(exports "$libdir/libvevent-compat.so" | grep -c '^virEvent')" = 9 ] ||
	fail "libvevent-compat does not export the 9 virEvent functions"

export PKG_CONFIG_PATH="$(dirname "$pc")" PKG_CONFIG_SYSROOT_DIR="$root"
flags=$(pkg-config --cflags --libs vevent-compat) || fail "pkg-config vevent-compat"
$cc -std=c11 -Wall -Werror -o "$tmp/with-vevent" "$src/tests/install/libvirt-program.c" $flags \
	-Wl,-rpath-link,"$libdir" ||
	fail "the libvirt-style program does not build against vevent-compat"
LD_LIBRARY_PATH="$libdir" timeout 20 "$tmp/with-vevent" >"$tmp/vevent.out" ||
	fail "the libvirt-style program failed against vevent-compat"
grep -q '^ok$' "$tmp/vevent.out" || fail "unexpected output: $(cat "$tmp/vevent.out")"
# Static linking works too.
$cc -std=c11 -o "$tmp/static" "$src/tests/install/libvirt-program.c" \
	$(pkg-config --cflags vevent-compat) "$libdir/libvevent-compat.a" "$libdir/libvevent.a" -pthread \
	2>/dev/null ||
	fail "static link failed"
timeout 20 "$tmp/static" | cmp -s - "$tmp/vevent.out" || fail "static build behaves differently"

# The same source against the real libvirt, where it is installed, gives the
# same output.
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
if pkg-config --exists libvirt 2>/dev/null; then
	$cc -std=c11 -DUSE_LIBVIRT -o "$tmp/with-libvirt" "$src/tests/install/libvirt-program.c" \
		$(pkg-config --cflags --libs libvirt) || fail "does not build against libvirt"
	timeout 20 "$tmp/with-libvirt" >"$tmp/libvirt.out" 2>/dev/null || fail "failed against libvirt"
	diff -u "$tmp/libvirt.out" "$tmp/vevent.out" || fail "output differs from libvirt's"
	echo "install-test: same output as against libvirt $(pkg-config --modversion libvirt)"
else
	echo "install-test: libvirt-dev not installed; skipped the side-by-side run"
fi
echo "install-test: ok"
