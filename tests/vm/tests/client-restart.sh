#!/bin/bash
# Requests are never failed or lost when the channel goes away under load:
# while fio writes and verifies (crc32c) /dev/nd0,
#   a) the client gets SIGTERM (finishes what is in flight, detaches, exit 0)
#      and a new client is started a second later;
#   b) the client is killed with SIGKILL and a new one started;
#   c) the NBD server is killed with SIGKILL and restarted on the same file
#      and port: the same client reconnects (backoff) and renegotiates.
# Each time fio sees no error and every block verifies: the kernel put the
# claimed requests back on the queue and the next channel carried them.
# The server is qemu-nbd: nbdkit 1.32 can abort (an assertion in
# raw_send_socket) when a client dies with requests in flight.
# timeout: 500
. "$ENBD_ROOT/tests/vm/lib.sh"
require_cmd qemu-nbd fio

load_enbd
on_exit "$ENBD_CLIENT" -q -d /dev/nd0
img=$ENBD_TEST_TMP/disk.img
truncate -s 128M "$img"
port=$((20000 + RANDOM % 20000))
server_n=0
start_server() {
	server_n=$((server_n + 1))
	qemu-nbd -f raw -t -e 4 -b 127.0.0.1 -p "$port" "$img" </dev/null \
		>"$ENBD_TEST_TMP/qemu-nbd.$server_n.log" 2>&1 &
	server_pid=$!
	on_exit kill_and_wait "$server_pid"
	wait_for -t 30 "$ENBD_CLIENT" --probe -q -p "$port" 127.0.0.1 >/dev/null 2>&1 ||
		die "qemu-nbd did not come up: $(cat "$ENBD_TEST_TMP/qemu-nbd.$server_n.log")"
}
start_server

client_n=0
start_client() {
	client_n=$((client_n + 1))
	client_log=$ENBD_TEST_TMP/client.$client_n.log
	"$ENBD_CLIENT" -p "$port" 127.0.0.1 /dev/nd0 </dev/null 2>"$client_log" &
	client=$!
	on_exit kill_and_wait "$client"
	on_exit cat "$client_log"
}

fio_bg() { # NAME: random writes + verify in the background
	fio_out=$ENBD_TEST_TMP/fio-$1.out
	fio --name="$1" --filename=/dev/nd0 --direct=1 --ioengine=libaio --iodepth=16 \
		--rw=randwrite --bsrange=4k-256k --size=96M --verify=crc32c --verify_fatal=1 \
		--do_verify=1 --randrepeat=0 --output="$fio_out" &
	fio_pid=$!
	on_exit kill -KILL "$fio_pid"
}

fio_wait() {
	local rc=0
	wait "$fio_pid" || rc=$?
	[ $rc -eq 0 ] && grep -qE 'err= *0' "$fio_out" || { cat "$fio_out" >&2; die "fio failed (exit $rc)"; }
	grep -E 'READ:|WRITE:' "$fio_out" >&2
}

start_client
wait_for_disk /dev/nd0

log "a) SIGTERM the client under load, start another"
fio_bg sigterm
sleep 3
kill_and_wait "$client" || die "SIGTERM: client exited with status $?"
grep -q 'Terminated: finishing requests in flight' "$client_log" || die "no orderly stop"
sleep 1
start_client
fio_wait

log "b) SIGKILL the client under load, start another"
fio_bg sigkill
sleep 3
kill -KILL "$client"
wait "$client" 2>/dev/null || true
sleep 1
start_client
fio_wait

log "c) SIGKILL the server under load, restart it on the same port"
fio_bg server
sleep 3
kill -KILL "$server_pid"
sleep 2
start_server
fio_wait
grep -q 'serving /dev/nd0 again' "$client_log" || die "the client did not reconnect"
grep -q 'reconnecting in' "$client_log" || die "no backoff"

kill_and_wait "$client" || die "client exited with status $?"
grep -q ' 1 reconnects' "$client_log" || die "reconnect count: $(grep reconnects "$client_log")"
grep -E '^\[0\] (Requested|Errored|Resubmitted|Discarded)' /proc/nbdinfo >&2 || true
[ "$(sed -n 's/^\[0\] Errored: *\([0-9]*\).*/\1/p' /proc/nbdinfo)" = 0 ] || die "requests errored"
log "no request failed across a client restart, a client kill and a server restart"
