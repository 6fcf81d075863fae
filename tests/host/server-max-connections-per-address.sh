#!/bin/sh
# timeout: 60
# --max-connections-per-address N: the N+1th connection from one address is
# closed at once (and logged) while other addresses are still served, and
# once one of the N leaves that address is served again.
. "$(dirname "$0")/server-lib.sh"
start_server --memory 1M --max-connections-per-address 2
py "$PORT" <<'PY' || fail "per-address limit"
import sys
from server_raw import *
port = int(sys.argv[1])
a = Raw(port).connect()
b = Raw(port).connect()
assert Raw(port).closed_by_server(), "third connection from 127.0.0.1 served"
other = Raw(port, source="127.0.0.2").connect()
other.request(CMD_READ, 0, 512, cookie=2)
assert other.result() == (2, 0, bytes(512)), "127.0.0.2 not served"
a.request(CMD_DISC)
a.close()
d = connect_when_room(port)
PY
grep -q "127.0.0.1:[0-9]*: too many connections from this address, closing" "$SERVER_LOG" ||
	fail "no log line"
stop_server
