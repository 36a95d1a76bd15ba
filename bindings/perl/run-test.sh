#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# run-test.sh DISTDIR BUILDROOT SANITIZE TEST [NEEDS...]
#
# Runs one test file of the Perl binding with prove, in DISTDIR (built by
# build.sh), against the libraries in BUILDROOT.  NEEDS names what the test
# needs beyond the binding: Perl modules (Sys::Virt, AnyEvent) and
# "libvirt-bridge" (VEvent::Libvirt).  Exits 77 (skipped), saying why, when
# the binding could not be built (meson sets VEVENT_PERL_SKIP to the
# reason: no perl headers) or a need is missing.
# SANITIZE is meson's b_sanitize: libraries built with AddressSanitizer or
# ThreadSanitizer need its runtime loaded first into perl.
set -eu
dist=$1 root=$2 sanitize=$3 test=$4
shift 4

if [ -n "${VEVENT_PERL_SKIP:-}" ]; then
	echo "skipped: $VEVENT_PERL_SKIP"
	exit 77
fi
if [ ! -f "$dist/blib/arch/auto/VEvent/VEvent.so" ]; then
	echo "the Perl binding is not built in $dist" >&2
	exit 1
fi
for need in "$@"; do
	case $need in
	libvirt-bridge)
		[ -f "$dist/blib/arch/auto/VEvent/Libvirt/Libvirt.so" ] || {
			echo "skipped: vevent was built without its libvirt bridge" \
				"(libvirt-dev not found), so VEvent::register_libvirt" \
				"is not available"
			exit 77
		}
		;;
	*)
		perl -M"$need" -e 1 2>/dev/null || {
			echo "skipped: the Perl module $need is not installed" \
				"(Debian: $(case $need in Sys::Virt) echo libsys-virt-perl;;
				AnyEvent) echo libanyevent-perl;; *) echo "?";; esac))"
			exit 77
		}
		;;
	esac
done

export LD_LIBRARY_PATH="$root:$root/bridge${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# perl is not instrumented: load the sanitizer runtimes first.  Their XDR
# interceptors look the real functions up when they start, so libtirpc,
# which libvirt brings in later, must already be loaded then.
preload=
case $sanitize in
*address*)
	preload=$(cc -print-file-name=libasan.so)
	case $sanitize in *undefined*) preload="$preload $(cc -print-file-name=libubsan.so)" ;; esac
	# perl's own allocations at exit are not ours to judge.
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0:verify_asan_link_order=0"
	;;
*thread*)
	preload=$(cc -print-file-name=libtsan.so)
	export TSAN_OPTIONS="${TSAN_OPTIONS:+$TSAN_OPTIONS:}ignore_noninstrumented_modules=1"
	;;
esac
if [ -n "$preload" ]; then
	case " $* " in *" libvirt-bridge "*) preload="$preload libtirpc.so.3" ;; esac
	export LD_PRELOAD="$preload${LD_PRELOAD:+ $LD_PRELOAD}"
fi

cd "$dist"
exec prove -b -v "t/$test"
