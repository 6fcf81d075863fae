#!/bin/bash
# enbd-client under load: fio random writes then reads with crc32c
# verification over 128 MiB of /dev/nd0 (direct I/O, 4 KiB..512 KiB blocks,
# queue depth 32): no errors, every block verifies, many requests in flight
# on the one NBD connection; then a clean SIGTERM.
# timeout: 400
. "$ENBD_ROOT/tests/vm/lib.sh"
require_cmd nbdkit fio

load_enbd
# Should a step fail with I/O still waiting for a channel: fail it, so rmmod works.
on_exit "$ENBD_CLIENT" -q -d /dev/nd0
start_nbdkit memory 256M >/dev/null
log_file=$ENBD_TEST_TMP/client.log
start_enbd_client --log "$log_file" -p "$NBDKIT_PORT" 127.0.0.1 /dev/nd0
client=$ENBD_CLIENT_PID
wait_for_disk /dev/nd0

fio_write_verify /dev/nd0 128M

kill_and_wait "$client" || die "enbd-client exited with status $?"
n=$(sed -n 's/.*(at most \([0-9]*\) in flight).*/\1/p' "$log_file")
[ "${n:-0}" -gt 4 ] || die "at most ${n:-0} requests were in flight"
grep -q ' 0 errors' "$log_file" || die "the client counted errors"
log "fio verify passed with up to $n requests in flight"
