#!/bin/bash
# enbd-client -n 3 against enbd-server (which advertises CAN_MULTI_CONN):
# three channel processes, children of the one started, attach to /dev/nd0
# (/proc/nbdinfo); fio writes and verifies (crc32c) and every channel
# carries requests.  SIGTERM to the parent stops all three (each exit 0, the
# parent exit 0) and leaves the device clean: rmmod works.  Then again with
# the module reloaded: the data written before is still there; kill -9 of one
# channel under fio: the parent logs the lost channel and does not restart
# it, the other two carry on, fio sees no error and the data verifies; the
# parent's SIGTERM then stops the two and it exits 1 (a channel was lost).
# Last, a shutdown of the device (enbd-client -d) ejects the channels and
# the parent exits 3.
# timeout: 500
. "$ENBD_ROOT/tests/vm/guardian-lib.sh"
require_cmd fio

# After a failure, I/O left waiting for a channel would keep rmmod from working.
shut_down_nd0() {
	! grep -q '^enbd ' /proc/modules || "$ENBD_CLIENT" -q -d /dev/nd0
}
load_enbd
on_exit shut_down_nd0
start_enbd_server

client_n=0
start_multi() {
	client_n=$((client_n + 1))
	client_log=$ENBD_TEST_TMP/client.$client_n.log
	"$ENBD_CLIENT" -n 3 -p "$SERVER_PORT" 127.0.0.1 /dev/nd0 </dev/null 2>"$client_log" &
	client=$!
	on_exit kill_and_wait "$client"
	on_exit cat "$client_log"
	wait_for_disk /dev/nd0
	wait_for -t 20 slots_attached 0 3 || die "three channels did not attach: $(nbd_line 0 Sockets:)"
	pids=()
	for slot in 0 1 2; do
		pids+=("$(nbd_slot 0 Pids: "$slot")")
	done
	log "channel pids: ${pids[*]} (parent $client)"
	for pid in "${pids[@]}"; do
		[ "$pid" != 0 ] && [ "$pid" != "$client" ] || die "Pids: $(nbd_line 0 Pids:)"
		read -r stat <"/proc/$pid/stat"
		stat=${stat##*) }
		read -r _ ppid _ <<<"$stat"
		[ "$ppid" = "$client" ] || die "channel $pid is not a child of enbd-client $client"
	done
	[ "$(printf '%s\n' "${pids[@]}" | sort -u | wc -l)" = 3 ] || die "not three processes: ${pids[*]}"
}

fio_job=(--filename=/dev/nd0 --rw=randwrite --bs=64k --size=64M --direct=1 --ioengine=libaio
	--iodepth=32 --verify=crc32c --verify_fatal=1)

log "1) three channels, fio write + verify, SIGTERM"
start_multi
fio --name=multi "${fio_job[@]}" --output="$ENBD_TEST_TMP/fio1.out" ||
	die "fio failed: $(cat "$ENBD_TEST_TMP/fio1.out")"
fio_ok "$ENBD_TEST_TMP/fio1.out"
for slot in 0 1 2; do
	n=$(nbd_slot 0 Requested: "$slot")
	log "channel $slot: $n requests"
	[ "$n" -gt 0 ] || die "channel $slot carried no request: $(nbd_line 0 Requested:)"
done
[ "$(nbd_total 0 Errored:)" = 0 ] || die "requests errored: $(nbd_line 0 Errored:)"
kill_and_wait "$client" || die "enbd-client -n 3 exited with status $? on SIGTERM"
for pid in "${pids[@]}"; do
	proc_gone "$pid" || die "channel $pid outlived its parent"
done
grep -q 'Terminated: passing it on to 3 channels' "$client_log" || die "SIGTERM not passed on"
[ "$(grep -c 'channel [0-2]: pid [0-9]* stopped, exit status 0' "$client_log")" = 3 ] ||
	die "not every channel exited 0"
grep -q 'lost channel' "$client_log" && die "a channel was reported lost on SIGTERM"
grep -q 'all 3 channels ended: exit status 0' "$client_log" || die "no final line"
[ "$(nbd_total 0 Sockets: 2>/dev/null || echo 0)" = 0 ] || die "channels still attached: $(nbd_line 0 Sockets:)"
unload_enbd || die "rmmod enbd failed after the channels stopped"

log "2) module reloaded: the data is still there; kill -9 of one channel under fio"
load_enbd
on_exit shut_down_nd0
start_multi
echo 3 >/proc/sys/vm/drop_caches
fio --name=multi "${fio_job[@]}" --verify_only --output="$ENBD_TEST_TMP/verify1.out" ||
	die "the data written before does not verify: $(cat "$ENBD_TEST_TMP/verify1.out")"
fio --name=kill9 "${fio_job[@]}" --rw=write --size=96M --rate=12m \
	--output="$ENBD_TEST_TMP/fio2.out" &
fio_pid=$!
on_exit kill_and_wait "$fio_pid" KILL 3
requested_over() { [ "$(nbd_total 0 Requested:)" -gt "$1" ]; }
before=$(nbd_total 0 Requested:)
wait_for -t 30 requested_over $((before + 200)) || die "no I/O reached the device"
victim=${pids[1]}
kill -KILL "$victim"
# The supervisor numbers channels in the order it started them, not by slot.
wait_for -t 10 grep -q "lost channel [0-2]: pid $victim, signal 9 (Killed); 2 channels left, not restarted" \
	"$client_log" || die "the parent did not log the lost channel"
wait_for -t 10 slots_attached 0 2 || die "Sockets: $(nbd_line 0 Sockets:)"
after_kill=$(nbd_total 0 Requested:)
proc_gone "$fio_pid" && die "fio finished before the kill: the workload is too short"
wait "$fio_pid" || die "fio failed: $(cat "$ENBD_TEST_TMP/fio2.out")"
fio_ok "$ENBD_TEST_TMP/fio2.out"
[ "$(nbd_total 0 Requested:)" -gt "$after_kill" ] || die "no request after the kill"
[ "$(nbd_total 0 Sockets:)" = 2 ] || die "the lost channel came back: $(nbd_line 0 Sockets:)"
echo 3 >/proc/sys/vm/drop_caches
fio --name=kill9 "${fio_job[@]}" --rw=write --size=96M --verify_only \
	--output="$ENBD_TEST_TMP/verify2.out" || die "the data does not verify: $(cat "$ENBD_TEST_TMP/verify2.out")"
[ "$(nbd_total 0 Errored:)" = 0 ] || die "requests errored: $(nbd_line 0 Errored:)"
rc=0
kill_and_wait "$client" || rc=$?
[ "$rc" = 1 ] || die "enbd-client -n 3 with a lost channel exited $rc on SIGTERM (expected 1)"
grep -q 'Terminated: passing it on to 2 channels' "$client_log" || die "SIGTERM not passed on to the two"
unload_enbd || die "rmmod enbd failed"

log "3) the device is shut down: the channels are ejected, the parent exits 3"
load_enbd
on_exit shut_down_nd0
start_multi
"$ENBD_CLIENT" -d /dev/nd0 || die "enbd-client -d failed"
wait_for -t 30 proc_gone "$client" || die "enbd-client -n 3 did not exit after the shutdown"
rc=0
wait "$client" || rc=$?
[ "$rc" = 3 ] || die "enbd-client -n 3 exited $rc after the shutdown (expected 3)"
grep -q 'channel [0-2]: pid [0-9]*, exit status 3: ejected' "$client_log" || die "no channel was ejected"
grep -q 'lost channel' "$client_log" && die "a channel was reported lost"
grep -q 'all 3 channels ended: exit status 3' "$client_log" || die "no final line"
unload_enbd || die "rmmod enbd failed after the shutdown"
log "three channels shared the work; a lost one was logged and the others carried on"
