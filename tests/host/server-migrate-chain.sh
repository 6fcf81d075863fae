#!/bin/sh
# timeout: 60
# A memory export migrates to a --listen destination, which then passes it
# on to a third server (--exit-after-migration): the last file holds what
# was written to the first, and only that is allocated.
. "$(dirname "$0")/server-lib.sh"
need cmp
SOCK=$T/ctl.sock
truncate -s 16M "$T/b.img" "$T/c.img" "$T/expected"
head -c 1M /dev/urandom >"$T/data"
dd if="$T/data" of="$T/expected" bs=1M seek=4 conv=notrunc status=none

start_server --sock "$SOCK" --memory 16M
A_PID=$SERVER_PID A_PORT=$PORT
"$SERVER" write --addr localhost --port "$A_PORT" --from 4M --size 1M <"$T/data" ||
	fail "cannot write to the first server"
start_destination "$T/b.img"
B_PID=$DEST_PID B_PORT=$DEST_PORT
control mirror localhost "$B_PORT" >"$T/out" || fail "mirror to B: $(cat "$T/out")"
rc=0
wait "$A_PID" || rc=$?
[ $rc = 0 ] || fail "A exited with status $rc"
SOCK=$SOCK.dest
# A waits for B to close the connection, which B does after noting completion
status_has "$SOCK" "migration=done" || fail "B did not receive: $(control status)"

"$SERVER" -p 0 --port-file "$T/port.c" --listen --exit-after-migration "$T/c.img" \
	2>"$T/server.c.log" &
C_PID=$!
BG_PIDS="$BG_PIDS $C_PID"
wait_until 10 test -s "$T/port.c" || fail "C did not listen"
control mirror localhost "$(cat "$T/port.c")" >"$T/out" || fail "mirror to C: $(cat "$T/out")"
rc=0
wait "$B_PID" || rc=$?
[ $rc = 0 ] || fail "B exited with status $rc"
rc=0
wait "$C_PID" || rc=$?
[ $rc = 0 ] || fail "C exited with status $rc"
cmp "$T/expected" "$T/c.img" || fail "C's file is not what was written to A"
[ "$(allocated "$T/c.img")" -le $((2 << 20)) ] || fail "C's file is not sparse: $(allocated "$T/c.img")"
for log in "$T"/server.*.log; do
	check_log "$log"
done
