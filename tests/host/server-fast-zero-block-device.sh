#!/bin/sh
# timeout: 60
# NBD_CMD_FLAG_FAST_ZERO on a block device never makes the kernel write
# zeroes: over a loop device whose tmpfs backing file can punch holes but
# not zero a range in place, a NO_HOLE + FAST_ZERO request fails at once
# with ENOTSUP and leaves the data alone (the kernel's zero-out would have
# fallen back to writing zeroes), while the same request without FAST_ZERO,
# and a FAST_ZERO that may punch a hole, zero the range.
. "$(dirname "$0")/server-lib.sh"
shm=$(mktemp -d /dev/shm/enbd-test.XXXXXX 2>/dev/null) || skip "no /dev/shm"
[ "$(stat -f -c %T "$shm")" = tmpfs ] || { rmdir "$shm"; skip "/dev/shm is not tmpfs"; }
truncate -s 16M "$shm/backing.img"
loop_attach "$shm/backing.img"
rm -rf "$shm"		# the loop device keeps the file
start_server "$LOOP"
py "$PORT" <<'PY' || fail "fast zero"
import sys
from server_raw import *
r = Raw(int(sys.argv[1])).connect()
M = 1 << 20
r.request(CMD_WRITE, offset=0, length=4 * M, payload=b"\x5a" * (4 * M))
assert r.result()[1] == 0
assert r.flags & (1 << 11), "no SEND_FAST_ZERO"
r.request(CMD_WRITE_ZEROES, offset=0, length=M, flags=FLAG_NO_HOLE | FLAG_FAST_ZERO, cookie=2)
assert r.result()[:2] == (2, ENOTSUP), "NO_HOLE + FAST_ZERO did not fail with ENOTSUP"
r.request(CMD_READ, offset=0, length=M, cookie=3)
assert r.result() == (3, 0, b"\x5a" * M), "a failed fast zero changed the data"
r.request(CMD_WRITE_ZEROES, offset=M, length=M, flags=FLAG_FAST_ZERO, cookie=4)
assert r.result() == (4, 0, b""), "a fast zero that may punch failed"
# Last: the kernel writes these zeroes, and then offers no zero-out at all.
r.request(CMD_WRITE_ZEROES, offset=0, length=M, flags=FLAG_NO_HOLE, cookie=5)
assert r.result() == (5, 0, b"")
r.request(CMD_READ, offset=0, length=3 * M, cookie=6)
assert r.result() == (6, 0, bytes(2 * M) + b"\x5a" * M)
PY
stop_server
