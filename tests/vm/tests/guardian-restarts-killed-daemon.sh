#!/bin/bash
# kill -9 of one channel daemon, then of all of them, while fio writes and
# verifies (crc32c) /dev/nd0: enbd-guardian logs each loss with its signal
# and starts a new daemon within 2 s (measured between its own log lines),
# which takes the dead one's slot; the kernel counts the restarts per slot;
# fio sees no error and the data verifies.
# timeout: 300
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

# new_after SLOT OLD-PID: the pid of the first daemon the guardian started
# for channel SLOT after it logged the loss of OLD-PID
new_after() {
	awk -v s="channel $1: restarted, pid " -v l="lost child: pid $2, " '
		index($0, l) { seen = 1 }
		seen && (i = index($0, s)) { split(substr($0, i + length(s)), a, " "); print a[1]; found = 1; exit }
		END { exit !found }' "$GUARDIAN_LOG"
}

# replaced SLOT OLD-PID: the guardian logs OLD-PID's death by SIGKILL and a
# new daemon for channel SLOT within 2 s of it, which attaches in that slot.
# Prints the new pid.
replaced() {
	local slot=$1 old=$2 new lost started
	wait_for -t 10 guardian_logged "lost child: pid $old, signal 9 " ||
		die "the guardian did not log the loss of $old"
	lost=$(glog_ms "lost child: pid $old, ")
	wait_for -t 10 new_after "$slot" "$old" >/dev/null || die "no new daemon for channel $slot"
	new=$(new_after "$slot" "$old")
	started=$(glog_ms "restarted, pid $new ")
	log "slot $slot: $old killed, $new started $((started - lost)) ms after the loss"
	[ $((started - lost)) -le 2000 ] || die "the new daemon came $((started - lost)) ms after the loss"
	wait_for -t 15 slot_pid_is 0 "$slot" "$new" || die "daemon $new did not take slot $slot: $(nbd_line 0 Pids:)"
	echo "$new"
}

# One daemon.
kill -KILL "$pid0"
new0=$(replaced 0 "$pid0")
proc_gone "$fio_pid" && die "fio finished before the kill: the workload is too short"

# All of them at once.
kill -KILL "$new0" "$pid1"
replaced 0 "$new0" >/dev/null
replaced 1 "$pid1" >/dev/null
proc_gone "$fio_pid" && die "fio finished before the second kill: the workload is too short"

[ "$(nbd_slot 0 Restarts: 0)" = 2 ] || die "slot 0 Restarts: $(nbd_line 0 Restarts:) (expected 2)"
[ "$(nbd_slot 0 Restarts: 1)" = 1 ] || die "slot 1 Restarts: $(nbd_line 0 Restarts:) (expected 1)"

wait "$fio_pid" || die "fio failed: $(cat "$ENBD_TEST_TMP/fio.out")"
fio_ok "$ENBD_TEST_TMP/fio.out"
echo 3 >/proc/sys/vm/drop_caches
fio "${fio_job[@]}" --verify_only --output="$ENBD_TEST_TMP/verify.out" ||
	die "the data does not verify: $(cat "$ENBD_TEST_TMP/verify.out")"
[ "$(nbd_total 0 Errored:)" = 0 ] || die "requests errored: $(nbd_line 0 Errored:)"

stop_guardian || die "enbd-guardian exited with status $?"
log "restarts: $(nbd_line 0 Restarts:)"
