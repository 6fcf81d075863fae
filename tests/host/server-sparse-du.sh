#!/bin/sh
# timeout: 60
# A served sparse file stays sparse: writes allocate, trim and write-zeroes
# (without NO_HOLE) give the space back (du), NO_HOLE keeps it allocated.
. "$(dirname "$0")/server-lib.sh"
truncate -s 256M "$T/disk.img"
start_server "$T/disk.img"
kb() { du -k "$T/disk.img" | cut -f1; }
[ "$(kb)" -lt 1024 ] || fail "the image is not sparse to begin with"
nbdsh_run "$URI" <<'PY' || fail "write"
M = 1 << 20
for i in range(32):
    h.pwrite(b"\x01" * M, i * M)
h.flush()
PY
a=$(kb); [ "$a" -ge 32000 ] || fail "32M written but du says ${a}K"
nbdsh_run "$URI" <<'PY' || fail "trim"
h.trim(16 << 20, 0)
h.flush()
PY
b=$(kb); [ "$b" -le $((a - 16000)) ] || fail "trim freed nothing: ${a}K -> ${b}K"
nbdsh_run "$URI" <<'PY' || fail "zero"
h.zero(16 << 20, 16 << 20)
h.flush()
PY
c=$(kb); [ "$c" -le 1024 ] || fail "write-zeroes left ${c}K allocated"
nbdsh_run "$URI" <<'PY' || fail "zero no-hole"
import nbd
h.zero(8 << 20, 64 << 20, nbd.CMD_FLAG_NO_HOLE)
h.flush()
assert h.pread(4096, 70 << 20) == bytes(4096)
PY
d=$(kb); [ "$d" -ge 8000 ] || fail "NO_HOLE zeroing left a hole: ${d}K"
[ "$(stat -c %s "$T/disk.img")" = $((256 << 20)) ] || fail "the file size changed"
stop_server
