# SPDX-License-Identifier: LGPL-2.1-or-later
# The same contract on VEvent::EventImpl::AnyEvent, and the implementation
# inside a program's own AnyEvent loop.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use VEventTest qw(watchdog);
use VEventContract;
use VEvent;
use AnyEvent;
use VEvent::EventImpl::AnyEvent;

watchdog(120);

my $impl = VEvent::EventImpl::AnyEvent->new;
ok(VEvent::Event::register($impl), 'register the AnyEvent implementation');
is(VEvent::Event::_mode(), 'perl', 'a Perl implementation serves');
ok(!eval { VEvent::Event::run_default(); 1 }, 'run_default dies: not the default implementation');
like($@, qr/custom event loop implementation is registered/, 'and says why');

VEventContract::run(iterate => sub { $impl->run_once });

subtest runs_inside_the_programs_own_loop => sub {
    my $cv = AnyEvent->condvar;
    my ($mine, $theirs) = (0, 0);
    my $t = VEvent::Event::add_timeout(10, sub {
        $cv->send if ++$mine == 3;
    });
    my $w = AnyEvent->timer(after => 0, interval => 0.005, cb => sub { $theirs++ });
    $cv->recv;
    VEvent::Event::remove_timeout($t);
    is($mine, 3, 'VEvent timer fired three times in AnyEvent\'s loop');
    cmp_ok($theirs, '>', 0, 'the program\'s own watchers ran alongside');
    $impl->run_once;    # the free callback
    is(scalar keys %{ $impl->{timers} }, 0, 'nothing left');
};

done_testing;
