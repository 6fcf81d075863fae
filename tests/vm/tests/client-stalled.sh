#!/bin/bash
# A hung (not disconnected) server: with aging=2 the kernel marks the channel
# stalled (POLLPRI) once a request waits longer than 2 s; the client drops
# the connection, detaches (the aged reads are resubmitted), reconnects and
# renegotiates as soon as the server answers again.  Reads of known data
# issued while the server was frozen complete with the right data.
# The server is qemu-nbd: nbdkit 1.32 can abort (an assertion in
# raw_send_socket) when a client drops a connection with requests in flight.
# timeout: 200
. "$ENBD_ROOT/tests/vm/lib.sh"

load_enbd aging=2
# Should a step fail with I/O still waiting for a channel: fail it, so rmmod works.
on_exit "$ENBD_CLIENT" -q -d /dev/nd0
truncate -s 64M "$ENBD_TEST_TMP/disk.img"
start_qemu_nbd "$ENBD_TEST_TMP/disk.img"
server=$QEMU_NBD_PID
log_file=$ENBD_TEST_TMP/client.log
start_enbd_client --log "$log_file" -p "$QEMU_NBD_PORT" 127.0.0.1 /dev/nd0
client=$ENBD_CLIENT_PID
wait_for_disk /dev/nd0

head -c $((8 << 20)) /dev/urandom >"$ENBD_TEST_TMP/data"
dd if="$ENBD_TEST_TMP/data" of=/dev/nd0 bs=1M oflag=direct status=none
sync

# Freeze the server, read, thaw it after 5 s.
kill -STOP "$server"
on_exit kill -CONT "$server"
dd if=/dev/nd0 of="$ENBD_TEST_TMP/back" bs=1M count=8 iflag=direct status=none &
reader=$!
sleep 5
kill -CONT "$server"
wait_for -t 60 proc_gone "$reader" || die "the read did not finish after the server resumed"
wait "$reader" || die "the read failed"
cmp "$ENBD_TEST_TMP/data" "$ENBD_TEST_TMP/back" || die "wrong data after the stall"
grep -q 'the kernel reports this channel stalled' "$log_file" || die "no stall seen: $(cat "$log_file")"
wait_for -t 30 grep -q 'serving /dev/nd0 again' "$log_file" || die "no reconnect"
kill_and_wait "$client" || die "client exited with status $?"
log "stall detected, connection renewed, reads correct"
