#!/bin/bash
# Discarding or zeroing the whole device ends, with aging 2 s, on a server
# that takes 4 s for each trim and write-zeroes (nbdkit's delay filter):
# these requests are at most 64 MiB and get 4 times the aging time, so the
# channel is not reset over and over for a request that merely takes long.
# timeout: 150
. "$ENBD_ROOT/tests/vm/lib.sh"
require_cmd nbdkit blkdiscard

load_enbd aging=2
# Should a step fail with I/O still waiting: fail it, so rmmod works.
on_exit "$ENBD_CLIENT" -q -d /dev/nd0
start_nbdkit --filter=delay memory 256M delay-trim=4 delay-zero=4 >/dev/null
log_file=$ENBD_TEST_TMP/client.log
start_enbd_client --log "$log_file" -p "$NBDKIT_PORT" 127.0.0.1 /dev/nd0
wait_for_disk /dev/nd0

# whole_device WHAT ARGS...: blkdiscard ARGS /dev/nd0 ends within 40 s, successfully
whole_device() {
	local what=$1 pid t0 rc=0
	shift
	t0=${EPOCHREALTIME/[.,]/}
	blkdiscard -f "$@" /dev/nd0 &
	pid=$!
	on_exit _enbd_kill9 "$pid"
	if ! wait_for -t 40 proc_gone "$pid"; then
		# Shut the device down, failing the request: blkdiscard waits in D state.
		"$ENBD_CLIENT" -q -d /dev/nd0
		die "$what of the whole device still running after 40 s"
	fi
	wait "$pid" || rc=$?
	[ "$rc" = 0 ] || die "$what of the whole device failed ($rc)"
	log "figure: $ENBD_TEST_NAME: $what of 256 MiB took $(((${EPOCHREALTIME/[.,]/} - t0) / 1000)) ms"
}
whole_device discard
whole_device write-zeroes -z
grep -q 'stalled' "$log_file" && die "the channel was reported stalled"
resubmitted=$(sed -n 's/^\[0\] Resubmitted: *\([0-9]*\).*/\1/p' /proc/nbdinfo)
[ "$resubmitted" = 0 ] || die "$resubmitted requests were resubmitted"
[ "$(cat /sys/block/nd0/queue/discard_max_bytes)" = $((64 << 20)) ] ||
	die "discard_max_bytes is $(cat /sys/block/nd0/queue/discard_max_bytes), not 64 MiB"
kill_and_wait "$ENBD_CLIENT_PID" || die "enbd-client exited with status $?"
