#!/bin/sh
# timeout: 60
# Clients outside every --allow network, or everyone with --default-deny
# alone, are closed at once, before the greeting, with a log line; an
# allowed client of the same server is still served.
. "$(dirname "$0")/server-lib.sh"
need nbdinfo
start_server --memory 1M --allow 10.0.0.0/8 --allow 127.0.0.2
if nbdinfo --size nbd://127.0.0.1:$PORT 2>"$T/err"; then
	fail "127.0.0.1 was let in"
fi
grep -q "127.0.0.1:[0-9]*: refused by access control, closing" "$SERVER_LOG" || fail "no log line"
py "$PORT" <<'PY' || fail "a client from 127.0.0.2 was refused"
import sys
from server_raw import *
r = Raw(int(sys.argv[1]), source="127.0.0.2").connect()
r.request(CMD_READ, 0, 512, cookie=5)
assert r.result() == (5, 0, bytes(512))
PY
# the raw exchange: closed before the greeting
py "$PORT" <<'PY' || fail "a refused client got a greeting"
import sys
from server_raw import *
assert Raw(int(sys.argv[1])).closed_by_server()
PY
server_alive
start_server --memory 1M --default-deny
if nbdinfo --size nbd://127.0.0.1:$PORT 2>"$T/err"; then
	fail "--default-deny let a client in"
fi
stop_server
