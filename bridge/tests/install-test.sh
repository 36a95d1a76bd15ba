#!/bin/sh
# Installs the build into a scratch root and checks what a user of the
# bridge gets: the header, the libraries with their soname and only the
# vev_libvirt_* names exported, vevent-libvirt.pc, the man pages, and the
# README's example built with `pkg-config --cflags --libs vevent-libvirt`
# and run against the real libvirt's test driver.
set -eu
src=$1
build=$2
san=${3:-none}
cc=${CC:-cc}
[ "$san" = none ] || cc="$cc -fsanitize=$san"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
root=$tmp/root
fail() { echo "bridge-install-test: $*" >&2; exit 1; }

meson install -C "$build" --no-rebuild --destdir "$root" >"$tmp/install.log" 2>&1 ||
	{ cat "$tmp/install.log"; fail "meson install failed"; }

pc=$(find "$root" -name vevent-libvirt.pc | head -n 1)
[ -n "$pc" ] || fail "vevent-libvirt.pc not installed"
lib=$(find "$root" -name 'libvevent-libvirt.so.0' | head -n 1)
[ -n "$lib" ] || fail "libvevent-libvirt.so.0 (soname link) not installed"
libdir=$(dirname "$lib")
for f in libvevent-libvirt.so libvevent-libvirt.a; do
	[ -e "$libdir/$f" ] || fail "$f not installed"
done
find "$root" -path '*/include/vevent/libvirt-bridge.h' | grep -q . ||
	fail "header vevent/libvirt-bridge.h not installed"
for m in vev_libvirt_register.3 vev_libvirt_loop.3 vev_libvirt_last_error.3; do
	find "$root" -name "$m" | grep -q . || fail "man page $m not installed"
done
readelf -d "$libdir/libvevent-libvirt.so" | grep -q 'SONAME.*libvevent-libvirt.so.0' ||
	fail "no soname libvevent-libvirt.so.0"
exports() { nm -D --defined-only "$1" | awk '$2 ~ /^[TDBR]$/ {print $3}' | sed 's/@.*//'; }
bad=$(exports "$libdir/libvevent-libvirt.so" | grep -v '^vev_libvirt_' || true)
[ -z "$bad" ] || fail "libvevent-libvirt exports non-API symbols: $bad"
[ "$(exports "$libdir/libvevent-libvirt.so" | wc -l)" = 3 ] ||
	fail "libvevent-libvirt does not export its 3 functions"
# It links the real libvirt, never vevent-compat (whose virEvent* would clash).
readelf -d "$libdir/libvevent-libvirt.so" | grep -q 'NEEDED.*libvirt.so' ||
	fail "libvevent-libvirt does not link libvirt"
readelf -d "$libdir/libvevent-libvirt.so" | grep -q 'NEEDED.*vevent-compat' &&
	fail "libvevent-libvirt links vevent-compat"

export PKG_CONFIG_PATH="$(dirname "$pc")" PKG_CONFIG_SYSROOT_DIR="$root"
flags=$(pkg-config --cflags --libs vevent-libvirt) || fail "pkg-config vevent-libvirt"
case " $flags " in *" -lvevent-libvirt "*) ;; *) fail "no -lvevent-libvirt in: $flags" ;; esac
case " $flags " in *" -lvevent "*) ;; *) fail "no -lvevent in: $flags" ;; esac
case " $flags " in *" -lvirt "*) ;; *) fail "no -lvirt in: $flags" ;; esac
# The sysroot prefixes libvirt's own (system) paths as well; they are the
# defaults anyway.
$cc -std=c11 -Wall -Werror -o "$tmp/example" "$src/bridge/examples/libvirt-bridge-example.c" \
	$flags -Wl,-rpath-link,"$libdir" ||
	fail "the README example does not build with vevent-libvirt"
LD_LIBRARY_PATH="$libdir" timeout 30 "$tmp/example" >"$tmp/out" ||
	fail "the README example failed"
grep -q '^test suspended' "$tmp/out" && grep -q '^test resumed' "$tmp/out" ||
	fail "unexpected output: $(cat "$tmp/out")"
# vevent-monitor, built with the bridge when tools/ is there.
if [ -f "$src/tools/meson.build" ]; then
	mon=$(find "$root" -path '*/bin/vevent-monitor' | head -n 1)
	[ -n "$mon" ] || fail "vevent-monitor not installed"
	find "$root" -path '*/man1/vevent-monitor.1' | grep -q . ||
		fail "man page vevent-monitor.1 not installed"
	LD_LIBRARY_PATH="$libdir" timeout 30 "$mon" --version | grep -q '^vevent-monitor ' ||
		fail "the installed vevent-monitor does not run"
fi
echo "bridge-install-test: ok"
