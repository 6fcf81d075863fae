#!/bin/bash
# The keep-alive bound holds while output is blocked: the server (qemu-nbd)
# is frozen and 32 MiB of writes are issued, more than the socket buffers
# take, so the client's send queue stays full (checked with ss) and its probe
# waits behind a partly written request.  The client must still log the
# keep-alive drop within 2 x keepalive of the freeze (+ 2 s for a busy
# machine), and after the thaw reconnect and complete the writes, which read
# back correctly.
# timeout: 200
. "$ENBD_ROOT/tests/vm/lib.sh"
require_cmd ss

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
wait_for_disk /dev/nd0
head -c $((32 << 20)) /dev/urandom >"$ENBD_TEST_TMP/data"

kill -STOP "$server"
stopped_at=$EPOCHREALTIME
dd if="$ENBD_TEST_TMP/data" of=/dev/nd0 bs=4M oflag=direct status=none &
writer=$!
# Send-Q of the client's connection: bytes the server has not read.
send_q() { ss -Htn "dport = :$QEMU_NBD_PORT" | awk '{ n += $3 } END { print n + 0 }'; }
blocked() { [ "$(send_q)" -ge $((1 << 20)) ]; }
wait_for -t $((2 * KA)) blocked || die "output did not pile up: Send-Q $(send_q)"
log "output blocked: Send-Q $(send_q) bytes"
drop='no answer from the server for .* (keep-alive): dropping the connection'
wait_for -t $((2 * KA + 10)) grep -q "$drop" "$log_file" || die "the hung server was not given up"
line=$(grep -m1 "$drop" "$log_file")
dropped_at=$(date -u -d "${line%% *}" +%s.%N)
dt=$(awk "BEGIN { printf \"%.2f\", $dropped_at - ${stopped_at/,/.} }")
log "keep-alive drop $dt s after SIGSTOP with output blocked (keepalive $KA s, bound $((2 * KA)) s)"
awk "BEGIN { exit !($dt <= 2 * $KA + 2) }" || die "detected after $dt s"
thaw
wait_for -t 60 proc_gone "$writer" || die "the writes did not finish after the server resumed"
wait "$writer" || die "the writes failed"
wait_for -t 30 grep -q 'serving /dev/nd0 again' "$log_file" || die "no reconnect"
cmp "$ENBD_TEST_TMP/data" <(dd if=/dev/nd0 bs=4M count=8 iflag=direct status=none) ||
	die "wrong data after the hang"
kill_and_wait "$ENBD_CLIENT_PID" || die "client exited with status $?"
log "output blocked: hung server given up after $dt s, writes completed and correct"
