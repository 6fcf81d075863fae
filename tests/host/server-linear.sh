#!/bin/sh
# timeout: 60
# --linear joins files of different sizes end to end: each byte written
# through the export lands in the right component at the right offset,
# including writes that straddle a boundary.
. "$(dirname "$0")/server-lib.sh"
truncate -s 1000000 "$T/a"
truncate -s 3M "$T/b"
truncate -s 524288 "$T/c"
start_server --linear "$T/a" "$T/b" "$T/c"
[ "$(nbdinfo --size "$URI")" = $((1000000 + 3145728 + 524288)) ] || fail "wrong size"
nbdsh_run "$URI" <<'PY' || fail "nbdsh failed"
import random
random.seed(3)
size = h.get_size()
for off, n in ((0, 10), (999990, 20), (1000000 + 3145728 - 5, 4096 + 10), (size - 7, 7),
               (500000, 1000000 + 3145728)):
    data = bytes(random.getrandbits(8) for _ in range(n))
    h.pwrite(data, off)
    assert h.pread(n, off) == data
PY
# check the components directly: replay the same writes on a flat image
py "$T" <<'PY' || fail "data landed in the wrong place"
import random, sys
d = sys.argv[1]
parts = [open(d + "/" + p, "rb").read() for p in "abc"]
flat = bytearray(sum(len(p) for p in parts))
random.seed(3)
for off, n in ((0, 10), (999990, 20), (1000000 + 3145728 - 5, 4096 + 10),
               (len(flat) - 7, 7), (500000, 1000000 + 3145728)):
    flat[off:off + n] = bytes(random.getrandbits(8) for _ in range(n))
assert parts[0] == flat[:1000000]
assert parts[1] == flat[1000000:1000000 + 3145728]
assert parts[2] == flat[1000000 + 3145728:]
PY
stop_server
