#!/bin/sh
# timeout: 60
# Offsets up to 2^63-1: a linear export of two memory components of
# 2^62 and 2^62-1 bytes reads and writes at its very last byte, and across
# the component boundary.
. "$(dirname "$0")/server-lib.sh"
start_server -e big=linear:memory:4E,memory:4611686018427387903
nbdsh_run "$URI/big" <<'PY' || fail "huge offsets"
size = h.get_size()
assert size == 2**63 - 1, size
h.pwrite(b"END", size - 3)
h.pwrite(b"0123456789", 2**62 - 5)
assert h.pread(3, size - 3) == b"END"
assert h.pread(10, 2**62 - 5) == b"0123456789"
assert h.pread(4096, 2**62 + 4096) == bytes(4096)
PY
stop_server
