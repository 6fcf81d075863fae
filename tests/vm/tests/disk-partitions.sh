#!/bin/bash
# /dev/nd0 behaves like a disk: CONFIGURE sends a change uevent and reads the
# partition table; parted makes a GPT partition, /dev/nd0p1 appears and
# carries ext4; SHUTDOWN removes the partition like a removed disk; the
# device configured again finds its partition by itself, file intact.
# timeout: 180
. "$ENBD_ROOT/tests/vm/lib.sh"
require_cmd nbdkit parted mkfs.ext4 udevadm

no_partition() { [ ! -e /dev/nd0p1 ] && [ ! -e /sys/class/block/nd0p1 ]; }
uevent_seen() { grep -q "change.*/block/nd0 (block)" "$uevents"; }

load_enbd
on_exit "$ENBD_CLIENT" -q -d /dev/nd0
uevents=$ENBD_TEST_TMP/uevents
stdbuf -oL udevadm monitor --kernel --subsystem-match=block >"$uevents" 2>&1 &
on_exit kill_and_wait $!
wait_for -t 10 grep -q 'monitor will print' "$uevents" || die "udevadm monitor did not start"
start_nbdkit memory 128M >/dev/null
start_enbd_client -p "$NBDKIT_PORT" 127.0.0.1 /dev/nd0
first=$ENBD_CLIENT_PID
wait_for_disk /dev/nd0
wait_for -t 10 uevent_seen || die "no change uevent after CONFIGURE: $(cat "$uevents")"

parted -s /dev/nd0 mklabel gpt mkpart p1 ext4 1MiB 100% || die "parted failed"
wait_for -t 10 test -b /dev/nd0p1 || die "no /dev/nd0p1 after parted"
mkfs.ext4 -q /dev/nd0p1 || die "mkfs.ext4 /dev/nd0p1"
mnt=$ENBD_TEST_TMP/mnt
mkdir -p "$mnt"
mount /dev/nd0p1 "$mnt" || die "mount /dev/nd0p1"
on_exit umount_if_mounted "$mnt"
echo "on a partition of nd0" >"$mnt/hello"
umount "$mnt"

: >"$uevents"
"$ENBD_CLIENT" -d /dev/nd0 || die "enbd-client -d failed"
wait_for -t 20 proc_gone "$first" || die "the client was not ejected"
rc=0
wait "$first" || rc=$?
[ "$rc" = 3 ] || die "the client exited $rc on its ejection, expected 3"
wait_for -t 10 no_partition || die "/dev/nd0p1 is still there after the shutdown"

: >"$uevents"
start_enbd_client -p "$NBDKIT_PORT" 127.0.0.1 /dev/nd0
wait_for_disk /dev/nd0
wait_for -t 20 test -b /dev/nd0p1 || die "no /dev/nd0p1 after the device was configured again"
uevent_seen || die "no change uevent after the second CONFIGURE"
mount /dev/nd0p1 "$mnt" || die "mount /dev/nd0p1 again"
[ "$(cat "$mnt/hello")" = "on a partition of nd0" ] || die "the file changed"
umount "$mnt"
log "partition made with parted, gone at shutdown, found again at configure"
kill_and_wait "$ENBD_CLIENT_PID" || die "enbd-client exited with status $?"
unload_enbd
