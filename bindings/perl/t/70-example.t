# SPDX-License-Identifier: LGPL-2.1-or-later
# examples/domain-events.pl runs its demo on test:///default, on vevent's
# loop and on AnyEvent's, and prints every lifecycle event.
use strict;
use warnings;
use lib 't/lib';
use Test::More;
use VEventTest qw(watchdog);

watchdog(90);

for my $args ([], ['--anyevent']) {
    open(my $fh, '-|', $^X, '-Mblib', 'examples/domain-events.pl', @$args)
        or die "fork: $!";
    my $out = do { local $/; <$fh> };
    close $fh;
    is($?, 0, "domain-events.pl @$args exits 0");
    my @events = $out =~ /^vevent-perl-demo\s+(\w+)/mg;
    is_deeply(\@events, [qw(defined started suspended resumed stopped undefined)],
        "domain-events.pl @$args prints the six events in order") or diag $out;
}

done_testing;
