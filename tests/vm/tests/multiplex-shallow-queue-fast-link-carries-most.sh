#!/bin/bash
# Demand multiplexing with a shallow queue: as multiplex-fast-link-carries-most
# (two channels, one link shaped to 4 Mbit/s), but fio keeps only 32
# requests outstanding, fewer than a channel's 64 slots.  A channel fetches
# only while its requests in flight are below its adaptive window
# (daemon/client/xmit.c), which shrinks while more requests in flight only
# queue on the link and buy no throughput, so the slow channel does not
# hoard the queue and the fast one carries most of the requests: at least
# FAST_MIN_PCT %.  Then the shaping moves to the other link and the other
# channel takes the lead.  Measured in the TCG VM: 93-97 % (5 runs, both
# directions each); when a channel fetched whenever it had a free slot,
# 54-59 % (two runs here; 63-74 % before: the slow channel hoarded the queue,
# the device ran at its pace).  The channels log their window changes (-v)
# in the guardian's log.
# timeout: 200
. "$ENBD_ROOT/tests/vm/guardian-lib.sh"

FAST_MIN_PCT=85

load_enbd
mux_start -v

run() { # SLOW-LINK
	mux_fio "$1" 32
	[ "$SLOW" -gt 0 ] || die "the slow channel carried nothing: it should still take its share"
	[ "$FAST_PCT" -ge "$FAST_MIN_PCT" ] ||
		die "the fast channel carried $FAST_PCT % of the requests, not at least $FAST_MIN_PCT %"
}

run 1
run 2
[ "$(nbd_total 0 Errored:)" = 0 ] || die "requests errored: $(nbd_line 0 Errored:)"
grep -E '^\[0\] (Requested|Bytes|Resubmitted|Reconnects)' /proc/nbdinfo >&2
stop_guardian || die "enbd-guardian exited with status $?"
