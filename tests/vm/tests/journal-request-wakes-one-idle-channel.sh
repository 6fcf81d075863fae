#!/bin/bash
# A request wakes one idle channel, not all of them: four channels of
# /dev/nd0 (enbd-client -n 4) carry 2000 reads of 4 KiB one at a time
# (dd iflag=direct), and the four channel processes together switch out
# (voluntary context switches) fewer than MAX_SWITCHES_PER_REQUEST times per
# request.  The channel that carries a request sleeps about twice: until the
# kernel wakes it, and until the server answers (less, where the answer is
# there before it sleeps); were every idle channel woken for every request,
# the others would add theirs (measured in the TCG VM: 1.77 per request with
# one woken, 2.77 when each request woke them all).  And no request waits
# while a channel sleeps: dd finishes.
# timeout: 120
. "$ENBD_ROOT/tests/vm/guardian-lib.sh"

MAX_SWITCHES_PER_REQUEST=2.3

load_enbd
start_enbd_server
start_enbd_client -q -n 4 -p "$SERVER_PORT" 127.0.0.1 /dev/nd0
wait_for_disk /dev/nd0
wait_for -t 30 slots_attached 0 4 || die "four channels did not attach: $(nbd_line 0 Sockets:)"

pids=()
for slot in 0 1 2 3; do
	pids+=("$(nbd_slot 0 Pids: "$slot")")
done
switches() {
	local pid sum=0 v
	for pid in "${pids[@]}"; do
		v=$(awk '/^voluntary_ctxt_switches:/ { print $2 }' "/proc/$pid/status") ||
			die "channel $pid is gone"
		sum=$((sum + v))
	done
	echo "$sum"
}

req0=$(nbd_total 0 Requested:)
sw0=$(switches)
timeout 60 dd if=/dev/nd0 of=/dev/null bs=4k count=2000 iflag=direct status=none ||
	die "dd from /dev/nd0 failed or hung"
sw1=$(switches)
req1=$(nbd_total 0 Requested:)
requests=$((req1 - req0))
[ "$requests" -ge 2000 ] || die "only $requests requests claimed for 2000 reads"
per=$(awk -v s=$((sw1 - sw0)) -v r="$requests" 'BEGIN { printf "%.2f", s / r }')
log "$requests requests, $((sw1 - sw0)) voluntary context switches of the channels: $per per request"
log "$(grep -E '^\[0\] Requested' /proc/nbdinfo)"
awk -v p="$per" -v m="$MAX_SWITCHES_PER_REQUEST" 'BEGIN { exit !(p < m) }' ||
	die "$per context switches per request, not fewer than $MAX_SWITCHES_PER_REQUEST: idle channels woken for nothing"
