#!/bin/sh
# timeout: 60
# LIST and INFO never tell a client where the exports live: with no
# --description they carry names only, with one they carry its text, and
# no reply holds a path of a served file.
. "$(dirname "$0")/server-lib.sh"
truncate -s 1M "$T/secret-a.img"
truncate -s 1M "$T/secret-b.img"

# every reply of LIST, then of INFO (asking for name and description) for
# each export, as raw bytes
replies() {
	py "$PORT" <<'PY'
import sys
from server_raw import *
r = Raw(int(sys.argv[1]))
r.greet()
r.opt(OPT_LIST)
out = r.opt_replies()
for rtype, data in out[:-1]:
    assert rtype == REP_SERVER, rtype
    name = data[4:4 + int.from_bytes(data[:4], "big")]
    r.opt(OPT_INFO, Raw.go_data(name, (1, 2)))     # INFO_NAME, INFO_DESCRIPTION
    out += r.opt_replies()
sys.stdout.buffer.write(b"".join(d for _, d in out))
PY
}

start_server "$T/secret-a.img" -e b=ro:$T/secret-b.img -e c=linear:$T/secret-a.img,memory:1M
replies >"$T/plain" || fail "LIST/INFO failed"
grep -aq "secret" "$T/plain" && fail "a reply holds a path: $(tr -c '[:print:]' . <"$T/plain")"
grep -aq "file\|memory" "$T/plain" && fail "a reply describes a backend: $(tr -c '[:print:]' . <"$T/plain")"
stop_server

start_server "$T/secret-a.img" -e b=$T/secret-b.img --description "test disks"
replies >"$T/described" || fail "LIST/INFO with --description failed"
grep -aq "secret" "$T/described" && fail "a reply holds a path"
[ "$(grep -ao "test disks" "$T/described" | wc -l)" -eq 4 ] ||
	fail "--description not in LIST and INFO of both exports"
stop_server
