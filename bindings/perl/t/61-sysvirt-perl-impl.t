# SPDX-License-Identifier: LGPL-2.1-or-later
# The same Sys::Virt scenario with a Perl EventImpl (the AnyEvent one)
# serving the real libvirt: VEvent::register_libvirt() hands libvirt the
# six functions that call the Perl object.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use VEventTest qw(watchdog);
use Sys::Virt;
use VEvent;
use VEvent::EventImpl::AnyEvent;
use SysVirtScenario;

watchdog(90);

my $impl = VEvent::EventImpl::AnyEvent->new;
VEvent::Event::register($impl);
ok(VEvent::register_libvirt(), 'register_libvirt with a Perl implementation');
ok(VEvent::Libvirt::_table_registered(), 'libvirt got the Perl implementation\'s functions');
is(VEvent::Libvirt::loop_address(), 0, 'not a vevent loop');

my $t = Sys::Virt::Event::add_timeout(0, sub {});
ok(exists $impl->{timers}{$t}, 'Sys::Virt::Event::add_timeout lands in the Perl implementation');
Sys::Virt::Event::remove_timeout($t);

my $tick = VEvent::Event::add_timeout(0, sub {});
my $passes = $impl->{passes};
my $conn = SysVirtScenario::run(iterate => sub { $impl->run_once });
cmp_ok($impl->{passes}, '>', $passes, 'AnyEvent\'s loop carried the events');
undef $conn;
VEvent::Event::remove_timeout($tick);
$impl->run_once;    # the removal wakes one iteration, which frees the tick
is(VEvent::Event::_subs_held(), 0, 'every Perl callback released');

done_testing;
