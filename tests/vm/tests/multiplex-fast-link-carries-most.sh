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
# channel's 64 slots, the slow channel holds a larger share of them: see
# the README.)
# timeout: 200
. "$ENBD_ROOT/tests/vm/guardian-lib.sh"
require_cmd tc fio

load_enbd
netns_two_links srv
truncate -s 128M "$ENBD_TEST_TMP/disk.img"
start_enbd_server --netns srv 0 "$ENBD_TEST_TMP/disk.img"
start_guardian --client "/dev/nd0 10.1.0.2,10.2.0.2 $SERVER_PORT -n 2 -b 10.1.0.1 -b 10.2.0.1"
wait_for_disk /dev/nd0
wait_for -t 30 slots_attached 0 2 || die "the two channels did not attach"

shape() { # add|del LINK: tbf at both ends of the link
	if [ "$1" = add ]; then
		tc qdisc add dev "nic$2" root tbf rate 4mbit burst 16kb latency 400ms || die "tc tbf"
		tc -n srv qdisc add dev "nic$2" root tbf rate 4mbit burst 16kb latency 400ms || die "tc tbf"
	else
		tc qdisc del dev "nic$2" root
		tc -n srv qdisc del dev "nic$2" root
	fi
}

# run SLOW-LINK: fio with link SLOW-LINK shaped; sets SLOW and FAST, the
# requests the channel on the slow / the fast link carried meanwhile
run() {
	local slow=$1 fast=$((3 - $1)) s0 f0
	shape add "$slow"
	s0=$(nbd_slot 0 Requested: $((slow - 1)))
	f0=$(nbd_slot 0 Requested: $((fast - 1)))
	fio --name=mux --filename=/dev/nd0 --rw=randrw --bs=16k --direct=1 --ioengine=libaio \
		--iodepth=128 --size=96M --time_based --runtime=8 --output="$ENBD_TEST_TMP/fio.$slow.out" ||
		die "fio failed: $(cat "$ENBD_TEST_TMP/fio.$slow.out")"
	shape del "$slow"
	SLOW=$(($(nbd_slot 0 Requested: $((slow - 1))) - s0))
	FAST=$(($(nbd_slot 0 Requested: $((fast - 1))) - f0))
	log "figure: $ENBD_TEST_NAME: link $slow slow: channel $((slow - 1)) (slow) carried $SLOW requests, channel $((fast - 1)) (fast) $FAST ($((100 * FAST / (FAST + SLOW))) %)"
	[ "$SLOW" -gt 0 ] || die "the slow channel carried nothing: it should still take its share"
	[ "$FAST" -ge $((3 * SLOW)) ] || die "the fast channel did not carry most of the requests"
}

run 1
run 2
[ "$(nbd_total 0 Errored:)" = 0 ] || die "requests errored: $(nbd_line 0 Errored:)"
grep -E '^\[0\] (Requested|Bytes|Resubmitted|Reconnects)' /proc/nbdinfo >&2
stop_guardian || die "enbd-guardian exited with status $?"
