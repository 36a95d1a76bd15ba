# SPDX-License-Identifier: LGPL-2.1-or-later
package VEvent::EventImpl::AnyEvent;

use strict;
use warnings;
use parent 'VEvent::EventImpl';

use AnyEvent ();
use Carp ();
use IO::Poll qw(POLLIN POLLOUT POLLERR POLLHUP POLLNVAL);
use Scalar::Util ();
use Time::HiRes ();

our $VERSION = '0.1.0';

use constant {
    READABLE => 1,
    WRITABLE => 2,
    ERROR    => 4,
    HANGUP   => 8,
};

sub new {
    my ($class, %args) = @_;
    return bless {
        %args,
        next_watch => 1,
        next_timer => 1,
        watches    => {},  # id => { id fd events cb opaque ff live dead }
        timers     => {},  # id => { id period deadline seq cb opaque ff live }
        fd_io      => {},  # fd => { r => AnyEvent io watcher, w => ... }
        frees      => [],  # [ff, opaque] of removals, run at the next pass
        seq        => 0,
        passes     => 0,
    }, $class;
}

sub _now { Time::HiRes::clock_gettime(Time::HiRes::CLOCK_MONOTONIC()) }

sub _weak_self {
    my ($self) = @_;
    Scalar::Util::weaken(my $weak = $self);
    return \$weak;
}

# ---- the six methods --------------------------------------------------

# VEvent passes C ints.  A direct call with anything else dies rather than
# letting Perl's numeric conversion turn "abc" into a period of 0 or
# 2**32+3 into a descriptor poll(2) reads as 3.
use constant { INT_MIN => -2**31, INT_MAX => 2**31 - 1 };

sub _int {
    my ($method, $name, $value) = @_;
    return $value + 0
        if defined $value && !ref $value && $value =~ /\A[-+]?[0-9]+\z/
        && $value >= INT_MIN && $value <= INT_MAX;
    Carp::croak(__PACKAGE__ . "::$method: \$$name must be an integer from "
        . INT_MIN . ' to ' . INT_MAX . ', not '
        . (defined $value ? "'$value'" : 'undef'));
}

sub add_handle {
    my ($self, $fd, $events, $cb, $opaque, $ff) = @_;
    $fd = _int('add_handle', 'fd', $fd);
    $events = _int('add_handle', 'events', $events);
    return -1 if $fd < 0;
    my @probe = ($fd, 0);
    IO::Poll::_poll(0, @probe);
    return -1 if $probe[1] & POLLNVAL;    # not an open descriptor
    my $id = $self->{next_watch}++;
    $self->{watches}{$id} = {
        id => $id, fd => $fd, events => $events,
        cb => $cb, opaque => $opaque, ff => $ff, live => 1,
    };
    $self->_sync_fd($fd);
    return $id;
}

sub update_handle {
    my ($self, $watch, $events) = @_;
    $watch = _int('update_handle', 'watch', $watch);
    $events = _int('update_handle', 'events', $events);
    my $w = $self->{watches}{$watch} or return;
    $w->{events} = $events;
    $self->_sync_fd($w->{fd});
    return;
}

sub remove_handle {
    my ($self, $watch) = @_;
    $watch = _int('remove_handle', 'watch', $watch);
    my $w = delete $self->{watches}{$watch} or return -1;
    $w->{live} = 0;
    push @{ $self->{frees} }, [ $w->{ff}, $w->{opaque} ];
    $self->_sync_fd($w->{fd});
    $self->_wake;
    return 0;
}

sub add_timeout {
    my ($self, $frequency, $cb, $opaque, $ff) = @_;
    $frequency = _int('add_timeout', 'frequency', $frequency);
    my $id = $self->{next_timer}++;
    $self->{timers}{$id} = {
        id => $id, cb => $cb, opaque => $opaque, ff => $ff, live => 1,
    };
    $self->_arm($self->{timers}{$id}, $frequency);
    $self->_sync_timer;
    return $id;
}

sub update_timeout {
    my ($self, $timer, $frequency) = @_;
    $timer = _int('update_timeout', 'timer', $timer);
    $frequency = _int('update_timeout', 'frequency', $frequency);
    my $t = $self->{timers}{$timer} or return;
    $self->_arm($t, $frequency);
    $self->_sync_timer;
    return;
}

sub remove_timeout {
    my ($self, $timer) = @_;
    $timer = _int('remove_timeout', 'timer', $timer);
    my $t = delete $self->{timers}{$timer} or return -1;
    $t->{live} = 0;
    push @{ $self->{frees} }, [ $t->{ff}, $t->{opaque} ];
    $self->_sync_timer;
    $self->_wake;
    return 0;
}

# ---- running ------------------------------------------------------------

sub run_once {
    my ($self) = @_;
    my $cv = AnyEvent->condvar;
    push @{ $self->{pass_waiters} }, $cv;
    $cv->recv;
    return 1;
}

# ---- internals ----------------------------------------------------------

sub _arm {
    my ($self, $t, $frequency) = @_;
    $t->{period} = $frequency;
    $t->{seq} = ++$self->{seq};
    $t->{deadline} = $t->{period} < 0 ? undef : _now() + $t->{period} / 1000;
    return;
}

# One pass of this implementation is scheduled with an AnyEvent timer, so
# that every watcher that fired in one round of AnyEvent's loop leads to one
# pass, where each registration is dispatched at most once.  A pass asked
# for during a pass (timers of period 0) waits half a millisecond: AnyEvent's
# pure-Perl loop runs timers that are due at its cached time in one go, so a
# zero delay would never let it return to its other watchers.
sub _wake {
    my ($self) = @_;
    return if $self->{pass_w};
    my $weak = $self->_weak_self;
    $self->{pass_w} = AnyEvent->timer(
        after => $self->{in_pass} ? 0.0005 : 0,
        cb    => sub { $$weak->_pass if $$weak });
    return;
}

# AnyEvent watchers follow the union of what the live watches on fd ask for.
sub _sync_fd {
    my ($self, $fd) = @_;
    my ($r, $w) = (0, 0);
    for my $x (values %{ $self->{watches} }) {
        next if $x->{fd} != $fd || $x->{dead};
        $r ||= $x->{events} & READABLE;
        $w ||= $x->{events} & WRITABLE;
    }
    my $io = $self->{fd_io}{$fd} ||= {};
    my $weak = $self->_weak_self;
    for my $dir ([ r => $r ], [ w => $w ]) {
        my ($poll, $want) = @$dir;
        if ($want && !$io->{$poll}) {
            $io->{$poll} = AnyEvent->io(fh => $fd, poll => $poll, cb => sub {
                $$weak->_wake if $$weak;
            });
        } elsif (!$want) {
            delete $io->{$poll};
        }
    }
    delete $self->{fd_io}{$fd} unless %$io;
    return;
}

# One AnyEvent timer for the earliest deadline; a pass right away for
# timers of period 0, and a check every second while watches exist (a
# descriptor closed while watched is found by poll() in a pass, since
# AnyEvent's own loops never report it).
sub _sync_timer {
    my ($self) = @_;
    my $next;
    for my $t (values %{ $self->{timers} }) {
        next unless defined $t->{deadline};
        $next = $t->{deadline} if !defined $next || $t->{deadline} < $next;
    }
    $next = _now() + 1
        if %{ $self->{watches} } && (!defined $next || $next > _now() + 1);
    if (!defined $next) {
        delete $self->{timer_w};
        delete $self->{timer_at};
        return;
    }
    return if defined $self->{timer_at} && $self->{timer_at} == $next;
    my $after = $next - _now();
    if ($after <= 0) {
        delete $self->{timer_w};
        delete $self->{timer_at};
        $self->_wake;
        return;
    }
    my $weak = $self->_weak_self;
    $self->{timer_at} = $next;
    $self->{timer_w} = AnyEvent->timer(after => $after, cb => sub {
        return unless $$weak;
        delete $$weak->{timer_w};
        delete $$weak->{timer_at};
        $$weak->_wake;
    });
    return;
}

sub _run_frees {
    my ($self) = @_;
    while (my $f = shift @{ $self->{frees} }) {
        my $ok = eval { $self->_free_callback_opaque(@$f); 1 };
        warn "VEvent::EventImpl::AnyEvent: free callback failed: $@" if !$ok;
    }
    return;
}

# Ready bits of every polled watch, from one poll(2) with no wait.
sub _ready_watches {
    my ($self) = @_;
    my (%mask, @ready);
    for my $w (values %{ $self->{watches} }) {
        next if !$w->{events} || $w->{dead};
        $mask{ $w->{fd} } |= ($w->{events} & READABLE ? POLLIN : 0)
            | ($w->{events} & WRITABLE ? POLLOUT : 0);
    }
    return () unless %mask;
    my @poll = map { ($_, $mask{$_}) } keys %mask;
    IO::Poll::_poll(0, @poll) > 0 or return ();
    my %revents = @poll;
    for my $w (sort { $a->{id} <=> $b->{id} } values %{ $self->{watches} }) {
        my $rev = $revents{ $w->{fd} } or next;
        next if !$w->{events} || $w->{dead};
        my $bits = ($rev & POLLIN ? READABLE : 0)
            | ($rev & POLLOUT ? WRITABLE : 0)
            | ($rev & (POLLERR | POLLNVAL) ? ERROR : 0)
            | ($rev & POLLHUP ? HANGUP : 0);
        push @ready, [ $w, $bits, $rev & POLLNVAL ] if $bits;
    }
    return @ready;
}

sub _dispatch {
    my ($self, $what, $code) = @_;
    my $ok = eval { $code->(); 1 };
    if (!$ok) {
        my $err = $@;
        $err .= "\n" unless $err =~ /\n\z/;
        VEvent::Event::_report("VEvent::EventImpl::AnyEvent: $what died: $err");
    }
    return;
}

# One iteration: free callbacks of earlier removals, due timers in
# deadline order, then ready watches in the order they were added, each
# re-checked just before its callback; then the free callbacks of removals
# made meanwhile.
sub _pass {
    my ($self) = @_;
    delete $self->{pass_w};
    local $self->{in_pass} = 1;
    $self->_run_frees;
    my $now = _now();
    my @due = sort { $a->{deadline} <=> $b->{deadline} || $a->{seq} <=> $b->{seq} }
        grep { defined $_->{deadline} && $_->{deadline} <= $now }
        values %{ $self->{timers} };
    my @ready = $self->_ready_watches;

    for my $t (@due) {
        next unless $t->{live} && defined $t->{deadline} && $t->{deadline} <= $now;
        $t->{deadline} = _now() + $t->{period} / 1000;    # from dispatch
        $t->{seq} = ++$self->{seq};
        $self->_dispatch("timer $t->{id}", sub {
            $self->_run_timeout_callback($t->{id}, $t->{cb}, $t->{opaque});
        });
    }
    for my $r (@ready) {
        my ($w, $bits, $closed) = @$r;
        next unless $w->{live} && $w->{events};
        $bits &= ($w->{events} & (READABLE | WRITABLE)) | ERROR | HANGUP;
        next unless $bits;
        if ($closed) {    # reported once, then silent until removed
            $w->{dead} = 1;
            $self->_sync_fd($w->{fd});
        }
        $self->_dispatch("watch $w->{id}", sub {
            $self->_run_handle_callback($w->{id}, $w->{fd}, $bits, $w->{cb},
                $w->{opaque});
        });
    }
    $self->_run_frees;
    $self->{passes}++;
    $self->_sync_timer;
    if (my $waiters = delete $self->{pass_waiters}) {
        $_->send for @$waiters;
    }
    return;
}

1;

__END__

=pod

=encoding utf8

=head1 NAME

VEvent::EventImpl::AnyEvent - the event loop contract on AnyEvent's loop

=head1 SYNOPSIS

    use AnyEvent;
    use VEvent::Event;
    use VEvent::EventImpl::AnyEvent;

    my $impl = VEvent::EventImpl::AnyEvent->new;
    VEvent::Event::register($impl);

    # Optional: the real libvirt (Sys::Virt) on AnyEvent's loop too.
    VEvent::register_libvirt();

    my $t = VEvent::Event::add_timeout(1000, sub { print "tick\n" });
    AnyEvent->condvar->recv;     # or any AnyEvent program's main loop

=head1 DESCRIPTION

A L<VEvent::EventImpl> for programs that already run L<AnyEvent>: every
watch and timer that L<VEvent::Event> (and, after
L<VEvent/register_libvirt>, libvirt) registers becomes an AnyEvent watcher
in the program's own loop, whatever AnyEvent model it uses (its pure-Perl
loop, EV, ...).

It keeps vevent's rules: ids start at 1, grow by one and are never reused;
watches are level-triggered and each callback runs at most once per
iteration with all its ready bits ORed (found with one C<poll(2)> per
iteration); a watch gets the bits it asked for plus C<HANDLE_ERROR> and
C<HANDLE_HANGUP>; timers fire in deadline order, are re-armed from the time
they fire, never early, and a period of 0 fires once per iteration; an
update restarts the countdown; a registration removed or disabled before its
turn does not fire; one added during an iteration fires no earlier than the
next; free callbacks run in the iteration after the removal, never inside
the remove call or a callback.

An iteration ("pass") runs as one AnyEvent timer callback, scheduled
whenever one of its AnyEvent watchers fires.

=head1 METHODS

=over 4

=item my $impl = VEvent::EventImpl::AnyEvent->new

A new implementation, to be passed to L<VEvent::Event/register>.

=item $impl->run_once

Runs AnyEvent's loop until this implementation has completed one iteration,
the counterpart of L<VEvent::Event/run_default>. It blocks while nothing is
due. Uses a condition variable, so it works with every AnyEvent model that
lets C<recv> block; not from inside a callback.

=item add_handle, update_handle, remove_handle, add_timeout, update_timeout, remove_timeout

The six methods of L<VEvent::EventImpl>. C<add_handle> returns C<-1> for a
descriptor that is negative or not open. VEvent calls them with C C<int>s;
a direct call with an argument that is not an integer of that range
(C<-2147483648> to C<2147483647>: C<1.5>, C<"abc">, C<undef>, C<2**32+3>)
dies saying which argument, instead of having Perl convert it to another
number.

=back

=head1 DIFFERENCES FROM VEVENT'S OWN LOOP

=over 4

=item *

AnyEvent cannot wait for a hangup or an error alone: a watch that asks only
for C<HANDLE_ERROR>/C<HANDLE_HANGUP> is polled at each iteration but does
not wake the loop by itself.

=item *

A descriptor closed while watched gets C<HANDLE_ERROR> once at the next
iteration, then stays silent until removed. Until then AnyEvent's
pure-Perl loop sees C<select()> fail on it; an iteration runs at least
every second while watches exist, to find it.

=item *

The other descriptor hazards that vevent's loop handles (a number reused by
a new file, a C<dup> keeping the file open) are left to AnyEvent's model.

=back

=head1 INTERNAL METHODS

Not for programs; listed so that every function is described.

=over 4

=item _pass

One iteration: the free callbacks of earlier removals, the due timers in
deadline order (each re-armed from the time it is dispatched), then the
ready watches in the order they were added, each re-checked just before its
callback, then the free callbacks of the removals made meanwhile; then it
re-arms the AnyEvent watchers and wakes C<run_once>.

=item _wake

Schedules a pass (an AnyEvent timer; half a millisecond later when asked
from inside a pass, so that AnyEvent's pure-Perl loop, which runs every
timer due at its cached time in one go, gets back to its other watchers).

=item _sync_fd($fd), _sync_timer

Make the AnyEvent I/O watchers of C<$fd>, and the one AnyEvent timer, follow
the registrations.

=item _int($method, $name, $value)

C<$value> as a number if it is an integer that fits a C C<int>; otherwise it
dies naming the method and the argument.

=item _ready_watches, _arm($timer, $frequency), _run_frees, _dispatch($what, $code), _now, _weak_self

The ready bits of every polled watch (one C<poll(2)>); setting a timer's
period and deadline; running pending free callbacks; running one callback
inside an C<eval> that reports a die; the monotonic clock; a weak
reference to the object for the AnyEvent callbacks.

=back

=head1 SEE ALSO

L<VEvent::EventImpl>, L<VEvent::Event>, L<AnyEvent>.

=cut
