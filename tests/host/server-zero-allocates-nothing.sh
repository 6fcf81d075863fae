#!/bin/sh
# timeout: 60
# A 28-byte NBD_CMD_WRITE_ZEROES costs the server no memory on a memory
# export, whatever its flags: 256 MiB zeroed with NO_HOLE (issue 10: the
# server grew by 258 MiB), with FAST_ZERO, and as a plain zero, leave the
# server's peak RSS (VmHWM) within a few MiB, and the ranges read as zeroes.
# A NO_HOLE zero of written data clears it and keeps it allocated.
. "$(dirname "$0")/server-lib.sh"
start_server --memory 1T
before=$(server_hwm_kib)
py "$PORT" <<'PY' || fail "write zeroes"
import sys
from server_raw import *
r = Raw(int(sys.argv[1])).connect()
M = 1 << 20
for i, flags in enumerate((FLAG_NO_HOLE, FLAG_NO_HOLE | FLAG_FAST_ZERO, 0)):
    r.request(CMD_WRITE_ZEROES, offset=(i + 1) << 30, length=256 * M, flags=flags, cookie=i)
    assert r.result() == (i, 0, b""), flags
r.request(CMD_WRITE, offset=8192, length=4, payload=b"data", cookie=7)
assert r.result()[1] == 0
r.request(CMD_WRITE_ZEROES, offset=8192, length=2, flags=FLAG_NO_HOLE, cookie=8)
assert r.result()[1] == 0
r.request(CMD_READ, offset=8192, length=4, cookie=9)
assert r.result() == (9, 0, b"\0\0ta")
r.request(CMD_READ, offset=(1 << 30) + 12345, length=M, cookie=10)
assert r.result() == (10, 0, bytes(M))
PY
after=$(server_hwm_kib)
echo "VmHWM before $before KiB, after $after KiB"
[ $((after - before)) -lt 8192 ] ||
	fail "the server grew by $(((after - before) / 1024)) MiB for 768 MiB of zeroes"
stop_server
