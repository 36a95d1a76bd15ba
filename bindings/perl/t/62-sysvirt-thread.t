# SPDX-License-Identifier: LGPL-2.1-or-later
# Sys::Virt against a private libvirtd whose keepalive closes idle clients
# within seconds (bridge/tests/with-libvirtd -k 1,2): the connection stays
# alive while Perl sleeps, because vevent's background thread answers the
# daemon's keepalive requests.  No Sys::Virt callback is registered: those
# would run Perl code on the background thread.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use VEventTest qw(watchdog);
use Sys::Virt;
use VEvent;

my $uri = $ENV{VEVENT_TEST_LIBVIRTD_URI}
    or plan skip_all => 'needs a private libvirtd (run under bridge/tests/with-libvirtd)';
watchdog(90);

ok(VEvent::register_libvirt(), 'register_libvirt');
ok(VEvent::start_thread(), 'start vevent\'s background thread');
my $conn = Sys::Virt->new(uri => $uri);
ok($conn, "connected to $uri");
$conn->set_keep_alive(1, 3);
my $before = VEvent::loop_stats();
cmp_ok($before->{handles}, '>=', 1, 'the connection\'s socket is watched by vevent');
sleep 5;    # the daemon gives up on a silent client after about 3 s
my $after = VEvent::loop_stats();
ok($conn->is_alive, 'still alive after 5 s of Perl sleeping');
ok(eval { $conn->num_of_domains; 1 }, 'and usable') or diag $@;
cmp_ok($after->{handle_calls} - $before->{handle_calls}, '>', 0,
    'the background thread handled the connection meanwhile');
undef $conn;
ok(VEvent::stop_thread(), 'stop the thread');

# The control: the same without the thread, in a fresh process.
open(my $fh, '-|', $^X, '-Mblib', '-e', q{
    use Sys::Virt; use VEvent;
    $SIG{PIPE} = 'IGNORE';    # as libvirt clients do: the socket is closed
    VEvent::register_libvirt();
    my $c = Sys::Virt->new(uri => $ENV{VEVENT_TEST_LIBVIRTD_URI});
    $c->set_keep_alive(1, 3);
    sleep 5;
    print eval { $c->num_of_domains; 1 } ? "usable\n" : "closed\n";
}) or die "fork: $!";
my $control = do { local $/; <$fh> };
close $fh;
is($control, "closed\n", 'control: with nothing running the loop, the daemon closes the connection');

done_testing;
