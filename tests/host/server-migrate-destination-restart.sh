#!/bin/sh
# timeout: 90
# The destination killed in the middle of a mirror: the mirror fails
# (status migration=failed, the reason), the source serves on; the
# destination restarted, the mirror tried again completes, and --unlink
# then removes the source file.
. "$(dirname "$0")/server-lib.sh"
need_python_nbd
need cmp
SOCK=$T/ctl.sock
make_half_full "$T/src.img" 64
cp --sparse=always "$T/src.img" "$T/src.orig"
truncate -s 64M "$T/dst.img"
start_destination "$T/dst.img"
start_server --sock "$SOCK" "$T/src.img"
SRC_PID=$SERVER_PID

control mirror localhost "$DEST_PORT" --rate 4M --unlink >"$T/out" || fail "mirror: $(cat "$T/out")"
wait_until 20 mirror_copied_over 1048576 ||
	fail "no progress: $(control status)"
kill -KILL "$DEST_PID"
wait "$DEST_PID" 2>/dev/null || true
wait_until 30 status_has "$SOCK" migration=failed ||
	fail "the mirror did not fail: $(control status)"
control status | grep -q 'migration_error="[^"]' || fail "no reason given: $(control status)"
[ -e "$T/src.img" ] || fail "--unlink removed the file of a failed migration"
check_serves "nbd://localhost:$PORT"
cp --sparse=always "$T/src.img" "$T/src.orig"	# check_serves wrote to it

start_destination "$T/dst.img"
control mirror localhost "$DEST_PORT" --unlink >"$T/out" || fail "retry: $(cat "$T/out")"
rc=0
wait "$SRC_PID" || rc=$?
[ $rc = 0 ] || fail "the source exited with status $rc"
[ ! -e "$T/src.img" ] || fail "--unlink left the source file"
cmp "$T/src.orig" "$T/dst.img" || fail "the destination differs from the source"
stop_server "$DEST_PID"
