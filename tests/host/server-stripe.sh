#!/bin/sh
# timeout: 60
# --stripe CHUNK interleaves components chunk by chunk: chunk k of the
# export is chunk k/n of component k%n; the size is n * the smallest
# component rounded down to a chunk.
. "$(dirname "$0")/server-lib.sh"
truncate -s 1M "$T/a"
truncate -s 1M "$T/b"
truncate -s 1100000 "$T/c"	# larger: cut to 1M
start_server --stripe 64K "$T/a" "$T/b" "$T/c"
[ "$(nbdinfo --size "$URI")" = $((3 * 1048576)) ] || fail "wrong size"
head -c 3M /dev/urandom >"$T/src"
nbdcopy "$T/src" "$URI" || fail "nbdcopy failed"
py "$T" <<'PY' || fail "data landed in the wrong place"
import sys
d = sys.argv[1]
src = open(d + "/src", "rb").read()
parts = [open(d + "/" + p, "rb").read() for p in "abc"]
C = 65536
for k in range(len(src) // C):
    part, row = parts[k % 3], k // 3
    assert part[row * C:(row + 1) * C] == src[k * C:(k + 1) * C], "chunk %d" % k
assert parts[2][1 << 20:] == bytes(1100000 - (1 << 20)), "wrote past the stripe"
PY
nbdcopy "$URI" "$T/out" && cmp "$T/src" "$T/out" || fail "read back differs"
stop_server
