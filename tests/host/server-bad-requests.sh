#!/bin/sh
# timeout: 60
# Unknown commands, flags not valid for a command, oversize payloads and
# malformed fields get NBD_EINVAL (and friends) while the connection stays
# in step; a bad request magic ends only that connection.
. "$(dirname "$0")/server-lib.sh"
start_server --memory 1M -e ro=ro:memory:1M
py "$PORT" <<'PY' || fail "bad request handled wrongly"
import sys
from server_raw import *
port = int(sys.argv[1])
for structured in (True, False):
    r = Raw(port).connect(structured=structured)
    def check(want, cmd, offset=0, length=0, flags=0, payload=b""):
        r.request(cmd, offset, length, flags, cookie=42, payload=payload)
        cookie, err, _ = r.result()
        assert (cookie, err) == (42, want), (cmd, flags, cookie, err, want, structured)
        # still in step: a small read works
        r.request(CMD_READ, 8, 4, cookie=43)
        assert r.result(4) == (43, 0, b"\0" * 4), "out of step after %d" % cmd
    check(EINVAL, 99, 0, 512)                                   # unknown command
    check(EINVAL, CMD_READ, 0, 512, flags=0x80)                 # unknown flag
    check(EINVAL, CMD_WRITE, 0, 512, flags=FLAG_DF, payload=b"x" * 512)  # DF on a write
    check(EINVAL, CMD_READ, 0, 512, flags=FLAG_NO_HOLE)         # NO_HOLE on a read
    check(EINVAL, CMD_FLUSH, 4096, 0)                           # flush with an offset
    check(EINVAL, CMD_BLOCK_STATUS, 0, 0)                       # no context, zero length
    check(EINVAL, CMD_WRITE, 0, (32 << 20) + 1, payload=bytes((32 << 20) + 1))  # too big
    check(ENOSPC, CMD_WRITE, (1 << 20) - 1, 2, payload=b"ab")   # past the end
    if not structured:
        check(EINVAL, CMD_READ, 0, (32 << 20) + 1)              # over the max payload
        check(EINVAL, CMD_READ, 0, 512, flags=FLAG_DF)          # DF needs structured
    check(0, CMD_WRITE, 0, 0)                                   # empty requests are fine
    r.request(CMD_READ, 0, 0, cookie=44)
    assert r.result()[:2] == (44, 0)
    r.request(CMD_DISC)
    assert r.closed_by_server()
r = Raw(port).connect(b"ro")
r.request(CMD_WRITE, 0, 4, cookie=9, payload=b"nope")
assert r.result()[:2] == (9, EPERM)
r.request(CMD_READ, 0, 512, magic=0x12345678)                   # garbage: hang up
assert r.closed_by_server()
PY
server_alive
nbdinfo --size "$URI" >/dev/null || fail "server no longer serves"
stop_server
