# SPDX-License-Identifier: LGPL-2.1-or-later
# The contract on vevent's default implementation (VEVENT_BACKEND picks
# the backend), plus what only the default implementation does.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use VEventTest qw(watchdog capture_warnings);
use VEventContract;
use VEvent;

watchdog(120);

ok(!eval { VEvent::Event::run_default(); 1 }, 'run_default before registering dies');
like($@, qr/run_default: .*no event loop implementation is registered/, 'and says why');
ok(VEvent::Event::register_default(), 'register_default');
ok(VEvent::Event::register_default(), 'a second time: still fine');
is(VEvent::Event::_mode(), 'default', 'the default implementation serves');

VEventContract::run(iterate => sub { VEvent::Event::run_default() });

subtest callbacks_leave_dollar_at_alone => sub {
    my $t;
    $t = VEvent::Event::add_timeout(0, sub {
        VEvent::Event::remove_timeout($t);    # its ff runs at the end of the iteration
        eval { die "inner\n" };
        die "outer\n";
    });
    $@ = "kept\n";
    my @w = capture_warnings(sub { VEvent::Event::run_default() });
    is($@, "kept\n", '$@ after run_default is what it was before');
    like($w[0] // '', qr/outer/, 'the death was reported');
};

subtest loop_statistics => sub {
    my $s = VEvent::loop_stats();
    is($s->{handles}, 0, 'no watch left');
    is($s->{timers}, 0, 'no timer left');
    is($s->{pending_frees}, 0, 'no free callback pending');
    is($s->{backend}, $ENV{VEVENT_BACKEND} || 'epoll', 'the backend asked for');
    cmp_ok($s->{timer_calls}, '>', 0, 'timers ran on this loop');
};

subtest a_perl_implementation_cannot_follow => sub {
    require VEvent::EventImpl;
    ok(!eval { VEvent::Event::register(VEvent::EventImpl->new); 1 }, 'register dies');
    like($@, qr/default implementation is already registered/, 'and says why');
};

done_testing;
