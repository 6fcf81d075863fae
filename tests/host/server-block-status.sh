#!/bin/sh
# timeout: 60
# NBD_CMD_BLOCK_STATUS (base:allocation) reports the data and holes of a
# sparse file (SEEK_DATA/SEEK_HOLE) and of a memory export, honours
# REQ_ONE, and is refused without the context negotiated.
. "$(dirname "$0")/server-lib.sh"
truncate -s 16M "$T/disk.img"
head -c 1M /dev/urandom | dd of="$T/disk.img" bs=1M seek=2 conv=notrunc status=none
head -c 2M /dev/urandom | dd of="$T/disk.img" bs=1M seek=8 conv=notrunc status=none
start_server "$T/disk.img" -e mem=memory:16M
check='
import nbd
M = 1 << 20
def extents(length, off, flags=0):
    out = []
    h.block_status(length, off, lambda ctx, o, e, err: out.extend(e) or 0, flags)
    return list(zip(out[0::2], out[1::2]))
HZ = nbd.STATE_HOLE | nbd.STATE_ZERO
assert h.can_meta_context("base:allocation")
got = extents(16 * M, 0)
want = [(2 * M, HZ), (M, 0), (5 * M, HZ), (2 * M, 0), (6 * M, HZ)]
assert got == want, got
got = extents(4 * M, 2 * M + 4096, nbd.CMD_FLAG_REQ_ONE)
assert got == [(M - 4096, 0)], got
got = extents(1000, 15 * M)
assert got == [(1000, HZ)], got
'
nbdsh_run "$URI" <<PY || fail "block status of the file"
$check
PY
nbdsh_run "$URI/mem" <<PY || fail "block status of the memory export"
h.pwrite(b"x" * (1 << 20), 2 << 20)
h.pwrite(b"y" * (2 << 20), 8 << 20)
$check
PY
# without base:allocation the command is refused (not sent by libnbd)
py "$PORT" <<'PY' || fail "block status without a context was not refused"
import sys
from server_raw import *
r = Raw(int(sys.argv[1])).connect(structured=True, meta=False)
r.request(CMD_BLOCK_STATUS, 0, 4096, cookie=7)
cookie, err, _ = r.result()
assert cookie == 7 and err == EINVAL, (cookie, err)
PY
stop_server
