#!/bin/bash
# Failover in seconds with the module's defaults (aging 30 s, keepalive
# 10 s): /dev/nd0 has two channels, channel 0 over link 1 and channel 1 over
# link 2; fio writes at random with crc32c verification straight on it; link
# 1 goes down for good.  Channel 0 falls silent while channel 1 completes
# requests: the kernel suspects it once it was silent for max(2 x the recent
# p99 completion latency, 500 ms), its daemon probes the server with a
# 500 ms deadline, gets no answer, resets the connection and detaches, and channel
# 1 carries its requests.  fio's longest I/O must stay below STALL_MAX_MS
# (target 2 s; generous under TCG with other VMs running).  Without the
# detector the requests on the dead link waited for 2 x keepalive (20 s).
# timeout: 150
. "$ENBD_ROOT/tests/vm/guardian-lib.sh"

STALL_MAX_MS=5000

load_enbd
mux_start
fio_verify_start /dev/nd0 64M 600
r0=$(nbd_slot 0 Requested: 0) r1=$(nbd_slot 0 Requested: 1)
flows() { # R0 R1: both channels carried 100 more requests
	[ "$(nbd_slot 0 Requested: 0)" -gt "$(($1 + 100))" ] &&
		[ "$(nbd_slot 0 Requested: 1)" -gt "$(($2 + 100))" ]
}
wait_for -t 60 flows "$r0" "$r1" || die "I/O does not flow over both links: $(nbd_line 0 Requested:)"
reconnects1=$(nbd_slot 0 Reconnects: 1)
link_down 1
grown() { # NAME SLOT FROM
	[ "$(nbd_slot 0 "$1" "$2")" -gt "$3" ]
}
wait_for -t 40 grown Resubmitted: 0 0 ||
	die "nothing came back from the channel on the dead link: $(nbd_line 0 Resubmitted:)"
log "the claims of channel 0 came back"
# Channel 1 alone carries on for a while.
wait_for -t 60 grown Requested: 1 "$(($(nbd_slot 0 Requested: 1) + 200))" ||
	die "channel 1 does not carry the load: $(nbd_line 0 Requested:)"
fio_verify_stop || die "fio failed: $(cat "$FIO_OUT")"
grep -E '^\[0\] (Requested|Resubmitted|Reconnects|Suspected|Cleared|Detector)' /proc/nbdinfo >&2
# Where the time went: the kernel's threshold and how long the channel was
# silent when suspected, and its daemon's silence when it dropped the link.
suspicion=$(dmesg | grep -o 'channel 0 suspect: silent for [0-9]* ms (threshold [0-9]* ms)' | tail -n1)
dropped=$(grep -o 'no answer from the server for [0-9.]* s (probe asked for' "$GUARDIAN_LOG" | tail -n1)
log "figure: $ENBD_TEST_NAME: longest I/O stall $FIO_MAX_MS ms (defaults: aging 30 s, keepalive 10 s), suspected $(nbd_slot 0 Suspected: 0 || echo -); ${suspicion:-no suspicion logged}; ${dropped:-no drop logged}"
[ "$FIO_MAX_MS" -le "$STALL_MAX_MS" ] ||
	die "fio stalled $FIO_MAX_MS ms, more than $STALL_MAX_MS ms, when one link of two died"
[ "$(nbd_slot 0 Suspected: 0)" -ge 1 ] || die "channel 0 was never suspected"
[ "$(nbd_slot 0 Reconnects: 1)" = "$reconnects1" ] || die "channel 1 on the live link reconnected"
[ "$(nbd_total 0 Errored:)" = 0 ] || die "requests errored: $(nbd_line 0 Errored:)"
