#!/bin/sh
# timeout: 60
# nbdinfo --list lists every export (default, named, memory, linear) with its
# size and the operator's description, and each one can be opened by name.
. "$(dirname "$0")/server-lib.sh"
need nbdinfo
need_python_nbd

truncate -s 1M "$T/a.img"
truncate -s 3M "$T/b.img"
start_server --name first "$T/a.img" -e second=memory:5M -e third=linear:$T/a.img,$T/b.img \
	-e fourth=ro:$T/b.img --description "scratch space" --export-description "second=RAM disk"
nbdinfo --list --json "$URI" >"$T/list.json" || fail "nbdinfo --list failed"
py "$T/list.json" <<'PY' || fail "wrong export list"
import json, sys
exports = {e["export-name"]: e for e in json.load(open(sys.argv[1]))["exports"]}
want = {"first": 1 << 20, "second": 5 << 20, "third": 4 << 20, "fourth": 3 << 20}
assert sorted(exports) == sorted(want), sorted(exports)
for name, size in want.items():
    assert exports[name]["export-size"] == size, (name, exports[name]["export-size"])
assert exports["fourth"]["is_read_only"] is True
assert exports["second"]["description"] == "RAM disk", exports["second"]
assert exports["third"]["description"] == "scratch space", exports["third"]
PY
# "" is the default export: the first one
[ "$(nbdinfo --size "$URI")" = 1048576 ] || fail "default export has the wrong size"
[ "$(nbdinfo --size "$URI/second")" = 5242880 ] || fail "export second has the wrong size"
if nbdinfo --size "$URI/nosuch" 2>"$T/err"; then fail "unknown export was served"; fi
stop_server
start_server_expect_failure --memory 1M --export-description nosuch=text
grep -q 'no export "nosuch"' "$SERVER_LOG" || fail "no error for an unknown export's description"
