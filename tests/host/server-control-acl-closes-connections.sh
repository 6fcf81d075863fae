#!/bin/sh
# timeout: 60
# "acl" on the control socket replaces the access list at run time: a
# connection it no longer allows is closed at once, new ones are refused,
# an allowed one goes on; a bad entry changes nothing.
. "$(dirname "$0")/server-lib.sh"
need_python_nbd
need nbdinfo
SOCK=$T/ctl.sock
start_server --sock "$SOCK" --memory 4M

# a client reading in a loop until its connection is closed
py "$URI" "$T/held" <<'PY' &
import nbd, sys, time
h = nbd.NBD()
h.connect_uri(sys.argv[1])
open(sys.argv[2] + ".ready", "w").close()
try:
    for i in range(3000):
        h.pread(4096, 0)
        time.sleep(0.01)
except nbd.Error:
    open(sys.argv[2] + ".closed", "w").close()
PY
wait_until 10 test -e "$T/held.ready" || fail "the client did not connect"

if control acl 127.0.0.1/33 >"$T/out"; then
	fail "a bad entry was taken: $(cat "$T/out")"
fi
grep -q "^error: bad ACL entry" "$T/out" || fail "bad entry: $(cat "$T/out")"
sleep 0.3
[ ! -e "$T/held.closed" ] || fail "a refused acl command closed the connection"

control acl 127.0.0.1 >"$T/out" || fail "acl 127.0.0.1: $(cat "$T/out")"
sleep 0.3
[ ! -e "$T/held.closed" ] || fail "an allowed connection was closed"

control acl 192.0.2.1 ::2 >"$T/out" || fail "acl: $(cat "$T/out")"
grep -q "^ok: 2 entries, 1 connection closed" "$T/out" || fail "acl reply: $(cat "$T/out")"
wait_until 10 test -e "$T/held.closed" || fail "the no longer allowed connection is still open"
if nbdinfo --size "nbd://127.0.0.1:$PORT" >/dev/null 2>&1; then
	fail "a new connection from 127.0.0.1 was let in"
fi
grep -q "refused by access control" "$SERVER_LOG" || fail "no refusal logged"

control acl >"$T/out" || fail "acl with no entries: $(cat "$T/out")"
nbdinfo --size "nbd://127.0.0.1:$PORT" >/dev/null || fail "an empty ACL refuses"
stop_server
