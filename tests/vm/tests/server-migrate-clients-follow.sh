#!/bin/bash
# The export of /dev/nd0 moves to another enbd-server while ext4 and fio
# --verify run on it, the destination taking over the source's address
# (daemon/server/README.md, How clients follow): the source mirrors to an
# `enbd-server --listen --exit-after-migration`, answers ESHUTDOWN and
# exits; a server on the destination's file then takes the source's port;
# enbd-client reconnects, renegotiates and carries on.  fio sees no error
# and every block verifies, the destination's file is a clean ext4 (e2fsck
# on the file itself) as sparse as the source's, and the source's log gives
# the pause (writes held) and throughput.  Logs fio's longest I/O: the
# client-visible stall of the whole move.
# timeout: 200
. "$ENBD_ROOT/tests/vm/lib.sh"
require_cmd fio mkfs.ext4 e2fsck jq

load_enbd
on_exit "$ENBD_CLIENT" -q -d /dev/nd0
src=$ENBD_TEST_TMP/src.img dst=$ENBD_TEST_TMP/dst.img sock=$ENBD_TEST_TMP/src.sock
truncate -s 256M "$src" "$dst"
start_enbd_server 0 -a 127.0.0.1 --sock "$sock" "$src"
src_pid=$SERVER_PID port=$SERVER_PORT src_log=$SERVER_LOG
on_exit tail -n 20 "$src_log"
start_enbd_server 0 -a 127.0.0.1 --listen --exit-after-migration "$dst"
dst_pid=$SERVER_PID dst_port=$SERVER_PORT

log_file=$ENBD_TEST_TMP/client.log
start_enbd_client --log "$log_file" -p "$port" 127.0.0.1 /dev/nd0
wait_for_disk /dev/nd0
mnt=$ENBD_TEST_TMP/mnt
mkdir -p "$mnt"
mkfs.ext4 -q -F /dev/nd0 || die "mkfs.ext4"
mount /dev/nd0 "$mnt" || die "mount"
on_exit umount_if_mounted "$mnt"

fio_verify_start "$mnt/fio.dat" 32M 120
fio_writing() { [ -s "$mnt/fio.dat" ] && [ "$(du -k "$mnt/fio.dat" | cut -f1)" -ge $((32 << 10)) ]; }
wait_for -t 60 fio_writing || die "fio did not lay out its file"
nap 2
"$ENBD_SERVER" control --sock "$sock" mirror 127.0.0.1 "$dst_port" || die "mirror refused"
wait_for -t 60 proc_gone "$src_pid" || die "the source did not finish: $("$ENBD_SERVER" control --sock "$sock" status)"
wait "$src_pid" || die "the source exited with status $?"
wait "$dst_pid" || die "the destination exited with status $?"
grep 'mirror: complete' "$src_log" >&2 || die "no completion in the source's log"
src_kib=$(du -k "$src" | cut -f1)

# the destination takes over the address
start_enbd_server "$port" -a 127.0.0.1 "$dst"
new_pid=$SERVER_PID
wait_for -t 60 grep -q 'serving /dev/nd0 again' "$log_file" || die "the client did not reconnect"
nap 3
fio_verify_stop || die "fio saw errors across the migration"
umount "$mnt" || die "umount"
kill_and_wait "$ENBD_CLIENT_PID" || die "enbd-client exited with status $?"
kill_and_wait "$new_pid" || die "the successor server exited with status $?"
e2fsck -fn "$dst" >"$ENBD_TEST_TMP/fsck.out" 2>&1 ||
	{ cat "$ENBD_TEST_TMP/fsck.out" >&2; die "the destination's file is not a clean ext4"; }
dst_kib=$(du -k "$dst" | cut -f1)
log "allocated: source $src_kib KiB at the switch, destination $dst_kib KiB (of 262144)"
[ "$dst_kib" -le $((src_kib + 8192)) ] || die "the destination is less sparse than the source"
log "figure: $ENBD_TEST_NAME: longest fio I/O $FIO_MAX_MS ms; $(sed -n 's/.*mirror: complete, //p' "$src_log")"
