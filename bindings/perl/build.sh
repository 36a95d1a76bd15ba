#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# build.sh SRCDIR DISTDIR PKGCONFIGDIR WITH_LIBVIRT STAMP
#
# Builds the Perl distribution out of tree, for meson: copies SRCDIR (this
# directory) to DISTDIR in the build tree and runs ExtUtils::MakeMaker there
# against the libraries of the build tree (their uninstalled pkg-config
# files in PKGCONFIGDIR).  WITH_LIBVIRT=0 leaves VEvent::Libvirt out.
# Nothing is written to SRCDIR.  Touches STAMP when done.
set -eu
src=$1 dist=$2 pcdir=$3 with_libvirt=$4
stamp=$(cd "$(dirname "$5")" && pwd)/$(basename "$5")

mkdir -p "$dist"
# Keep timestamps, and copy only what changed, so make rebuilds only that.
cp -R -p -u "$src/." "$dist/"

export PKG_CONFIG_PATH="$pcdir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
if [ "$with_libvirt" = 1 ]; then
	unset VEVENT_PERL_WITHOUT_LIBVIRT
else
	export VEVENT_PERL_WITHOUT_LIBVIRT=1
fi

cd "$dist"
config="with_libvirt=$with_libvirt pcdir=$pcdir"
log=build.log
if [ ! -f Makefile ] || [ Makefile.PL -nt Makefile ] ||
	[ Libvirt/Makefile.PL -nt Makefile ] ||
	[ "$(cat .config 2>/dev/null)" != "$config" ]; then
	[ -f Makefile ] && make realclean >/dev/null 2>&1 || true
	if ! perl Makefile.PL >"$log" 2>&1; then
		cat "$log" >&2
		exit 1
	fi
	echo "$config" >.config
fi
# MakeMaker does not track headers: recompile when vevent's changed.
for o in VEvent.o Libvirt/Libvirt.o; do
	if [ -f "$o" ] && [ -n "$(find "$src/../../include" "$src/../../bridge/include" \
		-name '*.h' -newer "$o" 2>/dev/null)" ]; then
		rm -f "$o"
	fi
done
if ! make >"$log" 2>&1; then
	cat "$log" >&2
	exit 1
fi
touch "$stamp"
