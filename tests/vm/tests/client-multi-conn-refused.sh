#!/bin/bash
# More than one channel only where the server advertises CAN_MULTI_CONN:
#   a) enbd-client -n 2 against writable qemu-nbd (one client at a time, the
#      default, and no CAN_MULTI_CONN; with -e above 1 qemu 7.2 advertises
#      it): each channel refuses the server before serving the device, the
#      parent exits 1 and nothing is attached or configured;
#   b) --force-multi-conn against nbdkit file with multi-conn-mode=disable
#      (several connections, no CAN_MULTI_CONN): a warning per channel, both
#      attach, data written through them reaches the file, SIGTERM stops
#      both (exit 0);
#   c) -n 2 served by nbdkit memory (which advertises it), then the server
#      replaced on the same port by qemu-nbd with an export of the same size:
#      on reconnecting both channels refuse to serve the device from it
#      (like any incompatible export change) and the parent exits 1.
# timeout: 300
. "$ENBD_ROOT/tests/vm/guardian-lib.sh"
require_cmd qemu-nbd nbdkit

# After a failure, I/O left waiting for a channel would keep rmmod from working.
shut_down_nd0() {
	! grep -q '^enbd ' /proc/modules || "$ENBD_CLIENT" -q -d /dev/nd0
}
load_enbd
on_exit shut_down_nd0
img=$ENBD_TEST_TMP/disk.img
truncate -s 64M "$img"
qemu_n=0
start_qemu_nbd() { # PORT
	qemu_n=$((qemu_n + 1))
	qemu-nbd -f raw -t -b 127.0.0.1 -p "$1" "$img" </dev/null \
		>"$ENBD_TEST_TMP/qemu-nbd.$qemu_n.log" 2>&1 &
	qemu_pid=$!
	on_exit kill_and_wait "$qemu_pid"
	wait_for -t 30 "$ENBD_CLIENT" --probe -q -p "$1" 127.0.0.1 >/dev/null 2>&1 ||
		die "qemu-nbd did not come up: $(cat "$ENBD_TEST_TMP/qemu-nbd.$qemu_n.log")"
}

client_n=0
start_client() { # ARGS...
	client_n=$((client_n + 1))
	client_log=$ENBD_TEST_TMP/client.$client_n.log
	"$ENBD_CLIENT" "$@" </dev/null 2>"$client_log" &
	client=$!
	on_exit kill_and_wait "$client"
	on_exit cat "$client_log"
}

# A channel attaches to the device before it connects, so the device's
# Sockets count says nothing about the handshake: wait for both channels'
# "serving" lines before looking at what they negotiated or ending the server.
both_serving() { [ "$(grep -c 'serving /dev/nd0' "$client_log")" = 2 ]; }

# wait_exit PID: wait (60 s) until the client has ended by itself; its status in $rc
wait_exit() {
	wait_for -t 60 proc_gone "$1" || die "enbd-client $1 did not exit by itself"
	rc=0
	wait "$1" || rc=$?
}

log "a) -n 2 against writable qemu-nbd: refused"
port=$((20000 + RANDOM % 20000))
start_qemu_nbd "$port"
start_client -n 2 -p "$port" 127.0.0.1 /dev/nd0
wait_exit "$client"
[ "$rc" = 1 ] || die "enbd-client -n 2 exited $rc (expected 1)"
[ "$(grep -c 'error: 127.0.0.1 port [0-9]*: export .* does not advertise NBD_FLAG_CAN_MULTI_CONN, so 2 channels' "$client_log")" = 2 ] ||
	die "not two clear refusals"
[ "$(grep -c 'lost channel [01]: pid [0-9]*, exit status 1' "$client_log")" = 2 ] ||
	die "the parent did not log both channels' end"
grep -q 'serving /dev/nd0' "$client_log" && die "a channel served the device"
[ "$(cat /sys/block/nd0/size)" = 0 ] || die "the device was configured: $(cat /sys/block/nd0/size) sectors"
! nbd_line 0 Sockets: >/dev/null || [ "$(nbd_total 0 Sockets:)" = 0 ] ||
	die "channels attached: $(nbd_line 0 Sockets:)"
kill_and_wait "$qemu_pid" || true

log "b) --force-multi-conn against a server without CAN_MULTI_CONN: accepted with a warning"
start_nbdkit --filter=multi-conn file "$img" multi-conn-mode=disable >/dev/null
start_client -n 2 --force-multi-conn -p "$NBDKIT_PORT" 127.0.0.1 /dev/nd0
wait_for_disk /dev/nd0
wait_for -t 20 both_serving || die "the two channels did not both attach and negotiate"
[ "$(grep -c 'warning: .*does not advertise NBD_FLAG_CAN_MULTI_CONN; --force-multi-conn: going on with 2 channels' "$client_log")" = 2 ] ||
	die "not one warning per channel"
head -c 8M /dev/urandom >"$ENBD_TEST_TMP/data"
dd if="$ENBD_TEST_TMP/data" of=/dev/nd0 bs=1M oflag=direct conv=fsync status=none || die "write failed"
echo 3 >/proc/sys/vm/drop_caches
cmp -n 8M "$ENBD_TEST_TMP/data" /dev/nd0 || die "data differs"
kill_and_wait "$client" || die "enbd-client -n 2 --force-multi-conn exited $? on SIGTERM"
cmp -n 8M "$ENBD_TEST_TMP/data" "$img" || die "the data did not reach the server's file"
kill_and_wait "$NBDKIT_PID"
unload_enbd || die "rmmod enbd failed"

log "c) the server stops advertising CAN_MULTI_CONN on a reconnect"
load_enbd
on_exit shut_down_nd0
start_nbdkit memory 64M >/dev/null
start_client -n 2 -p "$NBDKIT_PORT" 127.0.0.1 /dev/nd0
wait_for_disk /dev/nd0
wait_for -t 20 both_serving || die "the two channels did not negotiate with nbdkit"
grep -q 'warning' "$client_log" && die "warned although nbdkit advertises CAN_MULTI_CONN"
kill_and_wait "$NBDKIT_PID" KILL
start_qemu_nbd "$NBDKIT_PORT"
wait_exit "$client"
[ "$rc" = 1 ] || die "enbd-client -n 2 exited $rc after the server changed (expected 1)"
[ "$(grep -c 'does not advertise NBD_FLAG_CAN_MULTI_CONN, so 2 channels.*: refusing to serve /dev/nd0 from it' "$client_log")" = 2 ] ||
	die "the channels did not refuse the changed server"
grep -q 'serving /dev/nd0 again' "$client_log" && die "a channel served the device from qemu-nbd"
log "refused without CAN_MULTI_CONN, first and on a reconnect; accepted with a warning when forced"
