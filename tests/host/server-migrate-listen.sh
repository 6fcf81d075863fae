#!/bin/sh
# timeout: 60
# --listen: the first connection is the sender and others are refused
# while it sends; a sender that leaves before FLUSH + NBD_CMD_DISC leaves
# the destination waiting for the next attempt; once one completes, the
# file is served to everyone (or, with --exit-after-migration, the server
# exits 0).
. "$(dirname "$0")/server-lib.sh"
need_python_nbd
need nbdinfo
SOCK=$T/ctl.sock
truncate -s 8M "$T/dest.img"
start_server --listen --sock "$SOCK" "$T/dest.img"
[ "$(status_field migration)" = listening ] || fail "not listening: $(control status)"

# sender: write BYTE at 0 and 4M, then either complete or vanish; hold
# the connection until $2.go exists
cat >"$T/sender.py" <<'PY'
import nbd, os, sys, time
uri, flag, byte, complete = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
h = nbd.NBD()
h.connect_uri(uri)
h.pwrite(bytes([byte]) * 65536, 0)
h.pwrite(bytes([byte]) * 65536, 4 << 20)
open(flag + ".ready", "w").close()
while not os.path.exists(flag + ".go"):
    time.sleep(0.02)
if not complete:
    os._exit(0)		# no flush, no NBD_CMD_DISC: a sender that died
h.flush()
h.shutdown()
PY
$PYTHON "$T/sender.py" "$URI" "$T/first" 97 0 &
wait_until 10 test -e "$T/first.ready" || fail "the first sender did not connect"
[ "$(status_field migration)" = receiving ] || fail "not receiving: $(control status)"
if nbdinfo --size "$URI" >/dev/null 2>&1; then
	fail "an ordinary client was let in while receiving"
fi
grep -q "receiving a migration, closing" "$SERVER_LOG" || fail "no refusal logged"
touch "$T/first.go"
wait_until 10 sh -c "grep -q 'the sender left before the migration was complete' $SERVER_LOG" ||
	fail "the broken attempt was not noticed"
[ "$(status_field migration)" = listening ] || fail "not waiting again: $(control status)"

$PYTHON "$T/sender.py" "$URI" "$T/second" 98 1 &
wait_until 10 test -e "$T/second.ready" || fail "the retry did not connect"
touch "$T/second.go"
wait_until 10 sh -c "grep -q 'inbound migration complete: serving' $SERVER_LOG" ||
	fail "the migration did not complete"
[ "$(status_field migration)" = done ] || fail "not done: $(control status)"
[ "$(status_field has_control)" = true ] || fail "a destination has the export: $(control status)"
nbdinfo --size "$URI" >/dev/null || fail "not serving after the migration"
py "$URI" <<'PY' || fail "wrong data served"
import nbd, sys
h = nbd.NBD()
h.connect_uri(sys.argv[1])
assert h.pread(65536, 0) == b"b" * 65536
assert h.pread(65536, 4 << 20) == b"b" * 65536
h.shutdown()
PY
stop_server

# --exit-after-migration
"$SERVER" -p 0 --port-file "$T/port.x" --listen --exit-after-migration "$T/dest.img" \
	2>"$T/server.x.log" &
X=$!
BG_PIDS="$BG_PIDS $X"
wait_until 10 test -s "$T/port.x" || fail "the second destination did not listen"
$PYTHON "$T/sender.py" "nbd://localhost:$(cat "$T/port.x")" "$T/third" 99 1 &
wait_until 10 test -e "$T/third.ready" || fail "the third sender did not connect"
touch "$T/third.go"
rc=0
wait $X || rc=$?
[ $rc = 0 ] || fail "--exit-after-migration: exit status $rc"
[ "$(head -c 1 "$T/dest.img")" = c ] || fail "the data of the exiting destination is not in the file"
