# SPDX-License-Identifier: LGPL-2.1-or-later
package VEvent::EventImpl;

use strict;
use warnings;
use Carp ();

use VEvent ();

our $VERSION = '0.1.0';

sub new {
    my ($class, %args) = @_;
    return bless {%args}, $class;
}

for my $method (qw(add_handle update_handle remove_handle
                   add_timeout update_timeout remove_timeout)) {
    no strict 'refs';
    *{$method} = sub {
        my $self = shift;
        Carp::croak(ref($self) . " does not implement $method, which every "
            . 'subclass of VEvent::EventImpl must');
    };
}

sub _run_handle_callback {
    my $self = shift;
    return VEvent::Event::_run_handle_callback_helper(@_);
}

sub _run_timeout_callback {
    my $self = shift;
    return VEvent::Event::_run_timeout_callback_helper(@_);
}

sub _free_callback_opaque {
    my $self = shift;
    return VEvent::Event::_free_callback_opaque_helper(@_);
}

1;

__END__

=pod

=encoding utf8

=head1 NAME

VEvent::EventImpl - base class of event loop implementations written in Perl

=head1 SYNOPSIS

    package My::Loop;
    use parent 'VEvent::EventImpl';

    sub add_handle {
        my ($self, $fd, $events, $cb, $opaque, $ff) = @_;
        my $watch = ++$self->{next_watch};
        $self->{watches}{$watch} = [$fd, $events, $cb, $opaque, $ff];
        return $watch;
    }
    # ... update_handle, remove_handle, add_timeout, update_timeout,
    # remove_timeout; when a watch is ready:
    #   $self->_run_handle_callback($watch, $fd, $ready, $cb, $opaque);
    # and after a removal, outside the remove call and outside callbacks:
    #   $self->_free_callback_opaque($ff, $opaque);

    package main;
    VEvent::Event::register(My::Loop->new);

=head1 DESCRIPTION

The contract between libvirt-style code and an event loop, for a loop
written in Perl: the six functions of libvirt's C<virEventRegisterImpl> as
methods. Register an instance with L<VEvent::Event/register>; from then on
every call made through vevent-compat on the Perl thread (by
L<VEvent::Event>'s functions, by C code in the process, and by the real
libvirt after L<VEvent/register_libvirt>) reaches these methods.

L<VEvent::EventImpl::AnyEvent> is a complete example on AnyEvent's loop.

=head1 CONSTRUCTOR

=over 4

=item my $impl = Class->new(%args)

A hash-based object holding C<%args>. Subclasses may override it.

=back

=head1 METHODS TO IMPLEMENT

Every method is called inside an C<eval>: a method that dies is reported
with C<warn>, and the call fails (C<-1> for the add and remove methods).
The base class's versions die saying which method is missing.

C<$cb>, C<$opaque> and C<$ff> are opaque tokens standing for the C callback,
its data and its free callback. Keep them as they are and pass them back to
the helper methods; they are only valid for the registration they came
with.

=over 4

=item $impl->add_handle($fd, $events, $cb, $opaque, $ff)

Watch descriptor C<$fd> for C<$events> (a mask of
L<VEvent::Event/CONSTANTS>; C<HANDLE_ERROR> and C<HANDLE_HANGUP> are to be
reported even if not asked for; C<0> means registered but not polled).
Return the new watch id, a positive integer (at most 2147483647, as the id
is a C C<int>), or C<-1> on failure (then never call C<$ff>). Anything else
(C<0>, C<1.5>, a larger number, a string, C<undef>) makes the add fail, with
a message naming the method and what it returned: an id is never truncated
into another one.

=item $impl->update_handle($watch, $events)

Change the events of watch C<$watch>; ignore unknown ids.

=item $impl->remove_handle($watch)

Stop watch C<$watch> at once (its callback must not run again), and arrange
for C<_free_callback_opaque($ff, $opaque)> to be called later: not inside
this call and not from inside another callback, at the latest in the next
iteration of the loop. Return C<0>, or C<-1> for an unknown id (a result
that is not an integer also counts as a failure).

=item $impl->add_timeout($frequency, $cb, $opaque, $ff)

A timer firing every C<$frequency> milliseconds (C<0>: on every iteration of
the loop; negative: disabled). Return the new timer id (positive) or C<-1>.

=item $impl->update_timeout($timer, $frequency)

Change the period of C<$timer> and restart its countdown; ignore unknown
ids.

=item $impl->remove_timeout($timer)

As C<remove_handle>, for a timer.

=back

=head1 HELPER METHODS

=over 4

=item $impl->_run_handle_callback($watch, $fd, $events, $cb, $opaque)

Runs the callback of watch C<$watch>, with the mask C<$events> of the
events that are ready on C<$fd>. The callback may call any of the methods
above, including removing its own watch.

=item $impl->_run_timeout_callback($timer, $cb, $opaque)

Runs the callback of timer C<$timer>.

=item $impl->_free_callback_opaque($ff, $opaque)

Runs the free callback of a removed registration. Call it exactly once per
successful add; a second call is ignored with a warning. A registration
whose tokens are all dropped without this call leaks its C data, which is
reported on stderr.

=back

The helpers die if C<$watch> or C<$timer> is not an integer from 1 to
2147483647, or C<$fd> or C<$events> not an integer that fits a C C<int>
(they go to C as they are, never truncated; see L<VEvent::Event/NUMBERS>),
if the tokens are not ones VEvent handed to this
implementation, if C<$cb> and C<$opaque> come from different registrations,
or if the registration was already freed: a mistake in a Perl
implementation cannot make C call a stale pointer.

=head1 THREADS

The methods are called on the Perl thread only. A call that C code makes
through vevent-compat on another thread fails (C<-1>, a message on stderr)
without entering Perl.

=head1 SEE ALSO

L<VEvent::Event>, L<VEvent::EventImpl::AnyEvent>, L<Sys::Virt::Event>.

=cut
