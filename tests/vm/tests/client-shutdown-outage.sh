#!/bin/bash
# The device is shut down (enbd-client -d) while its only client is
# disconnected and retrying: when the server is back the client does not
# bring the device back to life - it exits 3 without attaching - and the
# module unloads.
# timeout: 200
. "$ENBD_ROOT/tests/vm/lib.sh"
require_cmd qemu-nbd

load_enbd
on_exit "$ENBD_CLIENT" -q -d /dev/nd0
truncate -s 64M "$ENBD_TEST_TMP/disk.img"
port=$((20000 + RANDOM % 20000))
start_server() {
	qemu-nbd -f raw -t -e 4 -b 127.0.0.1 -p "$port" "$ENBD_TEST_TMP/disk.img" </dev/null >&2 &
	server=$!
	on_exit kill_and_wait "$server"
	wait_for -t 30 "$ENBD_CLIENT" --probe -q -p "$port" 127.0.0.1 >/dev/null 2>&1 ||
		die "qemu-nbd did not come up"
}
start_server
log_file=$ENBD_TEST_TMP/client.log
start_enbd_client --log "$log_file" -p "$port" 127.0.0.1 /dev/nd0
client=$ENBD_CLIENT_PID
wait_for_disk /dev/nd0

kill_and_wait "$server"
wait_for -t 20 grep -q 'reconnecting in' "$log_file" || die "the client did not notice the server going"
"$ENBD_CLIENT" -d /dev/nd0 || die "enbd-client -d failed"
[ "$(cat /sys/block/nd0/size)" -eq 0 ] || die "capacity not 0 after the shutdown"
start_server
wait_for -t 30 proc_gone "$client" || die "the client is still running"
rc=0
wait "$client" || rc=$?
[ $rc -eq 3 ] || die "client exited with $rc, expected 3"
grep -q 'was shut down while this channel was disconnected' "$log_file" || die "no message"
grep -q 'serving /dev/nd0 again' "$log_file" && die "the client served the device again"
[ "$(cat /sys/block/nd0/size)" -eq 0 ] || die "the device came back to life"
unload_enbd
log "a device shut down during an outage stays down"
