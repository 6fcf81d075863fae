#!/bin/bash
# Discard, write-zeroes, flush and FUA from /dev/nd0 reach the NBD server as
# NBD_CMD_TRIM, NBD_CMD_WRITE_ZEROES, NBD_CMD_FLUSH and NBD_CMD_FLAG_FUA
# (seen in nbdkit's log filter), with the right offsets and lengths, and
# the zeroed range reads back as zeroes.
# timeout: 200
. "$ENBD_ROOT/tests/vm/lib.sh"
require_cmd nbdkit blkdiscard

load_enbd
# Should a step fail with I/O still waiting for a channel: fail it, so rmmod works.
on_exit "$ENBD_CLIENT" -q -d /dev/nd0
nbdlog=$ENBD_TEST_TMP/nbdkit-ops.log
start_nbdkit --filter=log memory 64M logfile="$nbdlog" >/dev/null
log_file=$ENBD_TEST_TMP/client.log
start_enbd_client --log "$log_file" -p "$NBDKIT_PORT" 127.0.0.1 /dev/nd0
client=$ENBD_CLIENT_PID
wait_for_disk /dev/nd0
[ "$(cat /sys/block/nd0/queue/discard_max_bytes)" -gt 0 ] || die "nd0 does not offer discard"
[ "$(cat /sys/block/nd0/queue/write_zeroes_max_bytes)" -gt 0 ] || die "nd0 does not offer write-zeroes"

# ops NAME OFFSET COUNT: nbdkit logged operation NAME on exactly that range
ops() {
	grep -E "connection=[0-9]+ $1 id=[0-9]+ offset=$2 count=$3( |$)" "$nbdlog"
}

# A pattern over the first 4 MiB.
head -c $((4 << 20)) /dev/urandom >"$ENBD_TEST_TMP/pattern"
dd if="$ENBD_TEST_TMP/pattern" of=/dev/nd0 bs=1M oflag=direct status=none
cmp -n $((4 << 20)) "$ENBD_TEST_TMP/pattern" /dev/nd0 || die "pattern did not read back"

# Discard 1 MiB at 1 MiB: NBD_CMD_TRIM.
blkdiscard -f -o $((1 << 20)) -l $((1 << 20)) /dev/nd0 || die "blkdiscard"
wait_for -t 5 ops Trim 0x100000 0x100000 >/dev/null || die "no trim at the server: $(grep -v Read "$nbdlog" | tail -n 5)"

# Zero 1 MiB at 2 MiB (BLKZEROOUT): NBD_CMD_WRITE_ZEROES, reads back zeroes.
blkdiscard -f -z -o $((2 << 20)) -l $((1 << 20)) /dev/nd0 || die "blkdiscard -z"
wait_for -t 5 ops Zero 0x200000 0x100000 >/dev/null || die "no write-zeroes at the server: $(grep -v Read "$nbdlog" | tail -n 5)"
echo 3 >/proc/sys/vm/drop_caches
cmp -n $((1 << 20)) /dev/zero <(dd if=/dev/nd0 bs=1M skip=2 count=1 iflag=direct status=none) ||
	die "zeroed range does not read back as zeroes"
cmp -n $((1 << 20)) "$ENBD_TEST_TMP/pattern" /dev/nd0 || die "the first MiB changed"
cmp -n $((1 << 20)) <(tail -c +$(((3 << 20) + 1)) "$ENBD_TEST_TMP/pattern") \
	<(dd if=/dev/nd0 bs=1M skip=3 count=1 iflag=direct status=none) || die "the fourth MiB changed"

# fsync: NBD_CMD_FLUSH.  O_DSYNC direct write: NBD_CMD_FLAG_FUA.
dd if=/dev/urandom of=/dev/nd0 bs=4k count=1 seek=2000 conv=fsync status=none
wait_for -t 5 grep -q 'Flush id=' "$nbdlog" || die "no flush at the server"
dd if=/dev/urandom of=/dev/nd0 bs=4k count=1 seek=3000 oflag=direct,dsync status=none
wait_for -t 5 grep -qE "Write id=[0-9]+ offset=$(printf '0x%x' $((3000 * 4096))) count=0x1000 fua=1" "$nbdlog" ||
	die "no FUA write at the server: $(grep Write "$nbdlog" | tail -n 3)"

kill_and_wait "$client" || die "enbd-client exited with status $?"
grep -E ' (Trim|Zero|Flush) ' "$nbdlog" >&2
log "trim, write-zeroes, flush and FUA reached the server"
