# SPDX-License-Identifier: LGPL-2.1-or-later
# Shared helpers of the VEvent tests.
package VEventTest;

use strict;
use warnings;
use Exporter 'import';
use POSIX ();
use Time::HiRes ();

our @EXPORT_OK = qw(watchdog capture_warnings now_ms);

# Ends the test process if it runs longer than $seconds (a test that hangs
# must fail, not wait for the harness).  POSIX::_exit: no END block runs.
sub watchdog {
    my ($seconds) = @_;
    $SIG{ALRM} = sub {
        print STDERR "watchdog: the test took longer than $seconds s\n";
        POSIX::_exit(1);
    };
    alarm $seconds;
    return;
}

# Runs $code and returns the warnings it emitted.
sub capture_warnings {
    my ($code) = @_;
    my @w;
    local $SIG{__WARN__} = sub { push @w, $_[0] };
    $code->();
    return @w;
}

sub now_ms {
    return 1000 * Time::HiRes::clock_gettime(Time::HiRes::CLOCK_MONOTONIC());
}

# Objects whose creations and destructions are counted.
package VEventTest::Counted;

our ($created, $destroyed) = (0, 0);

sub new {
    my ($class, %args) = @_;
    $created++;
    return bless {%args}, $class;
}

sub DESTROY { $destroyed++ }

sub alive { return $created - $destroyed }

1;
