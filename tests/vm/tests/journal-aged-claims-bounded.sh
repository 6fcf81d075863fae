#!/bin/bash
# A request whose claims keep outliving the aging time is not resubmitted
# for ever: after ENBD_MAX_AGED_CLAIMS (4) it fails with an I/O error and
# /proc/nbdinfo counts it expired (journal-edges aged-bound).
# timeout: 90
. "$ENBD_ROOT/tests/vm/lib.sh"

prog=$ENBD_ROOT/$ENBD_BUILD/journal-edges
load_enbd partscan=0	# the program is the daemon: no partition-table reads for it
on_exit "$prog" --shutdown 2
kmsg_mark
"$prog" aged-bound 2 || die "journal-edges aged-bound reported failures"
kernel_log_since_mark | grep -q 'nd2: .*failed: 4 claims outlived the aging time' ||
	die "the failure was not logged: $(kernel_log_since_mark)"
