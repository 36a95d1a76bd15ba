# SPDX-License-Identifier: LGPL-2.1-or-later
package VEvent;

use strict;
use warnings;
use Carp ();

our $VERSION = '0.1.0';

require XSLoader;
XSLoader::load('VEvent', $VERSION);
require VEvent::Event;

sub register_libvirt {
    my $loaded = eval { require VEvent::Libvirt; 1 };
    if (!$loaded) {
        my $why = $@;
        Carp::croak("VEvent::register_libvirt: VEvent::Libvirt cannot be "
            . "loaded (VEvent is built with it only when pkg-config finds "
            . "vevent-libvirt): $why");
    }
    return VEvent::Libvirt::register();
}

sub guard {
    my ($code) = @_;
    Carp::croak('VEvent::guard: the argument must be a code reference')
        unless ref($code) eq 'CODE';
    return sub {
        my @ret;
        my $ok = eval { @ret = $code->(@_); 1 };
        if (!$ok) {
            my $err = $@;
            $err .= "\n" unless $err =~ /\n\z/;
            VEvent::Event::_report("VEvent: guarded callback died: $err");
        }
        return wantarray ? @ret : $ret[0];
    };
}

# No C callback may run while Perl destroys its objects.
END {
    stop_thread() if thread_running();
}

1;

__END__

=pod

=encoding utf8

=head1 NAME

VEvent - libvirt's event loop contract (Sys::Virt::Event) on vevent

=head1 SYNOPSIS

    use VEvent;
    use VEvent::Event;

    VEvent::Event::register_default();
    my $timer = VEvent::Event::add_timeout(1000, sub {
        my ($timer) = @_;
        print "tick\n";
    });
    VEvent::Event::run_default() while 1;

    # A program that uses the real Sys::Virt:
    use Sys::Virt;
    VEvent::register_libvirt();          # before connecting
    my $conn = Sys::Virt->new(uri => 'test:///default');
    $conn->domain_event_register_any(undef,
        Sys::Virt::Domain::EVENT_ID_LIFECYCLE,
        VEvent::guard(sub { my ($conn, $dom, $event, $detail) = @_; ... }));
    VEvent::Event::run_default() while 1;

=head1 DESCRIPTION

VEvent gives Perl the event loop contract that L<Sys::Virt::Event> defines
for libvirt, implemented by vevent, a C library that provides libvirt's
C<virEvent*> API (C<vevent-compat>) on its own event loop.

=over 4

=item L<VEvent::Event>

the contract itself: C<register_default>, C<run_default>, C<register>,
C<add_handle>, C<update_handle>, C<remove_handle>, C<add_timeout>,
C<update_timeout>, C<remove_timeout> and the C<HANDLE_*> constants;

=item L<VEvent::EventImpl>

the base class of event loop implementations written in Perl;

=item L<VEvent::EventImpl::AnyEvent>

a ready-made implementation on L<AnyEvent>'s loop;

=item L<VEvent::Libvirt>

the module behind C<register_libvirt>, which hands the loop to the real
libvirt that L<Sys::Virt> uses.

=back

This module loads the XS library and holds the functions that are not part
of the Sys::Virt::Event contract.

=head1 FUNCTIONS

=over 4

=item VEvent::register_libvirt()

Hands the event loop that L<VEvent::Event> uses to the real libvirt of this
process (the one L<Sys::Virt> calls), so that libvirt's connections,
keepalive and domain events run on it. Call it before opening connections.

=over 4

=item *

If nothing is registered yet, it first calls
C<VEvent::Event::register_default()>, then gives vevent's default loop to
libvirt through the C<vevent-libvirt> bridge library
(C<vev_libvirt_register>). libvirt's sources and the ones Perl adds with
C<VEvent::Event::add_handle>/C<add_timeout> then share one loop, run by
C<VEvent::Event::run_default()> or by the background thread
(C<start_thread>).

=item *

If a Perl implementation was registered with C<VEvent::Event::register>,
libvirt is given that implementation: its six calls reach the Perl object's
methods, and libvirt's callbacks come back through
C<_run_handle_callback>/C<_run_timeout_callback>. The Perl implementation
then runs libvirt on its own loop (for example AnyEvent's).

=back

Returns true; a second call does nothing. Dies with the reason when libvirt
already has an event loop implementation (C<Sys::Virt::Event::register_default>
or C<Sys::Virt::Event::register> was called: libvirt keeps the first one for
the life of the process), when C code registered another implementation with
vevent-compat, or when VEvent was built without the bridge (pkg-config did
not find C<vevent-libvirt>).

=item VEvent::start_thread()

Starts vevent's background thread, which runs the default loop (registering
vevent's default implementation first if nothing is registered) until
C<stop_thread>. It exists for C callbacks: libvirt's own work (connection
I/O, keepalive) then goes on while Perl code is busy or blocked. Perl code
never runs on that thread, so:

=over 4

=item *

it dies if Perl subs are registered through C<VEvent::Event::add_handle> or
C<add_timeout> (after running the free callbacks still pending), and while it
runs those two functions and C<run_default> die;

=item *

it dies if a Perl implementation is registered;

=item *

a program that registers L<Sys::Virt> callbacks (domain events, close
callbacks, stream callbacks) must not use it: Sys::Virt calls those Perl subs
directly from the thread that runs the loop. Use C<run_default> instead.

=back

Returns true.

=item VEvent::stop_thread()

Stops the background thread (it finishes the iteration in progress), then
runs the free callbacks still pending on the calling thread. Returns true,
or false if the thread was not running. It also runs by itself at program
end (an C<END> block), so that no C callback runs while Perl destroys its
objects.

=item VEvent::thread_running()

True while the background thread runs.

=item VEvent::loop_stats()

A hash reference describing vevent's default loop: C<iterations>,
C<handle_calls>, C<timer_calls>, C<free_calls>, C<wakeups> (counters since
the loop was created), C<handles>, C<timers>, C<pending_frees> (now),
C<memory> (bytes the loop holds) and C<backend> (C<epoll> or C<poll>, from
C<$ENV{VEVENT_BACKEND}> when the loop was created). Dies if the default
implementation is not registered.

=item VEvent::version()

The version of the vevent library loaded (for example C<0.1.0>);
C<$VEvent::VERSION> is the version of this module.

=item my $safe = VEvent::guard($coderef)

Returns a sub that calls C<$coderef> with its arguments inside an C<eval>
and, if it dies, warns with the message instead. Subs registered through
L<VEvent::Event> are always called that way; wrap the subs you give
L<Sys::Virt> (C<domain_event_register_any>, C<register_close_callback>,
...) with it, because Sys::Virt calls them without an C<eval>: a die there
would unwind through libvirt and the event loop, leaving both in the middle
of a dispatch.

=back

=head1 THREADS

Perl code runs only on the thread that loaded VEvent. Callbacks of Perl subs
run inside C<VEvent::Event::run_default()> (or, with a Perl implementation,
inside that implementation's loop), on the calling thread. vevent-compat
itself may be called from any thread by C code; when a Perl implementation
is registered, calls made on another thread fail (C<-1>, with a message on
stderr) instead of entering the interpreter. A Perl sub's callback that
becomes due on another thread (C code running the default loop there) is
disabled, with a message on stderr, and its free callback is deferred to
the Perl thread.

=head1 LINKING: vevent-compat AND THE REAL libvirt IN ONE PROCESS

Both vevent-compat and libvirt define C<virEventRegisterImpl>,
C<virEventAddHandle> and the rest. VEvent keeps them apart:

=over 4

=item *

the C<VEvent> XS library links vevent-compat (and the native vevent
library) and never libvirt; the C<VEvent::Libvirt> XS library links the
bridge, libvirt and the native vevent library, never vevent-compat, and is
loaded only by C<register_libvirt>. The two exchange the loop (or the six
functions of a Perl implementation) as addresses.

=item *

both libraries version their symbols (C<VEVENT_COMPAT_0>,
C<LIBVIRT_0.5.0>, ...), and each XS library records the versions it needs
when it is linked, so the dynamic linker binds each reference to the
library it was linked with, whatever the load order and even if one is
loaded C<RTLD_GLOBAL> (the tests load L<Sys::Virt> before and after VEvent,
both ways with C<RTLD_GLOBAL>, and check which library answers).

=item *

Perl loads XS libraries C<RTLD_LOCAL> by default, so neither library's
symbols become visible to the other's lookups in the first place.

=back

=head1 SEE ALSO

L<VEvent::Event>, L<VEvent::EventImpl>, L<VEvent::EventImpl::AnyEvent>,
L<VEvent::Libvirt>, L<Sys::Virt::Event>, C<man vevent>,
C<man vev_libvirt_register>.

=head1 LICENSE

LGPL-2.1-or-later, like libvirt and vevent.

=cut
