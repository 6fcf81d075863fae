#!/bin/sh
# timeout: 60
# The whole handshake has a deadline (--handshake-timeout): a client that
# drips a byte now and then, each read well within any per-read timeout,
# is still closed (and logged) once the deadline passes, while a client
# that finished its handshake may then stay idle for longer.
. "$(dirname "$0")/server-lib.sh"
start_server --memory 1M --handshake-timeout 2
py "$PORT" <<'PY' || fail "handshake deadline"
import socket, struct, sys, time
from server_raw import *
port = int(sys.argv[1])
served = Raw(port).connect()
drip = Raw(port)
drip.greet()
start = time.monotonic()
header = struct.pack(">QII", IHAVEOPT, OPT_GO, len(Raw.go_data()))
closed = False
for byte in header:                     # one byte every 0.5 s: 8 s for the header
    try:
        drip.send(bytes([byte]))
    except (BrokenPipeError, ConnectionResetError):
        closed = True
        break
    drip.s.settimeout(0.5)
    try:
        if drip.s.recv(1) == b"":
            closed = True
            break
    except socket.timeout:
        pass
    except ConnectionResetError:
        closed = True
        break
took = time.monotonic() - start
assert closed, "a dripping client kept its handshake open for %.1f s" % took
assert 1.5 < took < 5, "closed after %.1f s, want about 2" % took
served.request(CMD_READ, 0, 512, cookie=9)         # idle past the deadline: still served
assert served.result() == (9, 0, bytes(512))
PY
grep -q "127.0.0.1:[0-9]*: handshake not finished in time, closing" "$SERVER_LOG" ||
	fail "no log line"
stop_server
