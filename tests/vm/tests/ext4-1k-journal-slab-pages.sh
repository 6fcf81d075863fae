#!/bin/bash
# Bios whose pages are slab memory (jbd2 copies 1 KiB journal blocks into a
# kmem_cache while a commit is running) are carried like any other data:
# the payload copy must not trip hardened usercopy (a kernel BUG), and the
# filesystem must come back intact.
# timeout: 300
. "$ENBD_ROOT/tests/vm/lib.sh"

load_enbd
start_nbdkit memory 128M >/dev/null
start_enbd_client -p "$NBDKIT_PORT" 127.0.0.1 /dev/nd0
wait_for_disk /dev/nd0

mkfs.ext4 -q -b 1024 -J size=4 /dev/nd0 || die "mkfs.ext4 -b 1024 failed"
mnt=$ENBD_TEST_TMP/mnt
mkdir -p "$mnt"
mount -o commit=1 /dev/nd0 "$mnt" || die "mount failed"
on_exit umount -l "$mnt"

# Metadata churn from two writers, each rewriting the same directory and
# inode blocks while the journal commits them: frozen buffers get copied.
churn() { # DIR
	local i
	mkdir -p "$1"
	for i in $(seq 1 150); do
		echo "$i" > "$1/f$((i % 50))"
		[ $((i % 20)) -eq 0 ] && sync -f "$1"
		rm -f "$1/f$(((i + 25) % 50))"
	done
}
churn "$mnt/a" & p1=$!
churn "$mnt/b" & p2=$!
wait $p1 || die "writer a failed"
wait $p2 || die "writer b failed"
sync

umount "$mnt"
fsck.ext4 -fn /dev/nd0 >"$ENBD_TEST_TMP/fsck.log" 2>&1 || {
	cat "$ENBD_TEST_TMP/fsck.log" >&2
	die "fsck found damage"
}
