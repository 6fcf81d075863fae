#!/bin/sh
# timeout: 60
# Requests beyond the end of the export, with offset + length overflowing
# 64 bits, or larger than the maximum payload, get the spec's error and
# the connection goes on working.
. "$(dirname "$0")/server-lib.sh"
start_server --memory 1M
nbdsh_run "$URI" <<'PY' || fail "out-of-range request not refused correctly"
import nbd
EINVAL, ENOSPC, EOVERFLOW = 22, 28, 75
size = h.get_size()
h.set_strict_mode(0)
def expect(errnum, op):
    try:
        op()
    except nbd.Error as e:
        assert e.errnum == errnum, (e, errnum)
        return
    raise AssertionError("succeeded, wanted errno %d" % errnum)
expect(EINVAL, lambda: h.pread(2, size - 1))
expect(EINVAL, lambda: h.pread(1, size))
expect(EINVAL, lambda: h.pread(512, 2**64 - 256))         # offset + length wraps
expect(ENOSPC, lambda: h.pwrite(b"x" * 2, size - 1))
expect(ENOSPC, lambda: h.pwrite(b"x" * 512, 2**64 - 256))
expect(ENOSPC, lambda: h.zero(4096, size - 100))
expect(EINVAL, lambda: h.trim(4096, size))
expect(EINVAL, lambda: h.cache(4096, 2**63))
expect(EINVAL, lambda: h.block_status(4096, size, lambda *a: 0))
expect(EOVERFLOW, lambda: h.pread((32 << 20) + 1, 0))     # over the max payload
# the connection is still good
h.pwrite(b"ok", size - 2)
assert h.pread(2, size - 2) == b"ok"
assert h.pread(0, size) == b""
PY
stop_server
