#!/bin/bash
# No suspicion while every channel of a device is silent with requests (a
# silent server, or all its links down): then no sibling shows that the
# server answers, and the keep-alive decides.  Once one channel completes,
# the other, still silent, is suspected.  Driven through /dev/enbd-control
# (tests/progs/failover-detector.c all-silent).
# timeout: 60
. "$ENBD_ROOT/tests/vm/lib.sh"

prog=$ENBD_ROOT/$ENBD_BUILD/failover-detector
load_enbd partscan=0	# the program is the daemon: no partition-table reads for it
on_exit "$prog" --shutdown 2
"$prog" all-silent 2 || die "failover-detector all-silent reported failures"
