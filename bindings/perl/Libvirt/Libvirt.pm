# SPDX-License-Identifier: LGPL-2.1-or-later
package VEvent::Libvirt;

use strict;
use warnings;
use Carp ();

use VEvent ();

our $VERSION = '0.1.0';

require XSLoader;
XSLoader::load('VEvent::Libvirt', $VERSION);

sub register {
    my $mode = VEvent::Event::_mode();
    if ($mode eq 'none') {
        VEvent::Event::register_default();
        $mode = 'default';
    }
    if ($mode eq 'default') {
        return _register_loop();
    }
    if ($mode eq 'perl') {
        return _register_table();
    }
    Carp::croak('VEvent::register_libvirt: C code in this process '
        . 'registered its own event loop implementation with vevent-compat; '
        . 'only vevent\'s default loop or a Perl implementation can be '
        . 'handed to libvirt');
}

sub loop_address { return _libvirt_loop_address() }

1;

__END__

=pod

=encoding utf8

=head1 NAME

VEvent::Libvirt - hand VEvent's event loop to the real libvirt

=head1 SYNOPSIS

    use Sys::Virt;
    use VEvent;

    VEvent::register_libvirt();    # loads this module

=head1 DESCRIPTION

The XS library behind L<VEvent/register_libvirt>. It is separate from
L<VEvent>'s own because the two link different providers of the same C
functions: L<VEvent> links vevent-compat, which defines libvirt's
C<virEvent*> API on vevent, while this module links the C<vevent-libvirt>
bridge, hence the real libvirt (which defines C<virEvent*> too) and the
native vevent library, and never vevent-compat. Both libraries version
their symbols, so each module's references bind to the library it was
linked with whatever the load order; keeping them in separate modules means
neither ever needs both, and a program that never calls C<register_libvirt>
does not load libvirt through VEvent at all.

What the two modules share, they pass as addresses: vevent's default loop
(C<vev_compat_default_loop()>), which this module hands to
C<vev_libvirt_register()>; or, when a Perl implementation is registered,
the six C functions that call its methods, which this module registers with
libvirt's C<virEventRegisterImpl()>. The native vevent library
(C<libvevent.so.0>) is loaded once and shared by both.

=head1 FUNCTIONS

=over 4

=item VEvent::Libvirt::register()

What L<VEvent/register_libvirt> does (see there); call that instead.

=item VEvent::Libvirt::loop_address()

The address of the vevent loop registered with libvirt through the bridge
(C<vev_libvirt_loop()>), or 0. The tests compare it with the default loop's.

=item _register_loop(), _register_table(), _libvirt_loop_address(), _table_registered()

The XS functions behind C<register> and C<loop_address>; whether a Perl
implementation's functions were registered with libvirt. The first two take
no arguments: they ask L<VEvent::Event> for the default loop's address
(C<_default_loop_address>) or the six functions' addresses
(C<_trampoline_addresses>) themselves, so that no number a caller passes
can become a pointer that C uses.

=back

=head1 SEE ALSO

L<VEvent>, C<man vev_libvirt_register>.

=cut
