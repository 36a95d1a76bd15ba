# SPDX-License-Identifier: LGPL-2.1-or-later
# vevent's background thread runs C callbacks only: Perl callbacks refuse
# it, and a Perl callback due on a C thread is disabled, never run there;
# its free callback is deferred to the Perl thread.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use VEventTest qw(watchdog);
use VEvent;

watchdog(60);
my $c = 'VEvent::Event::_CClient';

ok(!VEvent::thread_running(), 'not running at start');
ok(!VEvent::stop_thread(), 'stop_thread without a thread: false');
ok(VEvent::start_thread(), 'start_thread registers the default implementation and starts');
is(VEvent::Event::_mode(), 'default', 'the default implementation serves');
ok(VEvent::thread_running(), 'running');
ok(!eval { VEvent::start_thread(); 1 }, 'a second start dies');

for my $case (
    [ sub { VEvent::Event::add_timeout(0, sub {}) }, 'add_timeout' ],
    [ sub { VEvent::Event::add_handle(0, 1, sub {}) }, 'add_handle' ],
    [ sub { VEvent::Event::run_default() }, 'run_default' ],
) {
    my ($code, $what) = @$case;
    ok(!eval { $code->(); 1 }, "$what dies while the thread runs");
    like($@, qr/background thread .*Perl code cannot run/, "$what: and says why");
}

my $t = $c->can('add_timeout')->(1);
my $n0 = $c->can('counts')->()->{timeout_calls};
my $deadline = time + 10;
select(undef, undef, undef, 0.01) while $c->can('counts')->()->{timeout_calls} < $n0 + 5 && time < $deadline;
cmp_ok($c->can('counts')->()->{timeout_calls}, '>=', $n0 + 5, 'a C timer runs on the background thread while Perl waits');
$c->can('remove_timeout')->($t);
ok(VEvent::stop_thread(), 'stop_thread');
ok(!VEvent::thread_running(), 'stopped');
is($c->can('counts')->()->{frees}, 1, 'stop_thread ran the pending free callback');

{
    my $obj = VEventTest::Counted->new;
    my $pt = VEvent::Event::add_timeout(-1, sub { $obj });
    ok(!eval { VEvent::start_thread(); 1 }, 'start_thread dies while a Perl callback is registered');
    like($@, qr/1 Perl callback is registered/, 'and says why');
    VEvent::Event::remove_timeout($pt);
}
is(VEventTest::Counted::alive(), 1, 'removed, its free callback pending');
ok(VEvent::start_thread(), 'start_thread then runs the pending free callbacks first and starts');
is(VEventTest::Counted::alive(), 0, 'on the Perl thread');
ok(VEvent::stop_thread(), 'stop');

subtest perl_callback_due_on_a_c_thread => sub {
    my $tick = $c->can('add_timeout')->(0);    # keeps the C iterations short
    my $n = 0;
    my $pt;
    {
        my $obj = VEventTest::Counted->new;
        $pt = VEvent::Event::add_timeout(0, sub { $n++; $obj });
    }
    open my $saved, '>&', \*STDERR or die;
    my $file = "/tmp/vevent-perl-thread-$$.err";
    open STDERR, '>', $file or die;
    $c->can('run_once_on_a_c_thread')->();
    open STDERR, '>&', $saved or die;
    open my $in, '<', $file or die;
    my $err = do { local $/; <$in> };
    unlink $file;
    is($n, 0, 'the Perl sub did not run on the C thread');
    like($err, qr/Perl callback of timer $pt became due on a thread that is not Perl's; it was disabled/, 'reported on stderr');
    VEvent::Event::run_default();
    is($n, 0, 'it stays disabled');
    VEvent::Event::update_timeout($pt, 0);
    VEvent::Event::run_default();
    is($n, 1, 'until updated: then it runs on the Perl thread');
    VEvent::Event::remove_timeout($pt);
    $c->can('run_once_on_a_c_thread')->();
    is(VEventTest::Counted::alive(), 1, 'its free callback ran on the C thread: the sub is kept for now');
    is(VEvent::Event::_subs_held(), 0, 'and released at the next call on the Perl thread');
    is(VEventTest::Counted::alive(), 0, 'with what it captured');
    $c->can('remove_timeout')->($tick);
};

# No shell: under ThreadSanitizer (LD_PRELOAD) the shell itself crashes.
open(my $fh, '-|', $^X, '-Mblib', '-MVEvent', '-e',
    'VEvent::start_thread(); print "started\n"') or die "fork: $!";
my $out = do { local $/; <$fh> };
close $fh;
is($?, 0, 'a program that exits with the thread running exits cleanly');
is($out, "started\n", 'without a word');

done_testing;
