#!/bin/sh
# timeout: 60
# NBD_CMD_TRIM frees the range: it reads back as zeroes and block status
# reports a hole, on a file and on a memory export; partial pages are kept.
. "$(dirname "$0")/server-lib.sh"
truncate -s 8M "$T/disk.img"
for spec in "$T/disk.img" "--memory 8M"; do
	start_server $spec
	nbdsh_run "$URI" <<'PY' || fail "trim on $spec"
import nbd
h.pwrite(b"\xaa" * (1 << 20), 1 << 20)
assert h.can_trim()
h.trim(256 << 10, (1 << 20) + (128 << 10))
assert h.pread(256 << 10, (1 << 20) + (128 << 10)) == bytes(256 << 10)
assert h.pread(128 << 10, 1 << 20) == b"\xaa" * (128 << 10)
assert h.pread(640 << 10, (1 << 20) + (384 << 10)) == b"\xaa" * (640 << 10)
ext = []
h.block_status(256 << 10, (1 << 20) + (128 << 10),
               lambda ctx, off, e, err: ext.extend(e) or 0)
assert ext[1] & nbd.STATE_HOLE and ext[1] & nbd.STATE_ZERO, ext
h.trim(1, (1 << 20) + 7, nbd.CMD_FLAG_FUA)   # FUA is accepted on trim
PY
	stop_server
done
