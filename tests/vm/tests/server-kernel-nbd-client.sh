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

modprobe nbd nbds_max=2 || skip "no nbd module"
on_exit modprobe -r nbd
wait_for -t 10 test -b /dev/nbd0 || die "no /dev/nbd0 after modprobe nbd"

img=$ENBD_TEST_TMP/disk.img
truncate -s 256M "$img"
start_enbd_server 0 -a 127.0.0.1 --name disk "$img"
srv_log=$SERVER_LOG server=$SERVER_PID port=$SERVER_PORT
on_exit tail -n 20 "$srv_log"

# netlink (the default): nbd-client negotiates, hands the sockets to the
# kernel and exits.
on_exit nbd-client -d /dev/nbd0
nbd-client 127.0.0.1 "$port" /dev/nbd0 -N disk -b 4096 -C 2 >&2 || die "nbd-client failed"
wait_for_disk /dev/nbd0
[ "$(blockdev --getsize64 /dev/nbd0)" -eq $((256 << 20)) ] || die "wrong size"
[ "$(grep -c ': connected' "$srv_log")" -eq 2 ] || die "expected 2 connections: $(cat "$srv_log")"

# Should a request wait for its reply (the kernel gives up on it after 30 s
# and retries it on the other connection, failing the NBD_CMD_DISC check
# below), this says where it waits: the two connections' queues, and where
# each thread of the server and each nbd worker sleeps.
stall_snapshot() {
	log "still in the ext4 round trip after 20 s: where things wait"
	where_waits "$server"
}
( sleep 20 && stall_snapshot ) &
snapshot=$!
no_snapshot() { kill "$snapshot" 2>/dev/null || true; }
on_exit no_snapshot

mnt=$ENBD_TEST_TMP/mnt
ext4_round_trip /dev/nbd0 "$mnt"
no_snapshot
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
