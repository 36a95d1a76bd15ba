# SPDX-License-Identifier: LGPL-2.1-or-later
package VEvent::Event;

use strict;
use warnings;
use Carp ();
use Scalar::Util ();

use VEvent ();

our $VERSION = '0.1.0';

my $deprecation_warned;

sub _describe {
    my ($thing) = @_;
    return 'undef' unless defined $thing;
    my $class = Scalar::Util::blessed($thing);
    return "an object of class $class" if defined $class;
    return 'a ' . ref($thing) . ' reference' if ref $thing;
    return "the string '$thing'";
}

sub register {
    my ($impl) = @_;
    my $ok = Scalar::Util::blessed($impl) && $impl->isa('VEvent::EventImpl');
    if (!$ok && Scalar::Util::blessed($impl) && $impl->isa('VEvent::Event')) {
        Carp::carp('VEvent::Event::register: an implementation that '
            . 'subclasses VEvent::Event (' . ref($impl) . ') is deprecated; '
            . 'subclass VEvent::EventImpl instead')
            unless $deprecation_warned++;
        $ok = 1;
    }
    Carp::croak('VEvent::Event::register: the implementation must be an '
        . 'instance of a subclass of VEvent::EventImpl, not '
        . _describe($impl))
        unless $ok;
    return _register_impl($impl);
}

# Helper methods, for implementations that still subclass VEvent::Event.
sub _run_handle_callback {
    my $self = shift;
    return _run_handle_callback_helper(@_);
}

sub _run_timeout_callback {
    my $self = shift;
    return _run_timeout_callback_helper(@_);
}

sub _free_callback_opaque {
    my $self = shift;
    return _free_callback_opaque_helper(@_);
}

# How callbacks report a die (called by the XS code inside an eval).
sub _report {
    my ($msg) = @_;
    warn $msg;
}

1;

__END__

=pod

=encoding utf8

=head1 NAME

VEvent::Event - the Sys::Virt::Event contract on vevent

=head1 SYNOPSIS

    use VEvent::Event;

    VEvent::Event::register_default();

    pipe(my $r, my $w) or die;
    my $watch = VEvent::Event::add_handle(fileno($r),
        VEvent::Event::HANDLE_READABLE, sub {
            my ($watch, $fd, $events) = @_;
            sysread($r, my $buf, 4096);
            VEvent::Event::remove_handle($watch) if !length $buf;
        });
    my $timer = VEvent::Event::add_timeout(500, sub {
        my ($timer) = @_;
        syswrite($w, "ping\n");
    });

    VEvent::Event::run_default() while 1;

=head1 DESCRIPTION

The functions of L<Sys::Virt::Event>, with the same names, arguments and
meaning, served by vevent: its own default loop, or an event loop
implementation written in Perl. They go through C<vevent-compat>, vevent's
copy of libvirt's C<virEvent*> API, so C code in the same process that uses
vevent-compat shares the registration: it is served by whichever
implementation Perl registered, and Perl is served by one that C code
registered.

vevent's loop follows libvirt's rules, with the fixes listed in
C<man virEventAddHandle>: ids start at 1, grow by one and are never reused
(watches and timers have separate ids); events are level-triggered (a
callback runs once per iteration while its condition holds, with all its
pending bits); a watch gets only the bits it asked for, plus C<HANDLE_ERROR>
and C<HANDLE_HANGUP>, which are always reported; free callbacks run on the
loop thread, never inside the remove call, at the latest in the iteration
after the removal.

=head1 REGISTERING AN IMPLEMENTATION

One implementation serves the process for its whole life: the first
registration wins and later ones die.

=over 4

=item VEvent::Event::register_default()

Registers vevent's default implementation (its own loop; the backend comes
from C<$ENV{VEVENT_BACKEND}>, C<epoll> or C<poll>, else the best available).
Returns true, also if it was already registered. Dies with the reason if
another implementation is registered.

=item VEvent::Event::run_default()

Runs one iteration of the default implementation: waits until a watch is
ready, a timer is due or another thread changes the loop, then runs every
callback that is due once, then the free callbacks of the registrations
removed meanwhile. It blocks for as long as nothing is due (forever if
nothing is registered). Returns true. Dies if the default implementation is
not registered (for example because a Perl implementation is), if the
background thread runs the loop (L<VEvent/start_thread>), or if called from
one of the loop's callbacks.

=item VEvent::Event::register($impl)

Registers an event loop implementation written in Perl. C<$impl> must be an
instance of a subclass of L<VEvent::EventImpl>, which documents the methods
it implements and the helper methods it calls back. Anything else dies with
a message saying what was passed. For backward compatibility an instance of
a subclass of C<VEvent::Event> itself (as with Sys::Virt::Event) is still
accepted, with a deprecation warning the first time.

After registration every C<virEvent*> call made through vevent-compat in
this process, by Perl through the functions below or by C code, reaches
C<$impl>'s methods, provided it is made on the Perl thread (see
L<VEvent/THREADS>). Returns true. Dies if an implementation is already
registered (this one, vevent's default one or one that C code registered).

=back

=head1 WATCHES AND TIMERS

Callbacks are called inside an C<eval>: a callback that dies is reported
with C<warn> (C<VEvent: callback of watch 3 died: ...>) and the loop goes
on; the registration stays. The die never unwinds through the C loop. C<$@>
is the same after a callback as before it. (C<exit> inside a callback ends
the program at once, as anywhere in Perl; the loop is then not usable from
C<END> blocks.)

The loop holds a reference to each callback from the add until its free
callback runs, and drops it then: a closure, and everything it captured, is
released exactly when the loop says it is done with it (the iteration after
the removal), never inside the remove call.

=over 4

=item my $watch = VEvent::Event::add_handle($fd, $events, $coderef)

Watches file descriptor C<$fd> (a number, or a Perl file handle whose
descriptor is used; keep the handle open while it is watched) for
C<$events>, a mask of the C<HANDLE_*> constants (other bits are ignored).
C<0> registers the watch without polling it. When an event is ready,
C<$coderef> is called with the watch id, the descriptor and the mask of
ready events. Returns the watch id. Dies (with vevent's reason) if C<$fd>
is not an open descriptor, C<$coderef> is not a code reference, a number is
not an integer in its range (see L</NUMBERS>), nothing is registered, or
the implementation refuses.

=item VEvent::Event::update_handle($watch, $events)

Changes the events watch C<$watch> asks for. An unknown id is ignored, as in
libvirt; a value that is no C C<int> (see L</NUMBERS>) dies.

=item VEvent::Event::remove_handle($watch)

Removes watch C<$watch>: its callback does not run again. Returns true. Dies
if there is no such watch (never added, or already removed) or if
C<$watch> cannot be an id.

=item my $timer = VEvent::Event::add_timeout($frequency, $coderef)

Adds a timer that calls C<$coderef> with the timer id every C<$frequency>
milliseconds (on the monotonic clock, counted from when it last fired, never
early), at most 2147483647 (about 24.8 days). C<0> fires on every
iteration (and keeps iterations from blocking); C<-1> (any negative value
down to -2147483648) registers it disabled. Returns the timer id. Dies as
C<add_handle> does.

=item VEvent::Event::update_timeout($timer, $frequency)

Changes the period of timer C<$timer> (same values as C<add_timeout>) and
restarts its countdown. An unknown id is ignored; a value that is no C
C<int>, or a period out of range, dies.

=item VEvent::Event::remove_timeout($timer)

Removes timer C<$timer>. Returns true. Dies if there is no such timer or if
C<$timer> cannot be an id.

=back

=head1 NUMBERS

Every number these functions take reaches C as an C<int>. Each one is
checked first: if it is not an integer in the range of its argument, the
call dies and changes nothing. (Perl's own conversion, which
L<Sys::Virt::Event> uses, would turn C<2**32+1> into C<1>, so that
C<remove_timeout(2**32+1)> removed timer 1; C<2**32+20> into a 20 ms
period; C<1.5> into C<1>; C<"abc"> and C<undef> into C<0>.) The message
names the function, the argument, the range and what was passed:

    VEvent::Event::remove_timeout: $timer must be an integer from 1 to
    2147483647, not 4294967297

An integer is a number without a fractional part (C<3>, C<3.0>, C<1e3>) or
a string that reads as one (C<"3">, C<"3\n">, C<"1e3">). C<1.5>, C<"abc">,
C<"3abc">, C<"0x10">, C<"">, C<undef>, C<NaN>, C<Inf> and references
(including objects that overload numeric conversion) are refused.

=over 4

=item C<$watch>, C<$timer>: 1 to 2147483647 for the remove functions, any C C<int> for the update ones

An id that is not registered follows the contract: the update functions
ignore it, as libvirt does (C<0> and negative numbers included, since no
watch or timer has them), and the remove functions die (C<0> and negative
numbers die with the range message).

=item C<$fd>: 0 to 2147483647, or a file handle

A negative descriptor dies here, whatever implementation is registered.

=item C<$events>: -2147483648 to 2147483647

Any C C<int>: the bits other than the four C<HANDLE_*> ones are ignored, as
in libvirt (a negative mask is an C<int> with its high bits set).

=item C<$frequency>: -2147483648 to 2147483647

Milliseconds; C<0> means every iteration and every negative value means
disabled, as in libvirt. A period beyond C<2147483647> ms dies rather than
wrapping around to a short one.

=back

A program that passes valid numbers behaves as with L<Sys::Virt::Event>.

The helper methods check their numbers the same way (C<$watch>, C<$timer>:
1 to 2147483647; C<$fd>, C<$events>: any C C<int>), and so does VEvent with
what a Perl implementation returns (see L<VEvent::EventImpl>).

=head1 CONSTANTS

The event bits, with libvirt's values:

=over 4

=item VEvent::Event::HANDLE_READABLE (1)

The descriptor can be read without blocking.

=item VEvent::Event::HANDLE_WRITABLE (2)

The descriptor can be written without blocking.

=item VEvent::Event::HANDLE_ERROR (4)

An error occurred on the descriptor (also: it was closed while watched).
Always reported, whether asked for or not.

=item VEvent::Event::HANDLE_HANGUP (8)

The other end closed. Always reported, whether asked for or not.

=back

=head1 HELPER METHODS

=over 4

=item $impl->_run_handle_callback($watch, $fd, $events, $cb, $opaque)

=item $impl->_run_timeout_callback($timer, $cb, $opaque)

=item $impl->_free_callback_opaque($ff, $opaque)

The helpers an implementation calls back; see L<VEvent::EventImpl>. They are
also methods of this package, for implementations that still subclass
C<VEvent::Event>.

=back

=head1 INTERNAL FUNCTIONS

Not for programs; listed so that every function is described.

=over 4

=item _register_impl($impl)

Registers the six C functions that call C<$impl>'s methods with
vevent-compat; C<register> checks C<$impl> first.

=item _run_handle_callback_helper, _run_timeout_callback_helper, _free_callback_opaque_helper

The XS behind the helper methods. Each checks that its arguments are the
tokens VEvent handed to the implementation, from the same registration, and
that the registration was not freed: a Perl implementation can never make C
call a stale or forged pointer.

=item _report($message)

Warns with C<$message>; callbacks report a die through it.

=item _describe($thing)

Describes a value for an error message.

=item _mode()

C<none>, C<default>, C<perl> or C<foreign> (C code registered an
implementation with vevent-compat): what serves the process.

=item _default_loop_address(), _trampoline_addresses(), _subs_held(), _report_fallback($message)

What L<VEvent::Libvirt> and the tests need: the default loop's address, the
six C functions that call the Perl implementation, the number of Perl subs
the loop holds, and a warning that bypasses Perl's C<warn>.

=item VEvent::Event::_CClient::*

C<add_handle>, C<add_timeout>, C<update_handle>, C<update_timeout>,
C<remove_handle>, C<remove_timeout> and C<counts>: C code calling
vevent-compat with C callbacks that count their calls and free callbacks, as
any C library in the process would; C<run_once_on_a_c_thread> runs one
iteration of the default loop on a new C thread and returns its result. The
tests use them to check that C code is served by a Perl implementation, and
what happens to Perl callbacks due on a thread that is not Perl's.

=back

=head1 SEE ALSO

L<VEvent>, L<VEvent::EventImpl>, L<VEvent::EventImpl::AnyEvent>,
L<Sys::Virt::Event>.

=cut
