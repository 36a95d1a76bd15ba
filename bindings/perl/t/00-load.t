# SPDX-License-Identifier: LGPL-2.1-or-later
# The modules load, the XS library is the one just built, and the POD of
# every module parses.
use strict;
use warnings;
use Test::More;

use_ok('VEvent');
use_ok('VEvent::Event');
use_ok('VEvent::EventImpl');
like(VEvent::version(), qr/\A\d+\.\d+\.\d+\z/, 'vevent library version');
is(VEvent::Event::_mode(), 'none', 'nothing registered at start');

SKIP: {
    skip 'Pod::Checker not available', 1 unless eval { require Pod::Checker; 1 };
    for my $pm (qw(lib/VEvent.pm lib/VEvent/Event.pm lib/VEvent/EventImpl.pm
                   lib/VEvent/EventImpl/AnyEvent.pm Libvirt/Libvirt.pm)) {
        my $checker = Pod::Checker->new(-warnings => 2);
        open my $null, '>', '/dev/null' or die;
        $checker->parse_from_file($pm, $null);
        is($checker->num_errors, 0, "$pm: POD without errors");
        cmp_ok($checker->num_warnings, '<=', 0, "$pm: POD without warnings");
    }
}
done_testing;
