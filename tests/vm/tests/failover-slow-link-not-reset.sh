#!/bin/bash
# The failover detector leaves a merely slow channel alone: /dev/nd0 with two
# channels, link 1 shaped to 4 Mbit/s (tc tbf at both ends) beside the fast
# link 2, module defaults, fio random writes of 4-512 KiB (1 s each on the
# slow link) with crc32c verification for 12 s.  Should channel 0 fall
# silent long enough to be suspected while channel 1 completes requests, it
# answers the probe, completes a request or its TCP acknowledges our bytes,
# and is cleared: no channel resets, nothing is resubmitted, no suspicion
# ends unanswered.  Logs how many suspicions were raised and cleared (none
# in the TCG VM while a suspicion needed a sibling's completion; about 7,
# all cleared, since an idle sibling counts: fio's verify leaves channel 1
# idle while channel 0 carries a slow write).
# timeout: 120
. "$ENBD_ROOT/tests/vm/guardian-lib.sh"

load_enbd
mux_start
_mux_shape add 1
fio_verify_start /dev/nd0 64M 12 --bsrange=4k-512k
fio_verify_wait || die "fio failed: $(cat "$FIO_OUT")"
_mux_shape del 1
grep -E '^\[0\] (Requested|Resubmitted|Reconnects|Keepalives|Suspected|Cleared|Detector)' /proc/nbdinfo >&2
detector=$(nbd_line 0 Detector:) || die "/proc/nbdinfo has no Detector line"
log "figure: $ENBD_TEST_NAME: channel 0 (4 Mbit/s) carried $(nbd_slot 0 Requested: 0) requests, channel 1 $(nbd_slot 0 Requested: 1); suspected $(nbd_slot 0 Suspected: 0)/$(nbd_slot 0 Suspected: 1), cleared $(nbd_slot 0 Cleared: 0)/$(nbd_slot 0 Cleared: 1); longest I/O $FIO_MAX_MS ms; detector:$detector"
[ "$(nbd_total 0 Reconnects:)" = 0 ] || die "a channel was reset: $(nbd_line 0 Reconnects:)"
[ "$(nbd_total 0 Resubmitted:)" = 0 ] || die "requests were resubmitted: $(nbd_line 0 Resubmitted:)"
[ "$(nbd_total 0 Errored:)" = 0 ] || die "requests errored: $(nbd_line 0 Errored:)"
case $detector in
*" 0 suspects dropped") ;;
*) die "a suspicion ended without an answer: $detector" ;;
esac
