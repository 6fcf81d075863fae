#!/bin/bash
# A copy between a request and a daemon's buffer that fails never strands the
# request: READ data that cannot be copied in while the channel detaches is
# rolled back for another channel, while the device shuts down the request
# fails; a fetched request whose header cannot be copied out goes to another
# channel at once (journal-edges copy-fault; userfaultfd holds the copy).
# timeout: 90
. "$ENBD_ROOT/tests/vm/lib.sh"

prog=$ENBD_ROOT/$ENBD_BUILD/journal-edges
# The debug kernel of make check-debug may be built without it.
[ -e /proc/sys/vm/unprivileged_userfaultfd ] ||
	skip "the kernel has no userfaultfd (CONFIG_USERFAULTFD)"
load_enbd partscan=0	# the program is the daemon: no partition-table reads for it
on_exit "$prog" --shutdown 2
"$prog" copy-fault 2 || die "journal-edges copy-fault reported failures"
