#!/bin/bash
# enbd-guardian runs the enbd-server of a `server' line of its
# configuration: nbdinfo and nbdcopy read the export it describes; a server
# killed -9 is restarted in its place and serves again; SIGTERM stops the
# guardian and its server (exit 0).  With only server lines the guardian
# needs no module.
. "$(dirname "$0")/lib.sh"
need nbdinfo nbdcopy

G=$ENBD_BUILD/enbd-guardian
[ -x "$G" ] && [ -x "$ENBD_BUILD/enbd-server" ] || fail "enbd-guardian or enbd-server not built in $ENBD_BUILD"
port=$($PYTHON -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
uri=nbd://127.0.0.1:$port/disk
head -c 4M /dev/urandom >"$T/disk.img"
cat >"$T/enbd.conf" <<CONF
# a file, read-write, on the loopback only
server disk -p $port -a 127.0.0.1 -n disk "$T/disk.img"
CONF

"$G" -f -c "$T/enbd.conf" 2>"$T/guardian.log" &
guardian=$!
BG_PIDS="$BG_PIDS $guardian"
wait_until 10 nbdinfo --size "$uri" >/dev/null 2>&1 || fail "$uri is not served"
size=$(nbdinfo --size "$uri")
[ "$size" = 4194304 ] || fail "size $size, expected 4194304"
nbdcopy "$uri" "$T/copy" && cmp "$T/disk.img" "$T/copy" || fail "nbdcopy read other data"

server_pid() { pgrep -P "$guardian" -x enbd-server; }
first=$(server_pid) || fail "no enbd-server child of the guardian"
kill -9 "$first"
wait_until 10 grep -q "server disk: restarted" "$T/guardian.log" ||
	fail "the killed server was not restarted: $(cat "$T/guardian.log")"
grep -q "lost child: pid $first, signal 9 (Killed).*: server disk, restart in 250 ms" "$T/guardian.log" ||
	fail "no 'lost child' line for the server"
wait_until 10 nbdinfo --size "$uri" >/dev/null 2>&1 || fail "$uri not served after the restart"
second=$(server_pid)
[ "$second" != "$first" ] || fail "the same pid"

kill -TERM "$guardian"
rc=0
wait "$guardian" || rc=$?
[ "$rc" = 0 ] || fail "guardian exit status $rc after SIGTERM"
! kill -0 "$second" 2>/dev/null || fail "the server outlived the guardian"
grep -q "child pid $second (server disk) stopped: exit status 0" "$T/guardian.log" ||
	fail "the server did not stop in order: $(cat "$T/guardian.log")"
echo "PASS $TEST_NAME"
