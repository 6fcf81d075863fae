#!/bin/bash
# A shut-down device keeps nothing of its old export in the page cache:
# /dev/nd0 stays open throughout (so the block layer does not drop the cache
# itself), a block read from one export, a shutdown, the device configured
# again from an export with other data: the same read shows the new data.
# timeout: 120
. "$ENBD_ROOT/tests/vm/lib.sh"
require_cmd nbdkit

# block1: the first 8 bytes of block 1 (4 KiB), read through the page cache.
block1() {
	dd if=/dev/nd0 bs=4096 skip=1 count=1 status=none | od -An -tx1 -N8 | tr -d ' '
}

close_nd0() { exec 3<&-; }

load_enbd
on_exit "$ENBD_CLIENT" -q -d /dev/nd0
start_nbdkit pattern 64M >/dev/null
start_enbd_client -p "$NBDKIT_PORT" 127.0.0.1 /dev/nd0
first=$ENBD_CLIENT_PID
wait_for_disk /dev/nd0
exec 3</dev/nd0
on_exit close_nd0
old=$(block1)
# nbdkit pattern: each 8-byte word holds its offset, big-endian.
[ "$old" = 0000000000001000 ] || die "block 1 of the pattern export reads $old"

"$ENBD_CLIENT" -d /dev/nd0 || die "enbd-client -d failed"
wait_for -t 20 proc_gone "$first" || die "the client was not ejected"
rc=0
wait "$first" || rc=$?
[ "$rc" = 3 ] || die "the client exited $rc on its ejection, expected 3"

# Not inherited by the daemons, which outlive close_nd0.
start_nbdkit memory 64M >/dev/null 3<&-
start_enbd_client -p "$NBDKIT_PORT" 127.0.0.1 /dev/nd0 3<&-
wait_for_disk /dev/nd0
new=$(block1)
[ "$new" = 0000000000000000 ] || die "after the reconfigure block 1 reads $new, the old export's data"
log "block 1 read $old from the first export and $new from the second through one open file"
close_nd0
kill_and_wait "$ENBD_CLIENT_PID" || die "enbd-client exited with status $?"
unload_enbd
