#!/bin/bash
# The guest side of `make demo-quick`: serve /dev/nd0 from nbdkit through
# one enbd-client, put a file system on it and use it.  Runs in the VM with
# its output on the console (tests/vm/run --demo quick).
. "$ENBD_ROOT/tests/vm/lib.sh"

MNT=$ENBD_TEST_TMP/mnt

umount_if_mounted() {
	! mountpoint -q "$1" || umount "$1"
}

show() {
	printf '\n# %s\n' "$*"
	"$@"
}

show insmod "$ENBD_MODULE" keepalive=5 readahead=512
on_exit unload_enbd
wait_for -t 10 test -c /dev/enbd-control || die "no /dev/enbd-control"

printf '\n# nbdkit memory 1G\n'
port=$(start_nbdkit memory 1G)

printf '\n# %s -p %s localhost /dev/nd0 &\n' "$ENBD_CLIENT" "$port"
start_enbd_client -p "$port" localhost /dev/nd0
wait_for_disk /dev/nd0

show mkfs.ext4 -q -L enbd-demo /dev/nd0
mkdir -p "$MNT"
show mount /dev/nd0 "$MNT"
on_exit umount_if_mounted "$MNT"
log "writing files"
show dd if=/dev/urandom of="$MNT/random.bin" bs=1M count=32 status=none
show cp -r "$ENBD_ROOT/include" "$MNT/"
echo "hello from enbd" >"$MNT/hello.txt"
show sync
show ls -l "$MNT"
show df -h "$MNT"
show cat /proc/nbdinfo
show sha256sum "$MNT/random.bin"
show umount "$MNT"
show mount -o ro /dev/nd0 "$MNT"
show sha256sum "$MNT/random.bin"
show umount "$MNT"

printf '\n# kill -TERM %s   (enbd-client)\n' "$ENBD_CLIENT_PID"
kill_and_wait "$ENBD_CLIENT_PID" || die "enbd-client exited with status $? on SIGTERM"
show rmmod enbd
printf '\ndemo finished\n'
