# SPDX-License-Identifier: LGPL-2.1-or-later
# The contract of VEvent::Event, as subtests run against one registered
# implementation: vevent's default one (t/10-default.t) or a Perl one
# (t/30-anyevent.t).  Each rule is a subtest named after it.
#
#   VEventContract::run(iterate => sub { ...one iteration... });
#
# The implementation must be registered, with nothing else in it: the first
# subtest checks that ids start at 1.
package VEventContract;

use strict;
use warnings;
use Test::More;
use Socket qw(AF_UNIX SOCK_STREAM PF_UNSPEC);

use VEvent;
use VEventTest qw(capture_warnings now_ms);

use constant {
    R => VEvent::Event::HANDLE_READABLE(),
    W => VEvent::Event::HANDLE_WRITABLE(),
    E => VEvent::Event::HANDLE_ERROR(),
    H => VEvent::Event::HANDLE_HANGUP(),
};

my $iterate;

sub iterate {
    my ($n) = @_;
    $iterate->() for 1 .. ($n // 1);
    return;
}

sub new_pipe {
    pipe(my $r, my $w) or die "pipe: $!";
    select((select($w), $| = 1)[0]);
    return ($r, $w);
}

sub alive { VEventTest::Counted::alive() }

sub run {
    my (%driver) = @_;
    $iterate = $driver{iterate} or die 'iterate';
    my $held0 = VEvent::Event::_subs_held();

    subtest constants_have_libvirt_values => sub {
        is(VEvent::Event::HANDLE_READABLE, 1, 'HANDLE_READABLE');
        is(VEvent::Event::HANDLE_WRITABLE, 2, 'HANDLE_WRITABLE');
        is(VEvent::Event::HANDLE_ERROR,    4, 'HANDLE_ERROR');
        is(VEvent::Event::HANDLE_HANGUP,   8, 'HANDLE_HANGUP');
    };

    # Must come first: nothing was added before.
    subtest ids_start_at_one_grow_by_one_and_are_never_reused => sub {
        my ($r, $w) = new_pipe();
        my $t1 = VEvent::Event::add_timeout(-1, sub {});
        my $t2 = VEvent::Event::add_timeout(-1, sub {});
        my $w1 = VEvent::Event::add_handle(fileno($r), 0, sub {});
        is_deeply([$t1, $t2, $w1], [1, 2, 1],
            'timers and watches count from 1, each on its own');
        VEvent::Event::remove_timeout($t2);
        my $t3 = VEvent::Event::add_timeout(-1, sub {});
        is($t3, 3, 'a removed id is not given again');
        VEvent::Event::remove_timeout($_) for $t1, $t3;
        VEvent::Event::remove_handle($w1);
    };

    # From here on a timer of period 0 keeps every iteration from blocking.
    my $stop_tick = 0;
    my $tick;
    $tick = VEvent::Event::add_timeout(0, sub {
        VEvent::Event::remove_timeout($tick) if $stop_tick;
    });
    iterate(2);    # the free callbacks of the first subtest run

    subtest handle_callback_gets_watch_fd_and_events_while_ready => sub {
        my ($r, $w) = new_pipe();
        my @calls;
        my $watch = VEvent::Event::add_handle(fileno($r), R,
            sub { push @calls, [@_] });
        iterate(2);
        is(scalar @calls, 0, 'nothing to read: no callback');
        syswrite($w, 'x');
        iterate(3);
        is_deeply(\@calls, [ map { [$watch, fileno($r), R] } 1 .. 3 ],
            'level-triggered: once per iteration while readable');
        sysread($r, my $buf, 10);
        @calls = ();
        iterate(2);
        is(scalar @calls, 0, 'consumed: no more callbacks');
        VEvent::Event::remove_handle($watch);
    };

    subtest watch_gets_only_its_bits_plus_error_and_hangup => sub {
        socketpair(my $a, my $b, AF_UNIX, SOCK_STREAM, PF_UNSPEC)
            or die "socketpair: $!";
        syswrite($b, 'data');
        my @ev;
        my $watch = VEvent::Event::add_handle(fileno($a), W,
            sub { push @ev, $_[2] });
        iterate(1);
        is_deeply(\@ev, [W], 'readable too, but only WRITABLE was asked for');
        close $b;
        @ev = ();
        iterate(1);
        ok(@ev && ($ev[0] & H), 'peer closed: HANGUP reported unasked');
        ok(@ev && !($ev[0] & R), 'and still no READABLE');
        VEvent::Event::remove_handle($watch);
    };

    subtest pipe_whose_writer_closed_reports_hangup => sub {
        my ($r, $w) = new_pipe();
        my @ev;
        my $watch = VEvent::Event::add_handle(fileno($r), R,
            sub { push @ev, $_[2] });
        close $w;
        iterate(1);
        ok(@ev && ($ev[0] & H), 'HANGUP') or diag explain \@ev;
        VEvent::Event::remove_handle($watch);
    };

    subtest events_zero_is_not_polled_and_update_changes_events => sub {
        my ($r, $w) = new_pipe();
        syswrite($w, 'x');
        my $n = 0;
        my $watch = VEvent::Event::add_handle(fileno($r), 0, sub { $n++ });
        iterate(2);
        is($n, 0, 'events 0: registered, not polled');
        VEvent::Event::update_handle($watch, R);
        iterate(2);
        is($n, 2, 'updated to READABLE: fires');
        VEvent::Event::update_handle($watch, 0);
        iterate(2);
        is($n, 2, 'updated to 0: silent again');
        VEvent::Event::remove_handle($watch);
    };

    subtest watch_removed_in_its_own_callback_fires_once => sub {
        my ($r, $w) = new_pipe();
        syswrite($w, 'x');
        my $n = 0;
        VEvent::Event::add_handle(fileno($r), R, sub {
            $n++;
            VEvent::Event::remove_handle($_[0]);
        });
        iterate(3);
        is($n, 1, 'once');
    };

    subtest timer_of_zero_fires_once_per_iteration => sub {
        my @ids;
        my $t = VEvent::Event::add_timeout(0, sub { push @ids, $_[0] });
        iterate(3);
        is_deeply(\@ids, [$t, $t, $t], 'three iterations, three calls with the id');
        VEvent::Event::remove_timeout($t);
    };

    subtest negative_timer_is_disabled_until_updated => sub {
        my $n = 0;
        my $t = VEvent::Event::add_timeout(-1, sub { $n++ });
        iterate(2);
        is($n, 0, 'disabled');
        VEvent::Event::update_timeout($t, 0);
        iterate(2);
        is($n, 2, 'updated to 0: every iteration');
        VEvent::Event::update_timeout($t, -1);
        iterate(2);
        is($n, 2, 'updated to -1: stopped');
        VEvent::Event::remove_timeout($t);
    };

    subtest periodic_timer_never_fires_early => sub {
        my @at;
        my $t0 = now_ms();
        my $t = VEvent::Event::add_timeout(30, sub { push @at, now_ms() });
        iterate(1) while @at < 3;
        VEvent::Event::remove_timeout($t);
        my @gaps = map { $at[$_] - ($_ ? $at[$_ - 1] : $t0) } 0 .. 2;
        # Re-armed when dispatched, a little before the callback reads the
        # clock: allow for that, not for firing early.
        ok(!(grep { $_ < 29 } @gaps), 'each period is at least 30 ms')
            or diag "gaps: @gaps";
    };

    subtest update_timeout_restarts_the_countdown => sub {
        my $fired;
        my $t0 = now_ms();
        my $t = VEvent::Event::add_timeout(100, sub { $fired //= now_ms() });
        iterate(1) while now_ms() < $t0 + 60;
        my $t1 = now_ms();
        VEvent::Event::update_timeout($t, 100);
        iterate(1) until defined $fired;
        VEvent::Event::remove_timeout($t);
        cmp_ok($fired - $t1, '>=', 99, 'fires 100 ms after the update');
    };

    subtest bad_input_dies_with_a_message => sub {
        my ($r, $w) = new_pipe();
        my $closed = fileno($r);
        close $r;
        for my $case (
            [ sub { VEvent::Event::remove_handle(999_999) }, qr/remove_handle/, 'unknown watch' ],
            [ sub { VEvent::Event::remove_timeout(999_999) }, qr/remove_timeout/, 'unknown timer' ],
            [ sub { VEvent::Event::add_handle(-1, R, sub {}) }, qr/add_handle/, 'negative fd' ],
            [ sub { VEvent::Event::add_handle($closed, R, sub {}) }, qr/add_handle/, 'closed fd' ],
            [ sub { VEvent::Event::add_handle(fileno($w), W, 'main::f') }, qr/code reference/, 'callback not code' ],
            [ sub { VEvent::Event::add_timeout(0, undef) }, qr/code reference/, 'timer callback not code' ],
            [ sub { VEvent::Event::add_handle('x', R, sub {}) }, qr/number or a file handle/, 'fd not a number' ],
        ) {
            my ($code, $re, $what) = @$case;
            ok(!eval { $code->(); 1 }, "$what dies");
            like($@, $re, "$what: message");
        }
        ok(eval { VEvent::Event::update_handle(999_999, R); 1 },
            'update of an unknown watch is a no-op');
        ok(eval { VEvent::Event::update_timeout(999_999, 0); 1 },
            'update of an unknown timer is a no-op');
        iterate(1);    # free callbacks of the subtests before
        is(VEvent::Event::_subs_held(), $held0 + 1,
            'failed adds keep no callback');
    };

    subtest file_handle_may_stand_for_its_descriptor => sub {
        my ($r, $w) = new_pipe();
        my @got;
        my $watch = VEvent::Event::add_handle($w, W, sub { push @got, $_[1] });
        iterate(1);
        is_deeply(\@got, [fileno($w)], 'the descriptor of the handle');
        VEvent::Event::remove_handle($watch);
    };

    subtest die_in_callback_is_reported_and_the_loop_goes_on => sub {
        my ($r, $w) = new_pipe();
        my ($nb, $nd) = (0, 0);
        my $bad = VEvent::Event::add_timeout(0, sub { $nd++; die "boom $nd\n" });
        my $good = VEvent::Event::add_timeout(0, sub { $nb++ });
        my $obj = VEvent::Event::add_handle(fileno($w), W,
            sub { die { not => 'a string' } });
        my @w = capture_warnings(sub { iterate(3) });
        is($nd, 3, 'the dying timer still fires every iteration');
        is($nb, 3, 'the others run in the same iterations');
        is(scalar(grep { /callback of timer $bad died: boom \d/ } @w), 3,
            'each death is reported with its message') or diag explain \@w;
        is(scalar(grep { /callback of watch $obj died: HASH/ } @w), 3,
            'a die with a reference too');
        {
            # The report then goes straight to stderr.
            open my $saved, '>&', \*STDERR or die;
            my $file = "/tmp/vevent-perl-contract-$$.err";
            open STDERR, '>', $file or die;
            local $SIG{__WARN__} = sub { die "the warn handler dies too\n" };
            my $ok = eval { iterate(1); 1 };
            open STDERR, '>&', $saved or die;
            ok($ok, 'a dying __WARN__ handler does not unwind the loop') or diag $@;
            open my $in, '<', $file or die;
            my $err = do { local $/; <$in> };
            unlink $file;
            like($err, qr/callback of timer $bad died: boom/, 'the death is written to stderr instead');
        }
        VEvent::Event::remove_timeout($_) for $bad, $good;
        VEvent::Event::remove_handle($obj);
    };

    subtest closure_released_exactly_when_the_free_callback_runs => sub {
        my ($r, $w) = new_pipe();
        my $before = alive();
        my ($watch, $timer);
        {
            my $obj = VEventTest::Counted->new;
            $watch = VEvent::Event::add_handle(fileno($r), R, sub { $obj->{n}++ });
            my $obj2 = VEventTest::Counted->new;
            $timer = VEvent::Event::add_timeout(-1, sub { $obj2->{n}++ });
        }
        iterate(1);
        is(alive(), $before + 2, 'held by the loop');
        VEvent::Event::remove_handle($watch);
        VEvent::Event::remove_timeout($timer);
        is(alive(), $before + 2, 'not released inside the remove call');
        iterate(1);
        is(alive(), $before, 'released at the next iteration, once');
    };

    subtest thousands_of_add_remove_cycles_release_everything => sub {
        my ($r, $w) = new_pipe();
        my $before = alive();
        my $created0 = $VEventTest::Counted::created;
        my $fired = 0;
        for my $round (1 .. 30) {
            my (@t, @h);
            for (1 .. 100) {
                my $o = VEventTest::Counted->new;
                my $p = VEventTest::Counted->new;
                push @t, VEvent::Event::add_timeout(0, sub { $fired++; $o->{n}++ });
                push @h, VEvent::Event::add_handle(fileno($w), W,
                    sub { $p->{n}++; VEvent::Event::remove_handle($_[0]) if $round % 2 });
            }
            iterate(1) if $round % 3;
            VEvent::Event::remove_timeout($_) for @t;
            eval { VEvent::Event::remove_handle($_) } for @h;   # some removed themselves
        }
        iterate(2);
        is($VEventTest::Counted::created - $created0, 6000, '6000 captured objects');
        is(alive(), $before, 'every one destroyed once the loop let go');
        ok($fired > 0, 'callbacks ran meanwhile');
        is(VEvent::Event::_subs_held(), $held0 + 1, 'no callback still held');
    };

    subtest added_during_dispatch_fires_next_iteration => sub {
        my ($na, $nb, $b) = (0, 0);
        my $a;
        $a = VEvent::Event::add_timeout(0, sub {
            $na++;
            $b = VEvent::Event::add_timeout(0, sub { $nb++ }) if $na == 1;
        });
        iterate(1);
        is_deeply([$na, $nb], [1, 0], 'the new timer waits for the next iteration');
        iterate(1);
        is_deeply([$na, $nb], [2, 1], 'then fires');
        VEvent::Event::remove_timeout($_) for $a, $b;
    };

    subtest removed_before_its_turn_does_not_fire => sub {
        my ($x, $y);
        my %n = (x => 0, y => 0);
        $x = VEvent::Event::add_timeout(0, sub { $n{x}++; eval { VEvent::Event::remove_timeout($y) } });
        $y = VEvent::Event::add_timeout(0, sub { $n{y}++; eval { VEvent::Event::remove_timeout($x) } });
        iterate(1);
        is($n{x} + $n{y}, 1, 'two timers removing each other: one fires');
        eval { VEvent::Event::remove_timeout($_) } for $x, $y;

        my ($r, $w) = new_pipe();
        syswrite($w, 'x');
        my ($p, $q);
        my %m = (p => 0, q => 0);
        $p = VEvent::Event::add_handle(fileno($r), R, sub { $m{p}++; eval { VEvent::Event::remove_handle($q) } });
        $q = VEvent::Event::add_handle(fileno($r), R, sub { $m{q}++; eval { VEvent::Event::remove_handle($p) } });
        iterate(1);
        is($m{p} + $m{q}, 1, 'two watches removing each other: one fires');
        eval { VEvent::Event::remove_handle($_) } for $p, $q;
        iterate(1);
    };

    subtest callbacks_may_call_every_function => sub {
        my ($r, $w) = new_pipe();
        my $ok;
        my $watch;
        $watch = VEvent::Event::add_handle(fileno($w), W, sub {
            $ok = eval {
                VEvent::Event::update_handle($watch, W);
                my $t = VEvent::Event::add_timeout(5, sub {});
                VEvent::Event::update_timeout($t, 10);
                VEvent::Event::remove_timeout($t);
                my $h = VEvent::Event::add_handle(fileno($r), R, sub {});
                VEvent::Event::update_handle($h, 0);
                VEvent::Event::remove_handle($h);
                VEvent::Event::remove_handle($watch);
                1;
            };
        });
        iterate(2);
        ok($ok, 'add, update and remove from inside a callback') or diag $@;
    };

    subtest descriptor_closed_while_watched_reports_error_once => sub {
        my ($r, $w) = new_pipe();
        my @ev;
        my $fd = fileno($r);
        my $watch = VEvent::Event::add_handle($fd, R, sub { push @ev, $_[2] });
        iterate(1);
        close $r;
        # epoll forgets a closed descriptor silently: changing what the
        # watch asks for lets every backend notice.
        VEvent::Event::update_handle($watch, R | W);
        iterate(3);
        is(scalar(grep { $_ & E } @ev), 1, 'ERROR once') or diag explain \@ev;
        is(scalar(@ev), 1, 'then silent, no spinning');
        VEvent::Event::remove_handle($watch);
        iterate(1);
    };

    subtest loop_ends_empty => sub {
        $stop_tick = 1;
        iterate(1);    # the tick removes itself; its free callback runs
        is(VEvent::Event::_subs_held(), $held0, 'no Perl callback held');
        is(alive(), 0, 'every captured object destroyed');
    };
    return;
}

1;
