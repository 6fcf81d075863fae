#!/bin/bash
# kill -9 of one channel daemon, then of all of them, while fio writes and
# verifies (crc32c) /dev/nd0: enbd-guardian logs each loss with its signal
# and starts a new daemon in the dead one's slot within 2 s; the kernel
# counts the restarts per slot; fio sees no error and the data verifies.
# timeout: 240
. "$ENBD_ROOT/tests/vm/guardian-lib.sh"
require_cmd fio

load_enbd
start_enbd_server
start_guardian --client "/dev/nd0 127.0.0.1 $SERVER_PORT -n 2"
wait_for_disk /dev/nd0
wait_for -t 20 slots_attached 0 2 || die "the two channels did not attach"
pid0=$(nbd_slot 0 Pids: 0)
pid1=$(nbd_slot 0 Pids: 1)
log "channel daemons: $pid0 $pid1"

fio_job=(--name=guardian --filename=/dev/nd0 --rw=write --bs=64k --size=160M
	--direct=1 --ioengine=libaio --iodepth=16 --verify=crc32c --verify_fatal=1)
fio "${fio_job[@]}" --rate=16m --output="$ENBD_TEST_TMP/fio.out" &
fio_pid=$!
on_exit kill_and_wait "$fio_pid" KILL 3	# then the guardian's SIGUSR2 fails what it waits for

requested_over() { [ "$(nbd_total 0 Requested:)" -gt "$1" ]; }
wait_for -t 30 requested_over 200 || die "no I/O reached the device"

# One daemon.
kill -KILL "$pid0"
wait_for -t 2 slot_pid_not 0 0 "$pid0" || die "no new daemon in slot 0 within 2 s"
new0=$(nbd_slot 0 Pids: 0)
wait_for -t 5 guardian_logged "lost child: pid $pid0, signal 9" ||
	die "the guardian did not log the loss of $pid0"
proc_gone "$fio_pid" && die "fio finished before the kill: the workload is too short"
log "slot 0: $pid0 killed, $new0 took over"

# All of them at once.
kill -KILL "$new0" "$pid1"
both_new() { slot_pid_not 0 0 "$new0" && slot_pid_not 0 1 "$pid1"; }
wait_for -t 2 both_new || die "not every slot had a new daemon within 2 s"
proc_gone "$fio_pid" && die "fio finished before the second kill: the workload is too short"
guardian_logged "lost child: pid $new0, signal 9" && guardian_logged "lost child: pid $pid1, signal 9" ||
	die "the guardian did not log both losses"
log "all killed; new daemons $(nbd_slot 0 Pids: 0) $(nbd_slot 0 Pids: 1)"

[ "$(nbd_slot 0 Restarts: 0)" = 2 ] || die "slot 0 Restarts: $(nbd_line 0 Restarts:) (expected 2)"
[ "$(nbd_slot 0 Restarts: 1)" = 1 ] || die "slot 1 Restarts: $(nbd_line 0 Restarts:) (expected 1)"

wait "$fio_pid" || die "fio failed: $(cat "$ENBD_TEST_TMP/fio.out")"
grep -q 'err= 0' "$ENBD_TEST_TMP/fio.out" || die "fio reported errors: $(cat "$ENBD_TEST_TMP/fio.out")"
echo 3 >/proc/sys/vm/drop_caches
fio "${fio_job[@]}" --verify_only --output="$ENBD_TEST_TMP/verify.out" ||
	die "the data does not verify: $(cat "$ENBD_TEST_TMP/verify.out")"
[ "$(nbd_total 0 Errored:)" = 0 ] || die "requests errored: $(nbd_line 0 Errored:)"

stop_guardian || die "enbd-guardian exited with status $?"
log "restarts: $(nbd_line 0 Restarts:)"
