# SPDX-License-Identifier: LGPL-2.1-or-later
# A Perl implementation serves C code of the process that uses
# vevent-compat; the helper methods accept only what VEvent handed out; a
# method that dies is reported and the call fails.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use VEventTest qw(watchdog capture_warnings);
use VEvent;
use VEvent::EventImpl;

watchdog(60);

# A minimal implementation that records every call and is run by hand.
package Recorder {
    use parent -norequire, 'VEvent::EventImpl';
    sub add_handle {
        my ($self, $fd, $events, $cb, $opaque, $ff) = @_;
        die "refused\n" if $self->{refuse};
        my $id = ++$self->{nw};
        $self->{w}{$id} = { fd => $fd, events => $events, cb => $cb, opaque => $opaque, ff => $ff };
        push @{ $self->{log} }, "add_handle $fd $events";
        return $id;
    }
    sub update_handle { my ($s, $id, $ev) = @_; push @{ $s->{log} }, "update_handle $id $ev"; $s->{w}{$id}{events} = $ev if $s->{w}{$id} }
    sub remove_handle {
        my ($s, $id) = @_;
        push @{ $s->{log} }, "remove_handle $id";
        my $w = delete $s->{w}{$id} or return -1;
        push @{ $s->{frees} }, $w;
        return 0;
    }
    sub add_timeout {
        my ($self, $ms, $cb, $opaque, $ff) = @_;
        my $id = ++$self->{nt};
        $self->{t}{$id} = { ms => $ms, cb => $cb, opaque => $opaque, ff => $ff };
        push @{ $self->{log} }, "add_timeout $ms";
        return $id;
    }
    sub update_timeout { my ($s, $id, $ms) = @_; push @{ $s->{log} }, "update_timeout $id $ms"; $s->{t}{$id}{ms} = $ms if $s->{t}{$id} }
    sub remove_timeout {
        my ($s, $id) = @_;
        push @{ $s->{log} }, "remove_timeout $id";
        my $t = delete $s->{t}{$id} or return -1;
        push @{ $s->{frees} }, $t;
        return 0;
    }
    sub run {
        my ($s, $events) = @_;
        $s->_free_callback_opaque($_->{ff}, $_->{opaque}) for splice @{ $s->{frees} };
        for my $id (sort keys %{ $s->{t} }) {
            my $t = $s->{t}{$id} or next;
            $s->_run_timeout_callback($id, $t->{cb}, $t->{opaque}) if $t->{ms} >= 0;
        }
        for my $id (sort keys %{ $s->{w} }) {
            my $w = $s->{w}{$id} or next;
            $s->_run_handle_callback($id, $w->{fd}, $events, $w->{cb}, $w->{opaque}) if $events;
        }
    }
}

package main;

my $impl = Recorder->new(log => []);
ok(VEvent::Event::register($impl), 'register a Perl implementation');

subtest c_code_using_vevent_compat_is_served_by_it => sub {
    my $c = 'VEvent::Event::_CClient';
    my $t = $c->can('add_timeout')->(250);
    is($t, 1, 'C: virEventAddTimeout returns the Perl implementation\'s id');
    my $h = $c->can('add_handle')->(0, 1);
    is($h, 1, 'C: virEventAddHandle too');
    $c->can('update_timeout')->($t, 0);
    $c->can('update_handle')->($h, 3);
    is_deeply($impl->{log}, ['add_timeout 250', 'add_handle 0 1', 'update_timeout 1 0', 'update_handle 1 3'],
        'each call reached the Perl methods with its arguments');
    $impl->run(VEvent::Event::HANDLE_WRITABLE);
    my $n = $c->can('counts')->();
    is($n->{timeout_calls}, 1, 'the C timer callback ran through _run_timeout_callback');
    is($n->{handle_calls}, 1, 'the C handle callback ran through _run_handle_callback');
    is_deeply([@$n{qw(last_id last_fd last_events)}], [1, 0, 2], 'with the watch, fd and events');
    is($c->can('remove_timeout')->($t), 0, 'C: virEventRemoveTimeout returns 0');
    is($c->can('remove_handle')->($h), 0, 'C: virEventRemoveHandle returns 0');
    is($c->can('remove_handle')->($h), -1, 'C: a second remove returns -1');
    is($c->can('counts')->()->{frees}, 0, 'no free callback inside the remove calls');
    $impl->run(0);
    is($c->can('counts')->()->{frees}, 2, 'both C free callbacks ran once');
};

subtest helpers_accept_only_what_vevent_handed_out => sub {
    my $t = VEvent::Event::add_timeout(5, sub {});
    my $h = VEvent::Event::add_handle(0, 1, sub {});
    my ($tr, $hr) = ($impl->{t}{$t}, $impl->{w}{$h});
    my $forged = bless \(my $x = 42), 'VEvent::Event::Callback';
    for my $case (
        [ sub { $impl->_run_timeout_callback($t, $forged, $tr->{opaque}) }, qr/\$cb is not a VEvent::Event::Callback/, 'a forged callback' ],
        [ sub { $impl->_run_timeout_callback($t, $tr->{cb}, 42) }, qr/\$opaque is not a VEvent::Event::Opaque/, 'a number as opaque' ],
        [ sub { $impl->_run_timeout_callback($t, $tr->{cb}, $hr->{opaque}) }, qr/different registrations/, 'a mixed pair' ],
        [ sub { $impl->_run_timeout_callback($h, $hr->{cb}, $hr->{opaque}) }, qr/is a handle callback/, 'a handle callback as a timer' ],
        [ sub { $impl->_run_handle_callback($t, 0, 1, $tr->{cb}, $tr->{opaque}) }, qr/is a timeout callback/, 'a timer callback as a handle' ],
        [ sub { $impl->_free_callback_opaque($tr->{cb}, $tr->{opaque}) }, qr/\$ff is not a VEvent::Event::FreeCallback/, 'a callback as ff' ],
    ) {
        my ($code, $re, $what) = @$case;
        ok(!eval { $code->(); 1 }, "$what dies");
        like($@, $re, "$what: message");
    }
    VEvent::Event::remove_timeout($t);
    VEvent::Event::remove_handle($h);
    my @frees = @{ $impl->{frees} };
    $impl->run(0);
    my @w = capture_warnings(sub { $impl->_free_callback_opaque($frees[0]{ff}, $frees[0]{opaque}) });
    like($w[0] // '', qr/free callback of timer \d+ already ran; ignored/, 'a second free is ignored, with a warning');
    ok(!eval { $impl->_run_timeout_callback($t, $tr->{cb}, $tr->{opaque}); 1 }, 'running a freed registration dies');
    like($@, qr/already freed/, 'saying so');
    is(VEvent::Event::_subs_held(), 0, 'the Perl subs were released exactly once');
};

subtest a_method_that_dies_is_reported_and_the_call_fails => sub {
    $impl->{refuse} = 1;
    my $err;
    my @w = capture_warnings(sub {
        ok(!eval { VEvent::Event::add_handle(0, 1, sub {}); 1 }, 'add_handle dies');
        $err = $@;
        is(VEvent::Event::_CClient::add_handle(0, 1), -1, 'C gets -1');
    });
    like($err, qr/Recorder->add_handle died: refused/, 'with the method\'s message');
    is(scalar(grep { /Recorder->add_handle died: refused/ } @w), 2, 'each death was also reported');
    is(VEvent::Event::_subs_held(), 0, 'the sub of the failed add was released');
    $impl->{refuse} = 0;
};

subtest tokens_dropped_without_free_are_reported => sub {
    my $t = VEvent::Event::add_timeout(-1, sub {});
    open my $saved, '>&', \*STDERR or die;
    my $file = "/tmp/vevent-perl-$$.err";
    open STDERR, '>', $file or die;
    delete $impl->{t}{$t};    # a buggy implementation forgets the timer
    open STDERR, '>&', $saved or die;
    open my $in, '<', $file or die;
    my $err = do { local $/; <$in> };
    unlink $file;
    like($err, qr/dropped timer $t without calling _free_callback_opaque/, 'reported on stderr');
};

done_testing;
