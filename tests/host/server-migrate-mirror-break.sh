#!/bin/sh
# timeout: 90
# "break" in the middle of a mirror: the source serves on as before (reads,
# writes, status migration=broken), the destination waits for a new
# attempt, and a second mirror completes byte-identical.
. "$(dirname "$0")/server-lib.sh"
need_python_nbd
need cmp
SOCK=$T/ctl.sock
make_half_full "$T/src.img" 64
truncate -s 64M "$T/dst.img"
start_destination "$T/dst.img"
start_server --sock "$SOCK" "$T/src.img"
SRC_PID=$SERVER_PID

control mirror localhost "$DEST_PORT" --rate 4M >"$T/out" || fail "mirror: $(cat "$T/out")"
wait_until 20 mirror_copied_over 1048576 ||
	fail "no progress: $(control status)"
control break >"$T/out" || fail "break: $(cat "$T/out")"
[ "$(status_field migration)" = broken ] || fail "not broken: $(control status)"
[ "$(status_field is_mirroring)" = false ] || fail "still mirroring: $(control status)"
[ "$(status_field has_control)" = true ] || fail "lost control: $(control status)"
copied=$(mirror_copied)
[ "$copied" -lt $((32 << 20)) ] || fail "the break came too late to test ($copied bytes copied)"
check_serves "nbd://localhost:$PORT"
if control break >"$T/out"; then
	fail "a second break succeeded: $(cat "$T/out")"
fi
wait_until 10 status_has "$SOCK.dest" migration=listening ||
	fail "the destination is not waiting again"

control mirror localhost "$DEST_PORT" >"$T/out" || fail "second mirror: $(cat "$T/out")"
rc=0
wait "$SRC_PID" || rc=$?
[ $rc = 0 ] || fail "the source exited with status $rc"
cmp "$T/src.img" "$T/dst.img" || fail "the destination differs from the source"
stop_server "$DEST_PID"
