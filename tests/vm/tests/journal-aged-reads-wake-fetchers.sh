#!/bin/bash
# Every aged READ wakes the channels waiting for work, not only the one that
# stalls its channel: a READ that ages on an already stalled channel reaches
# a waiting channel at once (journal-edges aged-reads-wake).
# timeout: 90
. "$ENBD_ROOT/tests/vm/lib.sh"

prog=$ENBD_ROOT/$ENBD_BUILD/journal-edges
load_enbd partscan=0	# the program is the daemon: no partition-table reads for it
on_exit "$prog" --shutdown 2
"$prog" aged-reads-wake 2 || die "journal-edges aged-reads-wake reported failures"
