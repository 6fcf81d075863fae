#!/bin/sh
# timeout: 60
# Thousands of requests sent back to back on one connection each get
# exactly one correct reply (replies may come in any order).
. "$(dirname "$0")/server-lib.sh"
start_server --memory 8M
py "$PORT" <<'PY' || fail "pipelined requests"
import struct, sys
from server_raw import *
r = Raw(int(sys.argv[1])).connect(structured=False)
N = 5000
# write a distinct pattern per 512-byte block, then read it all back
for i in range(N):
    r.request(CMD_WRITE, (i % 16384) * 512, 512, cookie=i,
              payload=struct.pack(">I", i) * 128)
seen = set()
for i in range(N):
    cookie, err, _ = r.result()
    assert err == 0 and cookie not in seen and cookie < N, (cookie, err)
    seen.add(cookie)
reqs = b"".join(struct.pack(">IHHQQI", REQUEST_MAGIC, 0, CMD_READ, N + i, i * 512, 512)
                for i in range(N))
r.send(reqs)
for _ in range(N):
    magic, err, cookie = struct.unpack(">IIQ", r.recv(16))
    data = r.recv(512)
    assert magic == SIMPLE_MAGIC and err == 0, (magic, err)
    assert data == struct.pack(">I", cookie - N) * 128, cookie
    seen.add(cookie)
assert len(seen) == 2 * N
PY
stop_server
