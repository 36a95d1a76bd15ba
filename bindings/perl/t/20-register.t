# SPDX-License-Identifier: LGPL-2.1-or-later
# register($impl): what it accepts, the deprecated VEvent::Event subclass
# (one warning per process), and the first registration winning.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use VEventTest qw(watchdog capture_warnings);
use VEvent;

watchdog(60);

package Not::AnImpl { sub new { bless {}, shift } }

# An implementation written the old way, as for Sys::Virt::Event: a
# subclass of VEvent::Event.  It keeps its registrations in a hash and is
# run by hand with run().
package Old::Style {
    our @ISA = ('VEvent::Event');
    sub new { bless { n => 0, timers => {}, frees => [] }, shift }
    sub add_handle { -1 }
    sub update_handle { }
    sub remove_handle { -1 }
    sub add_timeout {
        my ($self, $ms, $cb, $opaque, $ff) = @_;
        my $id = ++$self->{n};
        $self->{timers}{$id} = [$ms, $cb, $opaque, $ff];
        return $id;
    }
    sub update_timeout { my ($self, $id, $ms) = @_; $self->{timers}{$id}[0] = $ms if $self->{timers}{$id} }
    sub remove_timeout {
        my ($self, $id) = @_;
        my $t = delete $self->{timers}{$id} or return -1;
        push @{ $self->{frees} }, [ $t->[3], $t->[2] ];
        return 0;
    }
    sub run {
        my ($self) = @_;
        $self->_free_callback_opaque(@$_) for splice @{ $self->{frees} };
        for my $id (sort keys %{ $self->{timers} }) {
            my $t = $self->{timers}{$id} or next;
            $self->_run_timeout_callback($id, $t->[1], $t->[2]) if $t->[0] >= 0;
        }
    }
}

package main;

for my $case (
    [ undef, qr/not undef/ ],
    [ 'VEvent::EventImpl', qr/not the string 'VEvent::EventImpl'/ ],
    [ {}, qr/not a HASH reference/ ],
    [ sub {}, qr/not a CODE reference/ ],
    [ Not::AnImpl->new, qr/not an object of class Not::AnImpl/ ],
) {
    my ($impl, $re) = @$case;
    ok(!eval { VEvent::Event::register($impl); 1 }, 'register(' . ($impl // 'undef') . ') dies');
    like($@, qr/must be an instance of a subclass of VEvent::EventImpl/, 'the message says what is expected');
    like($@, $re, 'and what was passed');
}
is(VEvent::Event::_mode(), 'none', 'nothing was registered');

my $old = Old::Style->new;
my @w = capture_warnings(sub { ok(VEvent::Event::register($old), 'an old-style implementation is accepted') });
is(scalar @w, 1, 'with one warning');
like($w[0] // '', qr/subclasses VEvent::Event \(Old::Style\) is deprecated; subclass VEvent::EventImpl/, 'saying why');

@w = capture_warnings(sub {
    ok(!eval { VEvent::Event::register(Old::Style->new); 1 }, 'a second registration dies');
});
like($@, qr/already registered/, 'the first one wins');
is(scalar @w, 0, 'and the deprecation warning is not repeated');

ok(!eval { VEvent::Event::register_default(); 1 }, 'register_default after it dies');
like($@, qr/another event loop implementation is already registered/, 'and says why');

my @fired;
my $t = VEvent::Event::add_timeout(0, sub { push @fired, $_[0] });
is($t, 1, 'add_timeout reaches the old-style implementation');
$old->run for 1 .. 2;
is_deeply(\@fired, [1, 1], 'and its callback runs through _run_timeout_callback');
VEvent::Event::remove_timeout($t);
$old->run;
is(VEvent::Event::_subs_held(), 0, 'the free callback ran through _free_callback_opaque');

ok(!eval { VEvent::Event::add_handle(0, 1, sub {}); 1 }, 'its add_handle returning -1 makes add_handle die');
like($@, qr/Old::Style->add_handle returned -1/, 'naming the method');

done_testing;
