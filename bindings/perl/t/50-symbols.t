# SPDX-License-Identifier: LGPL-2.1-or-later
# vevent-compat and the real libvirt both define virEvent*; in one process
# each XS module must reach its own.  Sys::Virt and VEvent are loaded in
# both orders, also with RTLD_GLOBAL, each in a fresh process.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use VEventTest qw(watchdog);

watchdog(90);

my $probe = <<'EOF_PROBE';
my $order = shift;
*Sys::Virt::dl_load_flags = sub { 0x01 } if $order =~ /sysvirt-global/;
*VEvent::dl_load_flags = sub { 0x01 } if $order =~ /vevent-global/;
if ($order =~ /^sysvirt/) { require Sys::Virt; require VEvent; }
else { require VEvent; require Sys::Virt; }
VEvent::Event::register_default();
print eval { Sys::Virt::Event::add_timeout(0, sub {}); 1 }
    ? "libvirt: registered\n" : "libvirt: none\n";
my $vt = VEvent::Event::add_timeout(0, sub { print "vevent timer\n" });
VEvent::register_libvirt();
my $st = Sys::Virt::Event::add_timeout(0, sub { print "sys-virt timer\n" });
print "ids $vt $st\n";
VEvent::Event::run_default();
EOF_PROBE

sub run_perl {
    my ($code, @args) = @_;
    open(my $fh, '-|', $^X, '-Mblib', '-e', $code, @args) or die "fork: $!";
    my $out = do { local $/; <$fh> };
    close $fh;
    return $out;
}

for my $order (qw(sysvirt-first vevent-first sysvirt-global-first vevent-global-first)) {
    my $out = run_perl($probe, $order);
    is($out, "libvirt: none\nids 1 2\nvevent timer\nsys-virt timer\n",
        "$order: VEvent registers with vevent-compat, libvirt stays free until register_libvirt, then both share the loop")
        or diag $out;
}

my $conflict = run_perl(q{
    use Sys::Virt; use VEvent;
    Sys::Virt::Event::register_default();
    eval { VEvent::register_libvirt() };
    print $@;
});
like($conflict, qr/register_libvirt: .*libvirt already has an event loop implementation/,
    'register_libvirt after Sys::Virt::Event::register_default dies, saying why');

done_testing;
