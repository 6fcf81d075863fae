#!/bin/bash
# The kernel's own nbd driver against enbd-server: Debian's nbd-client
# attaches /dev/nbd0 (NBD_OPT_GO with an export name, two connections:
# CAN_MULTI_CONN) to a sparse file served by enbd-server.  An ext4
# filesystem on it is made, filled, unmounted, caches dropped, remounted:
# every checksum matches and e2fsck is clean, also on the served file itself
# afterwards.  `nbd-client -d` disconnects cleanly: each connection sends
# NBD_CMD_DISC, the device loses its size, and the server exits 0 on SIGTERM.
# timeout: 300
. "$ENBD_ROOT/tests/vm/lib.sh"
require_cmd nbd-client mkfs.ext4 e2fsck sha256sum
SERVER=$ENBD_ROOT/$ENBD_BUILD/enbd-server
[ -x "$SERVER" ] || die "$SERVER not built (make userspace)"

modprobe nbd nbds_max=2 || skip "no nbd module"
on_exit modprobe -r nbd
wait_for -t 10 test -b /dev/nbd0 || die "no /dev/nbd0 after modprobe nbd"

img=$ENBD_TEST_TMP/disk.img
truncate -s 256M "$img"
srv_log=$ENBD_TEST_TMP/server.log
"$SERVER" -a 127.0.0.1 -p 0 --port-file "$ENBD_TEST_TMP/port" --name disk "$img" \
	</dev/null 2>"$srv_log" &
server=$!
on_exit kill_and_wait "$server"
on_exit tail -n 20 "$srv_log"
wait_for -t 30 test -s "$ENBD_TEST_TMP/port" || die "enbd-server did not listen"
port=$(cat "$ENBD_TEST_TMP/port")

# netlink (the default): nbd-client negotiates, hands the sockets to the
# kernel and exits.
on_exit nbd-client -d /dev/nbd0
nbd-client 127.0.0.1 "$port" /dev/nbd0 -N disk -b 4096 -C 2 >&2 || die "nbd-client failed"
wait_for_disk /dev/nbd0
[ "$(blockdev --getsize64 /dev/nbd0)" -eq $((256 << 20)) ] || die "wrong size"
[ "$(grep -c ': connected' "$srv_log")" -eq 2 ] || die "expected 2 connections: $(cat "$srv_log")"

mkfs.ext4 -q -F /dev/nbd0 || die "mkfs.ext4"
mnt=$ENBD_TEST_TMP/mnt
mkdir -p "$mnt"
umount_if_mounted() { ! mountpoint -q "$1" || umount -l "$1"; }
mount /dev/nbd0 "$mnt" || die "mount"
on_exit umount_if_mounted "$mnt"
src=$ENBD_TEST_TMP/src
mkdir -p "$src" "$mnt/dir/sub"
for i in $(seq 1 16); do
	head -c $((i * 211 * 1024 + i)) /dev/urandom >"$src/f$i"
done
cp "$src"/f* "$mnt/dir/sub/"
dd if=/dev/urandom of="$mnt/big" bs=1M count=48 status=none
(cd "$mnt" && sha256sum big dir/sub/*) >"$ENBD_TEST_TMP/sums"
sync
umount "$mnt"
echo 3 >/proc/sys/vm/drop_caches
blockdev --flushbufs /dev/nbd0
e2fsck -fn /dev/nbd0 >&2 || die "e2fsck found problems"
mount /dev/nbd0 "$mnt" || die "remount"
(cd "$mnt" && sha256sum -c --quiet "$ENBD_TEST_TMP/sums") || die "checksums differ after remount"
cmp "$src/f9" "$mnt/dir/sub/f9" || die "file content differs"
umount "$mnt"

# Clean disconnect: NBD_CMD_DISC on both connections, the device goes away.
nbd-client -d /dev/nbd0 >&2 || die "nbd-client -d failed"
nbd_gone() { [ "$(cat /sys/block/nbd0/size)" -eq 0 ]; }
wait_for -t 30 nbd_gone || die "/dev/nbd0 still has a size after nbd-client -d"
two_discs() { [ "$(grep -c 'NBD_CMD_DISC' "$srv_log")" -eq 2 ]; }
wait_for -t 30 two_discs || die "the server did not see NBD_CMD_DISC on both connections"
both_gone() { [ "$(grep -c ': disconnected' "$srv_log")" -eq 2 ]; }
wait_for -t 30 both_gone || die "the server did not close both connections"
! grep -q 'discarded' "$srv_log" || die "the server discarded requests"

# What the server wrote is a consistent filesystem on its own.
e2fsck -fn "$img" >&2 || die "e2fsck of the served file found problems"
kill_and_wait "$server" || die "enbd-server exited with status $?"
grep -qE ': (error|warning): ' "$srv_log" && die "server logged errors: $(cat "$srv_log")"
log "kernel nbd + ext4 round trip on enbd-server passed"
