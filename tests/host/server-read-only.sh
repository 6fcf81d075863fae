#!/bin/sh
# timeout: 60
# A read-only export (-r, or ro: in --export) refuses write, trim and
# write-zeroes with EPERM, still serves reads, and leaves the file as it was.
. "$(dirname "$0")/server-lib.sh"
head -c 1M /dev/urandom >"$T/disk.img"
cp "$T/disk.img" "$T/orig.img"
chmod a-w "$T/disk.img"		# -r must not even need write permission
start_server -r "$T/disk.img" -e ro2=ro:memory:1M
for name in "" ro2; do
	nbdsh_run "$URI/$name" <<'PY' || fail "export \"$name\" accepted a write"
import nbd
assert h.is_read_only()
h.pread(4096, 0)
h.set_strict_mode(0)          # let libnbd send what the flags forbid
for what, op in (("write", lambda: h.pwrite(b"z" * 512, 0)),
                 ("trim", lambda: h.trim(512, 0)),
                 ("zero", lambda: h.zero(512, 0))):
    try:
        op()
        raise SystemExit(what + " succeeded")
    except nbd.Error as e:
        assert e.errnum == 1, (what, e)     # EPERM
h.flush()
PY
done
cmp "$T/disk.img" "$T/orig.img" || fail "the read-only file changed"
stop_server
