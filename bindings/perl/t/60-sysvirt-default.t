# SPDX-License-Identifier: LGPL-2.1-or-later
# The real Sys::Virt runs libvirt on vevent's default loop
# (VEvent::register_libvirt through the vevent-libvirt bridge), driven by
# VEvent::Event::run_default().
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use VEventTest qw(watchdog);
use Sys::Virt;
use VEvent;
use SysVirtScenario;

watchdog(90);

ok(!eval { Sys::Virt::Event::add_timeout(0, sub {}); 1 }, 'libvirt has no event loop yet');
ok(VEvent::register_libvirt(), 'register_libvirt');
ok(VEvent::register_libvirt(), 'a second time: nothing more');
is(VEvent::Event::_mode(), 'default', 'it registered vevent\'s default implementation');
is(VEvent::Libvirt::loop_address(), VEvent::Event::_default_loop_address(),
    'libvirt got the default loop');

# Both APIs reach one loop: Sys::Virt's own add_timeout goes to the real
# libvirt, which forwards it to vevent.
my @order;
my $mine = VEvent::Event::add_timeout(0, sub { push @order, 'VEvent' });
my $theirs = Sys::Virt::Event::add_timeout(0, sub { push @order, 'Sys::Virt' });
is($theirs, $mine + 1, 'Sys::Virt::Event ids come from the same loop');
VEvent::Event::run_default();
is_deeply(\@order, ['VEvent', 'Sys::Virt'], 'both fire in one run_default');
Sys::Virt::Event::remove_timeout($theirs);
VEvent::Event::remove_timeout($mine);

my $tick = VEvent::Event::add_timeout(0, sub {});    # iterations never block
my $before = VEvent::loop_stats();
my $conn = SysVirtScenario::run(iterate => sub { VEvent::Event::run_default() });
my $after = VEvent::loop_stats();
cmp_ok($after->{timer_calls} - $before->{timer_calls}, '>', 0, 'libvirt\'s timers ran on vevent');
undef $conn;
VEvent::Event::remove_timeout($tick);
my $last = VEvent::Event::add_timeout(0, sub { VEvent::Event::remove_timeout($_[0]) });
VEvent::Event::run_default();
is(VEvent::Event::_subs_held(), 0, 'every Perl callback released');

done_testing;
