#!/bin/bash
# A hung (not disconnected) server is found by the keep-alive within
# 2 x keepalive: with keepalive=2 (5 for b; aging=60, so aging does not step in)
# an idle device's probes are answered and counted in /proc/nbdinfo.  Then the
# server (qemu-nbd) is frozen with SIGSTOP twice, each time the client must
# log the keep-alive drop within 2 x 2 s of the freeze (+ 2 s for a busy
# machine; the measured time is logged), and after SIGCONT reconnect and
# renegotiate:
#   a) with a read of known data waiting: it completes with the right data;
#   b) with 32 MiB of writes, more than the socket buffers take, so output is
#      blocked (Send-Q checked with ss) and the probe waits behind a partly
#      written request: the writes complete and read back correctly.
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

keepalives() { sed -n 's/^\[0\] Keepalives: *\([0-9]*\).*/\1/p' /proc/nbdinfo; }
at_least() { [ "$(keepalives)" -ge "$1" ]; }
count() { grep -c "$1" "$log_file" || true; }
more_than() { [ "$(count "$1")" -gt "$2" ]; }
drop='no answer from the server for .* (keep-alive): dropping the connection'
again='serving /dev/nd0 again'

# freeze: SIGSTOP the server and note the time.
freeze() {
	drops=$(count "$drop")
	kill -STOP "$server"
	stopped_at=$EPOCHREALTIME
}

# expect_drop WHAT: the next keep-alive drop comes within 2 x KA (+ 2 s).
expect_drop() {
	local line dropped_at dt
	wait_for -t $((2 * KA + 10)) more_than "$drop" "$drops" || die "$1: the hung server was not given up"
	line=$(grep "$drop" "$log_file" | sed -n "$((drops + 1))p")
	dropped_at=$(date -u -d "${line%% *}" +%s.%N)
	dt=$(awk "BEGIN { printf \"%.2f\", $dropped_at - ${stopped_at/,/.} }")
	log "$1: keep-alive drop $dt s after SIGSTOP (keepalive $KA s, bound $((2 * KA)) s): ${line#* }"
	awk "BEGIN { exit !($dt <= 2 * $KA + 2) }" || die "$1: detected after $dt s"
}

head -c $((8 << 20)) /dev/urandom >"$ENBD_TEST_TMP/data"
dd if="$ENBD_TEST_TMP/data" of=/dev/nd0 bs=1M oflag=direct status=none
sync
k=$(keepalives)
wait_for -t $((3 * KA + 5)) at_least $((k + 2)) ||
	die "idle, but no keep-alives counted: $(grep -E 'Policy|Keepalives' /proc/nbdinfo)"
log "idle device: $(keepalives) keep-alives answered"

# a) a read waits for the frozen server
freeze
dd if=/dev/nd0 of="$ENBD_TEST_TMP/back" bs=1M count=8 iflag=direct status=none &
reader=$!
expect_drop "a read waiting"
nap 1
thaw
wait_for -t 60 proc_gone "$reader" || die "the read did not finish after the server resumed"
wait "$reader" || die "the read failed"
cmp "$ENBD_TEST_TMP/data" "$ENBD_TEST_TMP/back" || die "wrong data after the hang"
wait_for -t 30 more_than "$again" 0 || die "no reconnect"
k=$(keepalives)
wait_for -t $((2 * KA + 5)) at_least $((k + 1)) || die "no keep-alives on the new connection"

# b) output blocked behind writes the frozen server does not read.  Keep-alive
# 5 s from here: the pile-up must be seen before the drop, and a loaded TCG
# machine can take seconds to start dd and push a megabyte out.
KA=5
echo $KA >/sys/module/enbd/parameters/keepalive
k=$(keepalives)
wait_for -t $((2 * KA + 5)) at_least $((k + 1)) || die "no keep-alive after keepalive=$KA"
head -c $((32 << 20)) /dev/urandom >"$ENBD_TEST_TMP/data"
freeze
dd if="$ENBD_TEST_TMP/data" of=/dev/nd0 bs=4M oflag=direct status=none &
writer=$!
send_q() { ss -Htn "dport = :$QEMU_NBD_PORT" | awk '{ n += $3 } END { print n + 0 }'; }
blocked() { [ "$(send_q)" -ge $((1 << 20)) ]; }
wait_for -t $KA blocked || die "output did not pile up: Send-Q $(send_q)"
log "output blocked: Send-Q $(send_q) bytes"
expect_drop "output blocked"
thaw
wait_for -t 60 proc_gone "$writer" || die "the writes did not finish after the server resumed"
wait "$writer" || die "the writes failed"
wait_for -t 30 more_than "$again" 1 || die "no second reconnect"
cmp "$ENBD_TEST_TMP/data" <(dd if=/dev/nd0 bs=4M count=8 iflag=direct status=none) ||
	die "wrong data after the second hang"

! grep -q 'the kernel reports this channel stalled' "$log_file" || die "aging stepped in, not the keep-alive"
kill_and_wait "$ENBD_CLIENT_PID" || die "client exited with status $?"
log "hung server given up twice within the bound, reconnected, data correct"
