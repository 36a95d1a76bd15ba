# SPDX-License-Identifier: LGPL-2.1-or-later
# VEvent::Libvirt takes no numbers: the addresses it hands to libvirt (the
# default loop, or the six functions of a Perl implementation) come from
# VEvent itself, so no number a caller passes can become a pointer that C
# uses.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use VEventTest qw(watchdog);
use VEvent;

plan skip_all => 'VEvent was built without VEvent::Libvirt'
    unless eval { require VEvent::Libvirt; 1 };
watchdog(60);

VEvent::Event::register_default();
my $loop = VEvent::Event::_default_loop_address();

for my $case (
    [ _register_loop => [ $loop + 8 ] ],
    [ _register_table => [ (1) x 6 ] ],
) {
    my ($fn, $args) = @$case;
    my $code = VEvent::Libvirt->can($fn);
    ok(!eval { $code->(@$args); 1 }, "$fn with addresses dies");
    like($@, qr/Usage: VEvent::Libvirt::$fn\(\)/, 'it takes no arguments');
}
ok(!eval { VEvent::Libvirt::_register_table(); 1 },
    '_register_table without a Perl implementation dies');
like($@, qr/no Perl implementation is registered/, 'saying why');
is(VEvent::Libvirt::loop_address(), 0, 'libvirt was given no loop');
ok(!VEvent::Libvirt::_table_registered(), 'nor any function');

ok(VEvent::register_libvirt(), 'register_libvirt');
is(VEvent::Libvirt::loop_address(), $loop, 'gives libvirt the default loop, which it looked up itself');

done_testing;
