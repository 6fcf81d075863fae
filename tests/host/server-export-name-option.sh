#!/bin/sh
# timeout: 60
# Old clients' NBD_OPT_EXPORT_NAME works: size and flags, with or without
# the 124 zero bytes (NBD_FLAG_C_NO_ZEROES), for "" and a named export;
# an unknown name gets a hang-up, as the spec requires.
. "$(dirname "$0")/server-lib.sh"
start_server --name disk --memory 3M -e other=memory:5M
py "$PORT" <<'PY' || fail "NBD_OPT_EXPORT_NAME"
import struct, sys
from server_raw import *
port = int(sys.argv[1])
for name, size in ((b"", 3 << 20), (b"disk", 3 << 20), (b"other", 5 << 20)):
    for cflags, zeroes in ((3, 0), (1, 124)):
        r = Raw(port)
        hflags = r.greet(cflags)
        assert hflags == 3, hflags                  # FIXED_NEWSTYLE | NO_ZEROES
        r.opt(OPT_EXPORT_NAME, name)
        got, flags = struct.unpack(">QH", r.recv(10))
        assert got == size and flags & 1, (name, got, flags)
        assert r.recv(zeroes) == bytes(zeroes)
        r.request(CMD_WRITE, 0, 3, cookie=3, payload=b"abc")   # transmission works
        assert r.reply() == {"kind": "simple", "cookie": 3, "error": 0, "data": b""}
        r.request(CMD_DISC)
        assert r.closed_by_server()
r = Raw(port)
r.greet()
r.opt(OPT_EXPORT_NAME, b"nosuch")
assert r.closed_by_server()
PY
stop_server
