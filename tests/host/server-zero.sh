#!/bin/sh
# timeout: 60
# NBD_CMD_WRITE_ZEROES zeroes the range; without NO_HOLE it may leave a hole,
# with NO_HOLE the range stays allocated; FAST_ZERO works where zeroing is
# cheap; an unaligned range keeps its neighbours.
. "$(dirname "$0")/server-lib.sh"
truncate -s 8M "$T/disk.img"
for spec in "$T/disk.img" "--memory 8M"; do
	start_server $spec
	nbdsh_run "$URI" <<'PY' || fail "write zeroes on $spec"
import nbd
M = 1 << 20
def extents(off, length):
    out = []
    h.block_status(length, off, lambda ctx, o, e, err: out.extend(e) or 0)
    return out
h.pwrite(b"\x55" * (4 * M), 0)
assert h.can_zero() and h.can_fast_zero()
h.zero(M, 0)                                    # may punch
assert h.pread(M, 0) == bytes(M)
assert extents(0, M)[1] & nbd.STATE_HOLE, extents(0, M)
h.zero(M, M, nbd.CMD_FLAG_NO_HOLE)              # must stay allocated
assert h.pread(M, M) == bytes(M)
assert not extents(M, M)[1] & nbd.STATE_HOLE, extents(M, M)
h.zero(100, 2 * M + 1000, nbd.CMD_FLAG_FAST_ZERO | nbd.CMD_FLAG_FUA)
got = h.pread(1200, 2 * M + 900)
assert got == b"\x55" * 100 + bytes(100) + b"\x55" * 1000, got[:300]
PY
	stop_server
done
