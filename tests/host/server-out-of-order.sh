#!/bin/sh
# timeout: 60
# Requests on one connection run concurrently and are answered out of
# order: a read sent after a slow flush (lots of dirty data) is answered
# before the flush.
. "$(dirname "$0")/server-lib.sh"
truncate -s 256M "$T/disk.img"
start_server "$T/disk.img"
py "$PORT" <<'PY' || fail "replies were not out of order"
import struct, sys
from server_raw import *
r = Raw(int(sys.argv[1]), timeout=60).connect(structured=False)
for attempt in range(5):
    chunk = bytes([attempt + 1]) * (4 << 20)
    for i in range(48):                      # 192 MiB of dirty page cache
        r.request(CMD_WRITE, i * len(chunk), len(chunk), cookie=1000 + i, payload=chunk)
    for i in range(48):
        assert r.result()[1] == 0
    r.request(CMD_FLUSH, cookie=1)
    r.request(CMD_READ, 0, 4096, cookie=2)
    order = []
    for _ in range(2):
        magic, err, cookie = struct.unpack(">IIQ", r.recv(16))
        assert magic == SIMPLE_MAGIC and err == 0 and cookie in (1, 2), (magic, err, cookie)
        if cookie == 2:
            assert r.recv(4096) == bytes([attempt + 1]) * 4096
        order.append(cookie)
    if order == [2, 1]:
        break
else:
    raise SystemExit("the read always waited for the flush")
PY
stop_server
