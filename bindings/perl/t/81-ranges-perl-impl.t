# SPDX-License-Identifier: LGPL-2.1-or-later
# Numbers crossing a Perl implementation reach C as ints: what its methods
# return, and what it passes to the helper methods, must be integers of
# their range, or the call fails (C gets -1) or dies, and no C callback
# runs with a truncated id.  VEvent::EventImpl::AnyEvent's methods, called
# directly, refuse the same values.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use VEventTest qw(watchdog capture_warnings);
use VEvent;
use VEvent::EventImpl;

watchdog(60);

my $inf = 9**9**9;
my $nan = $inf - $inf;

# Returns what the test sets in {ret} (ids from 1 otherwise) and keeps the
# tokens it is given.
package Liar {
    our @ISA = ('VEvent::EventImpl');
    sub _add {
        my ($s, $kind, @reg) = @_;
        my $id = ++$s->{n};
        $s->{regs}{$id} = \@reg;
        return exists $s->{ret} ? $s->{ret} : $id;
    }
    sub add_handle { my ($s, $fd, $ev, @t) = @_; $s->_add('handle', @t) }
    sub add_timeout { my ($s, $ms, @t) = @_; $s->_add('timer', @t) }
    sub update_handle { }
    sub update_timeout { }
    sub remove_handle { my ($s) = @_; exists $s->{ret} ? $s->{ret} : 0 }
    sub remove_timeout { my ($s) = @_; exists $s->{ret} ? $s->{ret} : 0 }
}

package main;

my $impl = Liar->new;
ok(VEvent::Event::register($impl), 'register a Perl implementation');
my $c = 'VEvent::Event::_CClient';

subtest results_that_are_not_ids_fail_the_add => sub {
    for my $ret (2**32 + 1, 2**31, 0, 1.5, 'abc', '3abc', '', undef, $nan, $inf) {
        my $shown = defined $ret ? "'$ret'" : 'undef';
        local $impl->{ret} = $ret;
        my $held = VEvent::Event::_subs_held();
        my @w = capture_warnings(sub {
            ok(!eval { VEvent::Event::add_timeout(5, sub {}); 1 }, "add_timeout dies when the method returns $shown");
        });
        like($@, qr/Liar->add_timeout returned .*, not an id \(an integer from 1 to 2147483647\) or -1/, 'saying what it returned');
        is(VEvent::Event::_subs_held(), $held, 'the sub of the failed add was released');
        is_deeply(\@w, [], 'no warning');
        is($c->can('add_handle')->(0, 1), -1, "C's virEventAddHandle gets -1, not a truncated id");
    }
    local $impl->{ret} = -7;
    ok(!eval { VEvent::Event::add_handle(0, 1, sub {}); 1 }, 'a negative result is a failure');
    like($@, qr/Liar->add_handle returned -7/, 'with the value');
};

subtest results_that_are_not_integers_fail_the_remove => sub {
    my $t = $c->can('add_timeout')->(-1);
    for my $ret (1.5, 'abc', undef, 2**32) {
        my $shown = defined $ret ? "'$ret'" : 'undef';
        local $impl->{ret} = $ret;
        is($c->can('remove_timeout')->($t), -1, "C's virEventRemoveTimeout gets -1 when the method returns $shown");
    }
    is($c->can('remove_timeout')->($t), 0, 'and 0 when it returns 0');
};

subtest helpers_refuse_numbers_out_of_range_and_run_nothing => sub {
    my $t = $c->can('add_timeout')->(-1);
    my $h = $c->can('add_handle')->(0, 1);
    my ($tcb, $topaque) = @{ $impl->{regs}{$t} };
    my ($hcb, $hopaque) = @{ $impl->{regs}{$h} };
    my $before = $c->can('counts')->();
    for my $case (
        [ sub { $impl->_run_timeout_callback(2**32 + $t, $tcb, $topaque) }, qr/\$timer must be an integer from 1 to 2147483647, not ${\ (2**32 + $t)}/, "a timer id of 2**32+$t" ],
        [ sub { $impl->_run_timeout_callback(0, $tcb, $topaque) }, qr/\$timer must be an integer from 1/, 'a timer id of 0' ],
        [ sub { $impl->_run_timeout_callback('1x', $tcb, $topaque) }, qr/\$timer .* not the string '1x'/, "a timer id of '1x'" ],
        [ sub { $impl->_run_handle_callback(2**32 + $h, 0, 1, $hcb, $hopaque) }, qr/\$watch must be an integer from 1 to 2147483647/, 'a watch id of 2**32+1' ],
        [ sub { $impl->_run_handle_callback($h, 2**32 + 5, 1, $hcb, $hopaque) }, qr/\$fd must be an integer from -2147483648 to 2147483647, not 4294967301/, 'a descriptor of 2**32+5' ],
        [ sub { $impl->_run_handle_callback($h, 0, 2**32 + 1, $hcb, $hopaque) }, qr/\$events must be an integer from -2147483648 to 2147483647/, 'events of 2**32+1' ],
        [ sub { $impl->_run_handle_callback($h, 0, 0.5, $hcb, $hopaque) }, qr/\$events .* not 0\.5/, 'events of 0.5' ],
    ) {
        my ($code, $re, $what) = @$case;
        ok(!eval { $code->(); 1 }, "$what dies");
        like($@, $re, "$what: saying why");
    }
    is_deeply($c->can('counts')->(), $before, 'no C callback ran');
    $impl->_run_handle_callback($h, 0, 2, $hcb, $hopaque);
    is_deeply([ @{ $c->can('counts')->() }{qw(last_id last_fd last_events)} ], [$h, 0, 2],
        'valid numbers reach the C callback as they are');
};

subtest anyevent_methods_refuse_what_is_not_a_c_int => sub {
    plan skip_all => 'AnyEvent is not installed (Debian: libanyevent-perl)'
        unless eval { require VEvent::EventImpl::AnyEvent; 1 };
    my $ae = VEvent::EventImpl::AnyEvent->new;
    pipe(my $r, my $w) or die "pipe: $!";
    for my $case (
        [ add_timeout => 'frequency', sub { $ae->add_timeout('abc', 1, 2, 3) } ],
        [ add_timeout => 'frequency', sub { $ae->add_timeout(2**32 + 20, 1, 2, 3) } ],
        [ add_handle => 'fd', sub { $ae->add_handle(2**32 + fileno($r), 1, 1, 2, 3) } ],
        [ add_handle => 'events', sub { $ae->add_handle(fileno($r), 1.5, 1, 2, 3) } ],
        [ update_handle => 'watch', sub { $ae->update_handle(undef, 1) } ],
        [ update_timeout => 'frequency', sub { $ae->update_timeout(1, 2**32) } ],
        [ remove_timeout => 'timer', sub { $ae->remove_timeout(2**32 + 1) } ],
        [ remove_handle => 'watch', sub { $ae->remove_handle('1x') } ],
    ) {
        my ($method, $arg, $code) = @$case;
        my @w = capture_warnings(sub { ok(!eval { $code->(); 1 }, "$method with a bad \$$arg dies") });
        like($@, qr/^VEvent::EventImpl::AnyEvent::$method: \$$arg must be an integer from -2147483648 to 2147483647, not /, 'saying why');
        is_deeply(\@w, [], 'no warning');
    }
    is_deeply([ keys %{ $ae->{timers} }, keys %{ $ae->{watches} } ], [], 'nothing was added');
    is($ae->add_handle(-1, 1, 1, 2, 3), -1, 'a negative descriptor is still a failure (-1), not a death');
};

done_testing;
