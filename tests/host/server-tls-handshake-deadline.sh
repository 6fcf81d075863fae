#!/bin/sh
# timeout: 60
# The handshake deadline (--handshake-timeout) also bounds the TLS
# handshake: a client that sends NBD_OPT_STARTTLS and then nothing is
# closed and logged once the deadline passes.
. "$(dirname "$0")/server-lib.sh"
. "$(dirname "$0")/tls-lib.sh"
make_psk
start_server --tls=require --tls-psk "$T/psk/keys.psk" --memory 1M --handshake-timeout 2
py "$PORT" <<'PY' || fail "TLS handshake deadline"
import sys, time
from server_raw import *
r = Raw(port=int(sys.argv[1]), timeout=20)
r.greet()
r.opt(OPT_STARTTLS)
assert r.opt_reply()[1] == REP_ACK
start = time.monotonic()
assert r.closed_by_server(), "the server sent something"
took = time.monotonic() - start
assert 1 < took < 8, "closed after %.1f s, want about 2" % took
PY
grep -q "127.0.0.1:[0-9]*: handshake not finished in time, closing" "$SERVER_LOG" ||
	fail "no deadline log line"
grep -q "127.0.0.1:[0-9]*: TLS handshake failed: " "$SERVER_LOG" ||
	fail "no failed handshake log line"
server_alive
stop_server
