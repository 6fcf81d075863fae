#!/bin/bash
# A channel silent with a request while its sibling is idle is suspected:
# when everything the application waits for sits on the silent channel (one
# request at a time, or an md mirror's writes held up by it), the sibling
# has nothing to complete, and a detector that waited for a sibling's
# completion left the channel to the keep-alive (2 x 10 s).  Driven through
# /dev/enbd-control (tests/progs/failover-detector.c idle-sibling): A holds
# a read, B served the read before and holds none; A must see POLLRDBAND
# within seconds, B must not.
# timeout: 60
. "$ENBD_ROOT/tests/vm/lib.sh"

prog=$ENBD_ROOT/$ENBD_BUILD/failover-detector
load_enbd partscan=0	# the program is the daemon: no partition-table reads for it
on_exit "$prog" --shutdown 2
kmsg_mark
"$prog" idle-sibling 2 || die "failover-detector idle-sibling reported failures"
kernel_log_since_mark | grep -q 'nd2: channel 0 suspect: .* while channel 1 is idle' ||
	die "the suspicion was not logged: $(kernel_log_since_mark)"
