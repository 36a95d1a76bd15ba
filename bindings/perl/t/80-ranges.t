# SPDX-License-Identifier: LGPL-2.1-or-later
# Numbers reach C as ints: on vevent's default implementation, every
# number argument that is not an integer of its range dies, names the
# function, the argument and the value, warns nothing and changes nothing;
# what used to be truncated (2**32+1 to timer 1, 2**32+20 to 20 ms) no
# longer acts on anything.  Valid edge values still work.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use VEventTest qw(watchdog capture_warnings);
use VEvent;

watchdog(60);

use constant {
    R       => VEvent::Event::HANDLE_READABLE(),
    W       => VEvent::Event::HANDLE_WRITABLE(),
    INT_MIN => -2**31,
    INT_MAX => 2**31 - 1,
};
my $inf = 9**9**9;
my $nan = $inf - $inf;

VEvent::Event::register_default();

pipe(my $r, my $w) or die "pipe: $!";
my $wfd = fileno($w);
my %fired;
# Timer 1, disabled, and watch 1, not polled on a writable pipe: neither
# fires unless a call changes it.
my $t1 = VEvent::Event::add_timeout(-1, sub { $fired{timer}++ });
my $w1 = VEvent::Event::add_handle($wfd, 0, sub { $fired{watch}++ });
is_deeply([$t1, $w1], [1, 1], 'timer 1 and watch 1');

sub state {
    my $s = VEvent::loop_stats();
    return { (map { $_ => $s->{$_} } qw(handles timers pending_frees)),
        subs => VEvent::Event::_subs_held() };
}

# One iteration that cannot block: a timer of period 0 is due, and removes
# itself (its free callback runs at the end of the iteration).
sub iterate {
    my $guard;
    $guard = VEvent::Event::add_timeout(0, sub {
        VEvent::Event::remove_timeout($guard);
    });
    VEvent::Event::run_default();
    return;
}

sub describe {
    my ($v) = @_;
    return 'undef' unless defined $v;
    return 'an ARRAY reference' if ref $v;
    return "$v" if $v =~ /\A[-+]?(?:[0-9.e+]+|Inf|NaN)\z/i && $v ne '';
    return "the string '$v'";
}

my @not_integers = (1.5, -0.5, '2.5', 'abc', '3abc', '0x10', '', undef,
    $nan, $inf, -$inf, [1]);
my @too_large = (2**31, 2**32 + 1, 2**32 + 20, 2**64, '18446744073709551617');
my @too_small = (-2**31 - 1, -2**32 + 1, -2**64);
my %bad = (
    id  => [@not_integers, @too_large, 0, -1, INT_MIN],
    int => [@not_integers, @too_large, @too_small],
    fd  => [@not_integers, @too_large, -1, INT_MIN],
);
my %range = (id => [1, INT_MAX], int => [INT_MIN, INT_MAX],
    fd => [0, INT_MAX]);

# [function, argument, kind, code taking the bad value]
my @calls = (
    [ 'add_handle', 'fd', 'fd', sub { VEvent::Event::add_handle($_[0], W, sub {}) } ],
    [ 'add_handle', 'events', 'int', sub { VEvent::Event::add_handle($wfd, $_[0], sub {}) } ],
    [ 'update_handle', 'watch', 'int', sub { VEvent::Event::update_handle($_[0], W) } ],
    [ 'update_handle', 'events', 'int', sub { VEvent::Event::update_handle($w1, $_[0]) } ],
    [ 'remove_handle', 'watch', 'id', sub { VEvent::Event::remove_handle($_[0]) } ],
    [ 'add_timeout', 'frequency', 'int', sub { VEvent::Event::add_timeout($_[0], sub {}) } ],
    [ 'update_timeout', 'timer', 'int', sub { VEvent::Event::update_timeout($_[0], 0) } ],
    [ 'update_timeout', 'frequency', 'int', sub { VEvent::Event::update_timeout($t1, $_[0]) } ],
    [ 'remove_timeout', 'timer', 'id', sub { VEvent::Event::remove_timeout($_[0]) } ],
);

subtest every_number_argument_refuses_what_is_not_an_integer_of_its_range => sub {
    my $before = state();
    for my $call (@calls) {
        my ($fn, $arg, $kind, $code) = @$call;
        my ($min, $max) = @{ $range{$kind} };
        for my $v (@{ $bad{$kind} }) {
            my $name = "$fn \$$arg = " . describe($v);
            my $ok;
            my @w = capture_warnings(sub { $ok = eval { $code->($v); 1 } });
            ok(!$ok, "$name dies");
            my $what = $kind eq 'fd'
                ? 'the file descriptor must be a number or a file handle, and a number an integer'
                : "\$$arg must be an integer";
            like($@, qr/^\QVEvent::Event::$fn: $what from $min to $max, not \E/,
                "$name: names the function, the argument and the range");
            my $shown = describe($v);
            like($@, qr/, not \Q$shown\E at /, "$name: shows the value")
                unless ref $v || (defined $v && $v =~ /e|Inf|NaN/i);
            is_deeply(\@w, [], "$name: no warning");
        }
    }
    is_deeply(state(), $before, 'no watch, timer or callback was added or removed');
    iterate();
    is_deeply(\%fired, {}, 'timer 1 and watch 1 were not changed');
};

subtest the_truncations_of_the_issue_act_on_nothing => sub {
    my $before = state();
    ok(!eval { VEvent::Event::remove_timeout(2**32 + 1); 1 }, 'remove_timeout(2**32+1) dies');
    like($@, qr/\$timer must be an integer from 1 to 2147483647, not 4294967297/, 'saying why');
    ok(!eval { VEvent::Event::remove_handle(2**32 + 1); 1 }, 'remove_handle(2**32+1) dies');
    my $n = VEvent::loop_stats()->{timers};
    ok(!eval { VEvent::Event::add_timeout(2**32 + 20, sub { $fired{big}++ }); 1 },
        'add_timeout(2**32+20) dies instead of making a 20 ms timer');
    like($@, qr/\$frequency must be an integer from -2147483648 to 2147483647, not 4294967316/, 'saying why');
    is(VEvent::loop_stats()->{timers}, $n, 'no timer was added');
    ok(!eval { VEvent::Event::add_handle(2**32 + $wfd, W, sub {}); 1 }, 'add_handle(2**32+$fd) dies');
    like($@, qr/not ${\ (2**32 + $wfd)}/, 'naming the descriptor passed');
    unlike($@, qr/negative/, 'not as a negative descriptor');
    ok(!eval { VEvent::Event::update_timeout($t1, 2**32); 1 }, 'update_timeout(1, 2**32) dies instead of making the period 0');
    ok(!eval { VEvent::Event::update_timeout(2**32 + 1, 0); 1 }, 'update_timeout(2**32+1, 0) dies');
    ok(!eval { VEvent::Event::update_handle(2**32 + 1, W); 1 }, 'update_handle(2**32+1, W) dies');
    ok(!eval { VEvent::Event::update_handle($w1, 2**32 + W); 1 }, 'update_handle(1, 2**32+W) dies');
    iterate();
    is_deeply(\%fired, {}, 'timer 1 stayed disabled and watch 1 unpolled');
    is_deeply(state(), $before, 'timer 1 and watch 1 are still there; nothing was added');
};

subtest valid_edge_values_still_work => sub {
    my @got;
    my $t = VEvent::Event::add_timeout(INT_MAX, sub { push @got, 'max' });
    ok($t, 'a period of 2147483647 ms');
    my $d = VEvent::Event::add_timeout(INT_MIN, sub { push @got, 'min' });
    ok($d, 'a period of -2147483648: disabled');
    my $h = VEvent::Event::add_handle($wfd, W | 16 | 2**30, sub { push @got, "events $_[2]" });
    ok($h, 'unknown bits of an event mask are accepted');
    iterate();
    is_deeply(\@got, ['events ' . W], 'and ignored; neither timer fired');
    @got = ();
    VEvent::Event::update_handle($h, -1);
    iterate();
    is_deeply(\@got, ['events ' . W], 'a mask of -1 (every bit) is a C int too');
    VEvent::Event::update_handle($h, 0);
    @got = ();
    for my $v ("$t", "$t\n", " $t", "$t.0", $t + 0.0, "${t}e0") {
        (my $shown = $v) =~ s/\n/\\n/;
        ok(eval { VEvent::Event::update_timeout($v, -1); 1 }, "the id '$shown' is an integer")
            or diag $@;
    }
    ok(eval { VEvent::Event::update_handle(999_999, R); 1 }, 'an unknown positive id is still ignored by update');
    VEvent::Event::remove_timeout("$t.0");
    VEvent::Event::remove_timeout($d);
    VEvent::Event::remove_handle(1e0 * $h);
    iterate();
    is_deeply(\@got, [], 'nothing fired');
};

subtest get_magic_runs_once => sub {
    package Counted { sub TIESCALAR { bless [ $_[1], 0 ] } sub FETCH { $_[0][1]++; $_[0][0] } }
    my $obj = tie my $tied, 'Counted', 2**32 + 1;
    ok(!eval { VEvent::Event::remove_timeout($tied); 1 }, 'a tied 2**32+1 dies');
    like($@, qr/not 4294967297/, 'with its value');
    is($obj->[1], 1, 'read once');
    $obj = tie $tied, 'Counted', -1;
    my $t = VEvent::Event::add_timeout($tied, sub {});
    is($obj->[1], 1, 'a valid tied value is read once too');
    VEvent::Event::remove_timeout($t);
};

subtest c_client_hooks_take_any_c_int_and_nothing_else => sub {
    my $c = 'VEvent::Event::_CClient';
    my $before = state();
    for my $case (
        [ add_handle => sub { $c->can('add_handle')->(2**32 + $wfd, W) } ],
        [ add_handle => sub { $c->can('add_handle')->($wfd, 2**32) } ],
        [ add_timeout => sub { $c->can('add_timeout')->(2**32 + 20) } ],
        [ update_handle => sub { $c->can('update_handle')->(2**32 + 1, W) } ],
        [ update_timeout => sub { $c->can('update_timeout')->(2**32 + 1, 0) } ],
        [ remove_handle => sub { $c->can('remove_handle')->(2**32 + 1) } ],
        [ remove_timeout => sub { $c->can('remove_timeout')->('abc') } ],
    ) {
        my ($fn, $code) = @$case;
        ok(!eval { $code->(); 1 }, "_CClient::$fn with a number out of range dies");
        like($@, qr/^VEvent::Event::_CClient::$fn: \$\w+ must be an integer from -2147483648 to 2147483647/, 'saying why');
    }
    is_deeply(state(), $before, 'nothing changed');
    is($c->can('remove_timeout')->(-1), -1, 'a negative id is a C int: vevent answers -1');
};

VEvent::Event::remove_timeout($t1);
VEvent::Event::remove_handle($w1);
iterate();
is_deeply(state(), { handles => 0, timers => 0, pending_frees => 0, subs => 0 },
    'the loop is empty and every free callback ran');
is_deeply(\%fired, {}, 'timer 1 and watch 1 never fired');

done_testing;
