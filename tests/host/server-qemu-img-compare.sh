#!/bin/sh
# timeout: 60
# qemu-img converts a sparse qcow2-free raw image onto the export, and
# qemu-img compare finds the export identical to the source.
. "$(dirname "$0")/server-lib.sh"
need qemu-img
truncate -s 64M "$T/src.img"
# some data, some holes, some zeroes
head -c 3M /dev/urandom | dd of="$T/src.img" bs=1M seek=5 conv=notrunc status=none
head -c 1M /dev/urandom | dd of="$T/src.img" bs=1M seek=40 conv=notrunc status=none
dd if=/dev/zero of="$T/src.img" bs=1M seek=50 count=2 conv=notrunc status=none
truncate -s 64M "$T/disk.img"
start_server "$T/disk.img"
qemu-img convert -n -f raw -O raw "$T/src.img" "$URI" || fail "qemu-img convert failed"
qemu-img compare -f raw -F raw "$T/src.img" "$URI" || fail "qemu-img compare found a difference"
# and a change made behind the export's back is noticed
printf 'X' | dd of="$T/disk.img" bs=1 seek=6000000 conv=notrunc status=none
if qemu-img compare -q -f raw -F raw "$T/src.img" "$URI"; then
	fail "qemu-img compare missed a difference"
fi
stop_server
