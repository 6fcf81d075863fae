#!/bin/bash
# enbd-client against enbd-server, serving /dev/nd0 from a sparse file:
#   - fio random writes then reads over 96 MiB with crc32c verification
#     (direct I/O, 4 KiB..512 KiB blocks, queue depth 32): no errors;
#   - blkdiscard of the whole device reaches the server as NBD_CMD_TRIM: the
#     served file's `du` drops to (almost) nothing, and the device reads zeroes;
#   - ext4: made, filled, unmounted, caches dropped, e2fsck clean, remounted,
#     every checksum matches; deleting the big file and fstrim shrink the
#     served file again;
#   - SIGTERM: the client sends NBD_CMD_DISC and exits 0, the server drops
#     nothing and exits 0 on SIGTERM.
# timeout: 420
. "$ENBD_ROOT/tests/vm/lib.sh"
require_cmd fio mkfs.ext4 e2fsck sha256sum blkdiscard fstrim

load_enbd
# Should a step fail with I/O still waiting for a channel: fail it, so rmmod works.
on_exit "$ENBD_CLIENT" -q -d /dev/nd0

img=$ENBD_TEST_TMP/disk.img	# tmpfs: punches holes like a disk filesystem
truncate -s 256M "$img"
start_enbd_server 0 -a 127.0.0.1 "$img"
srv_log=$SERVER_LOG server=$SERVER_PID port=$SERVER_PORT
on_exit tail -n 20 "$srv_log"

log_file=$ENBD_TEST_TMP/client.log
start_enbd_client --log "$log_file" -p "$port" 127.0.0.1 /dev/nd0
client=$ENBD_CLIENT_PID
wait_for_disk /dev/nd0
[ "$(blockdev --getsize64 /dev/nd0)" -eq $((256 << 20)) ] || die "wrong size"
[ "$(cat /sys/block/nd0/queue/discard_max_bytes)" -gt 0 ] || die "nd0 does not offer discard"

used_kib() { du -k "$img" | cut -f1; }

# fio: random writes, then every block read back and verified.
fio_write_verify /dev/nd0 96M
used=$(used_kib)
log "served file uses $used KiB after fio"
[ "$used" -ge $((90 << 10)) ] || die "fio's writes did not reach the file ($used KiB)"

# Discard everything: the server punches holes.
blkdiscard -f /dev/nd0 || die "blkdiscard"
small() { [ "$(used_kib)" -le $((1 << 10)) ]; }
wait_for -t 30 small || die "blkdiscard did not shrink the served file: $(used_kib) KiB"
echo 3 >/proc/sys/vm/drop_caches
cmp -n $((96 << 20)) /dev/zero /dev/nd0 || die "discarded device does not read zeroes"

# ext4 round trip.
mnt=$ENBD_TEST_TMP/mnt
ext4_round_trip /dev/nd0 "$mnt" 64

# fstrim after deleting the big file gives its 64 MiB back.
full=$(used_kib)
rm "$mnt/big"
sync
fstrim -v "$mnt" >&2 || die "fstrim"
trimmed() { [ "$(used_kib)" -le $((full - (60 << 10))) ]; }
wait_for -t 30 trimmed || die "fstrim did not shrink the served file: $full -> $(used_kib) KiB"
log "served file: $full KiB -> $(used_kib) KiB after rm + fstrim"
(cd "$mnt" && sha256sum -c --quiet <(grep -v ' big$' "$EXT4_SUMS")) ||
	die "checksums differ after fstrim"
umount "$mnt"
e2fsck -fn /dev/nd0 >&2 || die "e2fsck found problems after fstrim"

# Clean stop on both sides.
kill_and_wait "$client" || die "enbd-client exited with status $?"
grep -q 'NBD_CMD_DISC' "$srv_log" || die "no NBD_CMD_DISC at the server"
! grep -q 'discarded' "$srv_log" || die "the server discarded requests"
e2fsck -fn "$img" >&2 || die "e2fsck of the served file found problems"
kill_and_wait "$server" || die "enbd-server exited with status $?"
grep -qE ': (error|warning): ' "$srv_log" && die "server logged errors: $(cat "$srv_log")"
log "fio verify, discard and ext4 on enbd-server passed"
