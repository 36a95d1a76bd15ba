#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
# Runs inside the fresh root, as root, what a new reader of the README types,
# in the README's order (the steps come from readme-steps.py):
#   1. the Quick start's scripts/run-demo, in /root/vevent;
#   2. as an ordinary user, before anything is installed system-wide, the
#      private-prefix block, then the first README example and
#      vevent-monitor --demo through it;
#   3. the "Install and link" block, as root;
#   4. each `cc prog.c $(pkg-config ...)` line on the C block it follows,
#      and on the example file the text names, then the program it built;
#   5. vevent-monitor --demo found on PATH;
#   6. the Perl binding's install block, then `use VEvent` from elsewhere.
# Each step's commands run in a fresh shell with -e: a failing line fails
# the step.  Prints one line per step; exits 1 at the first failure, after
# the tail of its log.
set -u
self=$0
steps=$1
tree=/root/vevent
logs=/root/logs
mkdir -p "$logs"
n=0

# step NAME SECONDS FUNCTION ARGS...: runs FUNCTION in a fresh shell,
# killed after SECONDS.
step() {
	name=$1
	limit=$2
	shift 2
	n=$((n + 1))
	log=$logs/$n-$name.log
	start=$(date +%s)
	if timeout -k 10 "$limit" /bin/sh "$self" "$steps" --do "$@" >"$log" 2>&1; then
		echo "  ok   $name ($(($(date +%s) - start)) s)"
		return 0
	fi
	status=$?
	[ "$status" -ne 124 ] || echo "timed out after $limit s" >>"$log"
	echo "  FAIL $name ($(($(date +%s) - start)) s); the end of its log:"
	tail -n 25 "$log" | sed 's/^/       | /'
	exit 1
}

# A reader's shell: in DIR, the lines of FILE one after the other.
type_lines() { (cd "$1" && sh -ex "$2"); }

# Runs a built program with nothing on stdin, bounded; compares its output
# with what the README shows, when it shows any.
run_program() {
	dir=$1
	(cd "$dir" && timeout 60 sh -ex "$steps/$2/run.sh" </dev/null >"$dir/out") || return 1
	cat "$dir/out"
	[ -f "$steps/$2/expected" ] || return 0
	diff -u "$steps/$2/expected" "$dir/out"
}

example() {
	ex=$1
	dir=/root/try/$ex
	mkdir -p "$dir"
	cp "$steps/$ex/prog.c" "$dir/prog.c"
	echo "## the README's program"
	type_lines "$dir" "$steps/$ex/build.sh" && run_program "$dir" "$ex" || return 1
	[ -f "$steps/$ex/example" ] || return 0
	file=$tree/$(cat "$steps/$ex/example")
	echo "## $file with the same line"
	[ -f "$file" ] || { echo "no such example file: $file"; return 1; }
	rm -f "$dir/a.out"
	cp "$file" "$dir/prog.c"
	type_lines "$dir" "$steps/$ex/build.sh" &&
		(cd "$dir" && timeout 60 sh -ex "$steps/$ex/run.sh" </dev/null)
}

private_prefix() {
	id reader >/dev/null 2>&1 || useradd -m -s /bin/sh reader
	rm -rf /home/reader/vevent /home/reader/steps /home/reader/try
	cp -a "$tree" /home/reader/vevent
	rm -rf /home/reader/vevent/build*
	cp -a "$steps" /home/reader/steps
	mkdir -p /home/reader/try
	cp "$steps/example-1/prog.c" /home/reader/try/prog.c
	chown -R reader: /home/reader/vevent /home/reader/steps /home/reader/try
	# Nothing of vevent may be installed system-wide yet, or this would
	# not show that the private prefix alone is enough.
	if ls -d /usr/local/lib*/*vevent* /usr/local/lib*/*/*vevent* \
		/usr/local/bin/vevent-monitor /usr/local/share/perl/*/VEvent* 2>/dev/null; then
		echo "vevent is already installed system-wide"
		return 1
	fi
	# One login shell: the blocks' exports hold for the checks after them.
	runuser -l reader -c '
		set -ex
		cd ~/vevent
		. ~/steps/private-prefix.sh
		cd ~/vevent
		. ~/steps/perl-private-prefix.sh
		cd ~/try
		'"$(cat "$steps/example-1/build.sh")"'
		timeout 60 sh -e ~/steps/example-1/run.sh </dev/null
		cd /
		test "$(command -v vevent-monitor)" = "$HOME/.local/bin/vevent-monitor"
		timeout 120 vevent-monitor --demo >/dev/null
		timeout 60 perl ~/steps/use-vevent.pl >~/try/use-vevent.out
		cat ~/try/use-vevent.out
		grep -q " from $HOME/.local/" ~/try/use-vevent.out'
}

monitor_on_path() {
	where=$(command -v vevent-monitor) || { echo "vevent-monitor is not on PATH ($PATH)"; return 1; }
	echo "vevent-monitor: $where"
	cd / && timeout 120 vevent-monitor --demo
}

perl_check() {
	(cd / && timeout 60 perl "$steps/use-vevent.pl") >/root/try/use-vevent.out || return 1
	cat /root/try/use-vevent.out
	grep -q ' from /usr/local/' /root/try/use-vevent.out
}

# The Python package that "Install and link" installed, from outside the
# tree, with Debian's interpreter: one timer callback through vevent.Loop,
# and the libvirt half importable.
python_check() {
	(cd / && timeout 60 /usr/bin/python3 "$steps/use-vevent.py") >/root/try/use-vevent-py.out || return 1
	cat /root/try/use-vevent-py.out
	grep -q ' from /usr/local/' /root/try/use-vevent-py.out
}

if [ "${2:-}" = --do ]; then
	shift 2
	"$@"
	exit
fi

cat >"$steps/use-vevent.pl" <<'EOF'
use VEvent;
VEvent::Event::register_default();
my $fired = 0;
VEvent::Event::add_timeout(0, sub { $fired++ });
VEvent::Event::run_default() until $fired;
require VEvent::Libvirt;
print "VEvent $VEvent::VERSION from $INC{'VEvent.pm'}: ok\n";
EOF

cat >"$steps/use-vevent.py" <<'EOF'
import vevent, vevent.libvirt
fired = []
with vevent.Loop() as loop:
    loop.add_timeout(0, lambda timer, opaque: fired.append(timer))
    loop.run_once()
assert fired == [1], fired
print("vevent %s from %s: ok" % (vevent.__version__, vevent.__file__))
EOF

step quick-start 1200 type_lines "$tree" "$steps/quick-start.sh"
step private-prefix 900 private_prefix
step install 900 type_lines "$tree" "$steps/install.sh"
for ex in $(cd "$steps" && ls -d example-* | sort -t- -k2 -n); do
	step "$ex:$(sed 's/.*--libs //; s/)$//; s/ /+/g' "$steps/$ex/build.sh")" 300 example "$ex"
done
step vevent-monitor-on-path 180 monitor_on_path
step perl-install 900 type_lines "$tree" "$steps/perl-install.sh"
step perl-use-vevent 120 perl_check
step python-import-vevent 120 python_check
