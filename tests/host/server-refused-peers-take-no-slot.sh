#!/bin/sh
# timeout: 60
# A peer the ACL refuses is closed at once and takes no --max-connections
# slot: silent connections from a refused address cannot lock out an
# allowed one.
. "$(dirname "$0")/server-lib.sh"
start_server --memory 1M --allow 127.0.0.2 --max-connections 2
py "$PORT" <<'PY' || fail "refused peers held the slots"
import sys
from server_raw import *
port = int(sys.argv[1])
silent = [Raw(port) for _ in range(3)]          # refused, and never say a word
for r in silent:
    assert r.closed_by_server(), "a refused peer was not closed at once"
a = Raw(port, source="127.0.0.2").connect()
b = Raw(port, source="127.0.0.2").connect()
b.request(CMD_READ, 0, 512, cookie=7)
assert b.result() == (7, 0, bytes(512))
PY
[ "$(grep -c "refused by access control" "$SERVER_LOG")" -eq 3 ] || fail "not one log line per refused peer"
stop_server
