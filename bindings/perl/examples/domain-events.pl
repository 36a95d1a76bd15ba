#!/usr/bin/perl
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# domain-events.pl [--anyevent] [URI]
#
# Prints libvirt domain lifecycle events, with the real Sys::Virt running
# libvirt on vevent.  Without a URI it opens test:///default and defines,
# starts, suspends, resumes, stops and undefines a domain there, then exits;
# with a URI it prints events until Ctrl-C.  --anyevent runs everything on
# AnyEvent's loop (VEvent::EventImpl::AnyEvent) instead of vevent's own.
use strict;
use warnings;
use Sys::Virt;
use VEvent;
use VEvent::Event;

my $anyevent = @ARGV && $ARGV[0] eq '--anyevent' ? shift @ARGV : undef;
my $uri = shift @ARGV;

# 1. The event loop, registered before any connection is opened.
my $iterate;
if ($anyevent) {
    require VEvent::EventImpl::AnyEvent;
    my $impl = VEvent::EventImpl::AnyEvent->new;
    VEvent::Event::register($impl);
    $iterate = sub { $impl->run_once };
} else {
    VEvent::Event::register_default();
    $iterate = sub { VEvent::Event::run_default() };
}
VEvent::register_libvirt();

# 2. The connection and its lifecycle events.  Sys::Virt calls these subs
# without an eval: VEvent::guard reports a die instead of letting it unwind
# through libvirt and the loop.
my %names = (
    Sys::Virt::Domain::EVENT_DEFINED()   => 'defined',
    Sys::Virt::Domain::EVENT_UNDEFINED() => 'undefined',
    Sys::Virt::Domain::EVENT_STARTED()   => 'started',
    Sys::Virt::Domain::EVENT_SUSPENDED() => 'suspended',
    Sys::Virt::Domain::EVENT_RESUMED()   => 'resumed',
    Sys::Virt::Domain::EVENT_STOPPED()   => 'stopped',
    Sys::Virt::Domain::EVENT_SHUTDOWN()  => 'shutdown',
    Sys::Virt::Domain::EVENT_PMSUSPENDED() => 'pmsuspended',
    Sys::Virt::Domain::EVENT_CRASHED()   => 'crashed',
);
my $conn = Sys::Virt->new(uri => $uri // 'test:///default');
my $seen = 0;
$conn->domain_event_register_any(undef, Sys::Virt::Domain::EVENT_ID_LIFECYCLE,
    VEvent::guard(sub {
        my ($c, $dom, $event, $detail) = @_;
        printf "%-12s %s (detail %d)\n", $dom->get_name,
            $names{$event} // "event $event", $detail;
        $seen++;
    }));
printf "watching %s on %s\n", $conn->get_uri,
    $anyevent ? "AnyEvent's loop" : "vevent's loop";

# 3. Run the loop.
if (defined $uri) {
    my $quit = 0;
    $SIG{INT} = $SIG{TERM} = sub { $quit = 1 };
    # The signal interrupts the wait; a timer makes sure it is noticed.
    VEvent::Event::add_timeout(500, sub {});
    $iterate->() until $quit;
    exit 0;
}

my $dom;
my @steps = (
    sub {
        $dom = $conn->define_domain("<domain type='test'>"
            . "<name>vevent-perl-demo</name><memory>65536</memory>"
            . "<os><type>hvm</type></os></domain>");
    },
    map { my $action = $_; sub { $dom->$action() } }
        qw(create suspend resume destroy undefine),
);
for my $i (0 .. $#steps) {
    $steps[$i]->();
    $iterate->() while $seen < $i + 1;    # until its event has arrived
}
print "done: $seen events\n";
