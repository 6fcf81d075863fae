#!/bin/bash
# Memory reclaim cannot deadlock on /dev/nd0: with ext4 on nd0 and a hog
# holding all but ~200 MiB of the VM's RAM, writing more than the free
# memory through the page cache and then sync finishes (the harness's
# hung-task detector is armed).  The channel daemon runs with
# PR_SET_IO_FLUSHER (PF_MEMALLOC_NOIO in its task flags) and its memory
# locked (VmLck).  The server is nbdkit's zstd memory allocator: the zeroes
# written cost it almost no RAM.
# timeout: 400
. "$ENBD_ROOT/tests/vm/lib.sh"
require_cmd nbdkit mkfs.ext4 python3

load_enbd
on_exit "$ENBD_CLIENT" -q -d /dev/nd0
start_nbdkit memory 4G allocator=zstd >/dev/null
client_log=$ENBD_TEST_TMP/client.log
"$ENBD_CLIENT" -p "$NBDKIT_PORT" 127.0.0.1 /dev/nd0 </dev/null 2>"$client_log" &
client=$!
on_exit kill_and_wait "$client"
on_exit cat "$client_log"
wait_for_disk /dev/nd0
wait_for -t 20 grep -q 'serving /dev/nd0' "$client_log" || die "not served"

# after "pid (comm) ": state ppid pgrp session tty_nr tpgid flags
read -r _ _ _ _ _ _ flags _ < <(sed 's/^.*) //' "/proc/$client/stat")
(( flags & 0x80000 )) || die "no PF_MEMALLOC_NOIO: PR_SET_IO_FLUSHER not set (flags $flags)"
locked=$(awk '/^VmLck:/ { print $2 }' "/proc/$client/status")
[ "${locked:-0}" -gt 0 ] || die "the daemon's memory is not locked"
log "daemon: task flags $(printf 0x%x "$flags"), VmLck $locked kB"
grep -qE 'PR_SET_IO_FLUSHER|mlockall' "$client_log" && die "$(grep -E 'PR_SET|mlockall' "$client_log")"

mkfs.ext4 -q -E lazy_itable_init=1,lazy_journal_init=1 /dev/nd0 || die "mkfs.ext4 failed"
mnt=$ENBD_TEST_TMP/mnt
mkdir -p "$mnt"
mount /dev/nd0 "$mnt" || die "mount failed"
on_exit umount_if_mounted "$mnt"

avail=$(awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo)
hog_mib=$((avail - 200))
python3 -c '
import sys, time
hog = bytearray(b"\x5a") * (int(sys.argv[1]) << 20)
open(sys.argv[2], "w").close()
time.sleep(3600)' "$hog_mib" "$ENBD_TEST_TMP/hog.ready" &
hog=$!
on_exit kill_and_wait "$hog" KILL
wait_for -t 120 test -e "$ENBD_TEST_TMP/hog.ready" || die "the hog did not start"
free_mib=$(awk '/^MemFree:/ { print int($2 / 1024) }' /proc/meminfo)
write_mib=$((free_mib + 300))
log "hog ${hog_mib} MiB; ${free_mib} MiB free; writing ${write_mib} MiB through the page cache"
start=$SECONDS
dd if=/dev/zero of="$mnt/big" bs=1M count="$write_mib" status=none || die "dd failed"
sync || die "sync failed"
log "dd + sync: $((SECONDS - start)) s; daemon VmLck now $(awk '/^VmLck:/ { print $2 }' "/proc/$client/status") kB"
proc_gone "$hog" && die "the hog was killed (OOM?): no memory pressure"
proc_gone "$client" && die "the daemon died"
[ "$(stat -c %s "$mnt/big")" = $((write_mib << 20)) ] || die "short file"
umount "$mnt" || die "umount failed"
kill_and_wait "$client" || die "the daemon exited $? on SIGTERM"
log "writeback of ${write_mib} MiB with ${free_mib} MiB free finished"
