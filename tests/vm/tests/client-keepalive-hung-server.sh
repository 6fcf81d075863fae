#!/bin/bash
# A hung (not disconnected) server is found by the keep-alive within
# 2 x keepalive: with keepalive=2 (and aging=60, so aging does not step in)
# an idle device's probes are answered and counted in /proc/nbdinfo; then
# the server (qemu-nbd) is frozen with SIGSTOP and a read of known data is
# issued.  The client must log the keep-alive drop within 2 x 2 s of the
# freeze (+ 2 s for a busy machine; the measured time is logged), and after
# SIGCONT reconnect, renegotiate, probe again, and the read completes with the
# data written before.
# timeout: 200
. "$ENBD_ROOT/tests/vm/lib.sh"

KA=2
load_enbd keepalive=$KA aging=60
on_exit "$ENBD_CLIENT" -q -d /dev/nd0
truncate -s 64M "$ENBD_TEST_TMP/disk.img"
start_qemu_nbd "$ENBD_TEST_TMP/disk.img"
server=$QEMU_NBD_PID
thaw() { kill -CONT "$server" 2>/dev/null || true; }
on_exit thaw
log_file=$ENBD_TEST_TMP/client.log
start_enbd_client --log "$log_file" -p "$QEMU_NBD_PORT" 127.0.0.1 /dev/nd0
client=$ENBD_CLIENT_PID
wait_for_disk /dev/nd0

head -c $((8 << 20)) /dev/urandom >"$ENBD_TEST_TMP/data"
dd if="$ENBD_TEST_TMP/data" of=/dev/nd0 bs=1M oflag=direct status=none
sync

keepalives() { sed -n 's/^\[0\] Keepalives: *\([0-9]*\).*/\1/p' /proc/nbdinfo; }
at_least() { [ "$(keepalives)" -ge "$1" ]; }
k=$(keepalives)
wait_for -t $((3 * KA + 5)) at_least $((k + 2)) ||
	die "idle, but no keep-alives counted: $(grep -E 'Policy|Keepalives' /proc/nbdinfo)"
log "idle device: $(keepalives) keep-alives answered"

kill -STOP "$server"
stopped_at=$EPOCHREALTIME
dd if=/dev/nd0 of="$ENBD_TEST_TMP/back" bs=1M count=8 iflag=direct status=none &
reader=$!
drop='no answer from the server for .* (keep-alive): dropping the connection'
wait_for -t $((2 * KA + 10)) grep -q "$drop" "$log_file" || die "the hung server was not given up"
line=$(grep -m1 "$drop" "$log_file")
dropped_at=$(date -u -d "${line%% *}" +%s.%N)
dt=$(awk "BEGIN { printf \"%.2f\", $dropped_at - ${stopped_at/,/.} }")
log "keep-alive drop $dt s after SIGSTOP (keepalive $KA s, bound $((2 * KA)) s): ${line#* }"
awk "BEGIN { exit !($dt <= 2 * $KA + 2) }" || die "detected after $dt s"
nap 1
thaw
wait_for -t 60 proc_gone "$reader" || die "the read did not finish after the server resumed"
wait "$reader" || die "the read failed"
cmp "$ENBD_TEST_TMP/data" "$ENBD_TEST_TMP/back" || die "wrong data after the hang"
wait_for -t 30 grep -q 'serving /dev/nd0 again' "$log_file" || die "no reconnect"
! grep -q 'the kernel reports this channel stalled' "$log_file" || die "aging stepped in, not the keep-alive"
k=$(keepalives)
wait_for -t $((2 * KA + 5)) at_least $((k + 1)) || die "no keep-alives on the new connection"
kill_and_wait "$client" || die "client exited with status $?"
log "hung server given up after $dt s, reconnected, read correct"
