#!/bin/bash
# A new request is left to a channel that has just fetched or completed and
# will look at the queue again before it sleeps, instead of waking an idle
# sibling for it (on a host with fewer CPUs than channels each wake-up costs
# more than the request); and a channel that made its call but never came
# back (stopped) does not keep the request from the idle sibling for long
# (journal-edges awake-channel).
# timeout: 90
. "$ENBD_ROOT/tests/vm/lib.sh"

prog=$ENBD_ROOT/$ENBD_BUILD/journal-edges
load_enbd partscan=0	# the program is the daemon: no partition-table reads for it
on_exit "$prog" --shutdown 2
"$prog" awake-channel 2 || die "journal-edges awake-channel reported failures"
