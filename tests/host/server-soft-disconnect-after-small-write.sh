#!/bin/sh
# timeout: 60
# A small WRITE that arrives together with NBD_CMD_DISC and the client's
# half-close (FIN) is carried out and answered, and the connection ends.
# The server sees the FIN before it starts the write, with more of the
# stream already there, so the thread that read the write, which would
# serve a lone small write itself, hands it off and lets go of the
# connection's input lock before the rest of the stream is read.  TCP_CORK
# puts request, DISC and FIN in one segment, so the server finds them all
# at once, every time.
. "$(dirname "$0")/server-lib.sh"
start_server --memory 16M
py "$PORT" <<'PY' || fail "a small write before a soft disconnect"
import socket, struct, sys
from server_raw import *
port = int(sys.argv[1])
N = 20
for i in range(N):
    r = Raw(port, timeout=10).connect(structured=False)
    r.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
    r.request(CMD_WRITE, i * 4096, 4096, cookie=i, payload=bytes([i + 1]) * 4096)
    r.request(CMD_DISC, cookie=N + i)
    r.s.shutdown(socket.SHUT_WR)
    try:
        cookie, err, _ = r.result()
    except socket.timeout:
        raise AssertionError("connection %d: no reply to the write in 10 s" % i)
    assert (cookie, err) == (i, 0), (i, cookie, err)
    assert r.s.recv(1) == b"", "connection %d: not closed after NBD_CMD_DISC" % i
    r.close()
check = Raw(port).connect(structured=False)
for i in range(N):
    check.request(CMD_READ, i * 4096, 4096, cookie=i)
    cookie, err, data = check.result(4096)
    assert err == 0 and data == bytes([i + 1]) * 4096, (i, err)
PY
stop_server
