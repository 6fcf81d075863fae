#!/bin/sh
# timeout: 60
# nbdinfo --json reports the export's size, transmission flags and block sizes,
# read-write and read-only.
. "$(dirname "$0")/server-lib.sh"
need nbdinfo
need_python_nbd

truncate -s 10000005 "$T/disk.img"	# an odd size on purpose
start_server "$T/disk.img"
nbdinfo --json "$URI" >"$T/rw.json" || fail "nbdinfo failed"
start_server -r "$T/disk.img"
nbdinfo --json "$URI" >"$T/ro.json" || fail "nbdinfo -r failed"

py "$T/rw.json" "$T/ro.json" <<'PY' || fail "wrong nbdinfo output"
import json, sys
rw = json.load(open(sys.argv[1]))["exports"][0]
ro = json.load(open(sys.argv[2]))["exports"][0]
want = {
    "export-size": 10000005, "is_read_only": False, "can_flush": True, "can_fua": True,
    "can_trim": True, "can_zero": True, "can_fast_zero": True, "can_cache": True,
    "can_multi_conn": True, "can_df": True, "block_size_minimum": 1,
    "block_size_preferred": 4096, "block_size_maximum": 32 * 1024 * 1024,
}
for k, v in want.items():
    assert rw.get(k) == v, "%s: got %r want %r" % (k, rw.get(k), v)
assert "base:allocation" in rw["contexts"], rw["contexts"]
for k, v in {"export-size": 10000005, "is_read_only": True, "can_trim": False,
             "can_zero": False, "can_fua": False}.items():
    assert ro.get(k) == v, "read-only %s: got %r want %r" % (k, ro.get(k), v)
PY
stop_server
