#!/bin/sh
# timeout: 60
# --max-connections N: connection N+1 is closed at once (and logged), and
# once a client leaves a new one is served.
. "$(dirname "$0")/server-lib.sh"
start_server --memory 1M --max-connections 2
py "$PORT" <<'PY' || fail "connection limit"
import sys
from server_raw import *
port = int(sys.argv[1])
a = Raw(port).connect()
b = Raw(port).connect()
c = Raw(port)
assert c.closed_by_server(), "third connection served"
a.request(CMD_DISC)
a.close()
d = connect_when_room(port)
d.request(CMD_READ, 0, 4, cookie=1)
assert d.result()[:2] == (1, 0)
PY
grep -q "too many connections" "$SERVER_LOG" || fail "no log line"
stop_server
