# SPDX-License-Identifier: LGPL-2.1-or-later
# The real Sys::Virt on test:///default, its events carried by whatever
# VEvent registered with libvirt: define, start, suspend, resume, destroy
# and undefine a domain, and receive each lifecycle event, in order.
#
#   SysVirtScenario::run(iterate => sub { ...one iteration... });
package SysVirtScenario;

use strict;
use warnings;
use Test::More;
use Sys::Virt;
use VEvent;
use VEventTest qw(capture_warnings);

my @steps = (
    [ define  => 'EVENT_DEFINED' ],
    [ create  => 'EVENT_STARTED' ],
    [ suspend => 'EVENT_SUSPENDED' ],
    [ resume  => 'EVENT_RESUMED' ],
    [ destroy => 'EVENT_STOPPED' ],
    [ undefine => 'EVENT_UNDEFINED' ],
);

sub run {
    my (%args) = @_;
    my $iterate = $args{iterate};
    my $name = "vevent-perl-$$";
    my $conn = Sys::Virt->new(uri => 'test:///default');
    my @events;
    my $die_once = 1;
    my $cb = $conn->domain_event_register_any(undef,
        Sys::Virt::Domain::EVENT_ID_LIFECYCLE,
        VEvent::guard(sub {
            my ($c, $dom, $event, $detail) = @_;
            push @events, [ $dom->get_name, $event ];
            die "a Sys::Virt callback died\n" if $die_once-- > 0;
        }));
    my $dom;
    for my $step (@steps) {
        my ($what, $const) = @$step;
        if ($what eq 'define') {
            $dom = $conn->define_domain("<domain type='test'><name>$name</name>"
                . "<memory>65536</memory><os><type>hvm</type></os></domain>");
        } else {
            $dom->$what();
        }
        my $want = scalar(@events) + 1;
        my $expected = Sys::Virt::Domain->can($const)->();
        my @w = capture_warnings(sub {
            my $guard = 0;
            $iterate->() while @events < $want && $guard++ < 1000;
        });
        is_deeply($events[-1], [ $name, $expected ], "$what: $const arrived through the loop")
            or diag explain \@events;
        like($w[0] // '', qr/guarded callback died: a Sys::Virt callback died/,
            'a die in the guarded Sys::Virt callback was reported')
            if $what eq 'define';
    }
    is(scalar @events, scalar @steps, 'one event per step, no more');
    $conn->domain_event_deregister_any($cb);
    $iterate->() for 1 .. 2;
    return $conn;
}

1;
