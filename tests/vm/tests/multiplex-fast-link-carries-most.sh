#!/bin/bash
# Demand multiplexing: /dev/nd0 has two channels, channel 0 over link 1 and
# channel 1 over link 2 (netns_two_links in tests/vm/lib.sh); one link is
# shaped slow (tc tbf, 4 Mbit/s, at both ends), the other is not.  Channel
# daemons take requests from the device's queue as they can carry them, so
# under fio with the device's queue kept full (queue depth 128, random 16
# KiB reads and writes) the channel on the fast link carries most of the
# requests: at least three times as many as the slow one (the per-slot
# Requested: counters of /proc/nbdinfo).  Then the shaping moves to the
# other link and the other channel takes the lead: the share follows the
# links' speed, not the slot.  (With fewer requests outstanding than a
# channel's 64 slots: multiplex-shallow-queue-fast-link-carries-most.)
# timeout: 200
. "$ENBD_ROOT/tests/vm/guardian-lib.sh"

load_enbd
mux_start

run() { # SLOW-LINK
	mux_fio "$1" 128
	[ "$SLOW" -gt 0 ] || die "the slow channel carried nothing: it should still take its share"
	[ "$FAST" -ge $((3 * SLOW)) ] || die "the fast channel did not carry most of the requests"
}

run 1
run 2
[ "$(nbd_total 0 Errored:)" = 0 ] || die "requests errored: $(nbd_line 0 Errored:)"
grep -E '^\[0\] (Requested|Bytes|Resubmitted|Reconnects)' /proc/nbdinfo >&2
stop_guardian || die "enbd-guardian exited with status $?"
