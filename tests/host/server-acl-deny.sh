#!/bin/sh
# timeout: 60
# Clients outside every --allow network, or everyone with --default-deny
# alone, get a clean refusal (NBD_REP_ERR_POLICY) and a log line; an
# allowed client of the same server is still served.
. "$(dirname "$0")/server-lib.sh"
need nbdinfo
start_server --memory 1M --allow 10.0.0.0/8 --allow 127.0.0.2
if nbdinfo --size nbd://127.0.0.1:$PORT 2>"$T/err"; then
	fail "127.0.0.1 was let in"
fi
grep -qi "policy\|denied" "$T/err" || fail "no clean refusal: $(cat "$T/err")"
grep -q "127.0.0.1:[0-9]*: refused by access control" "$SERVER_LOG" || fail "no log line"
py "$PORT" <<'PY' || fail "a client from 127.0.0.2 was refused"
import sys
from server_raw import *
r = Raw(int(sys.argv[1]), source="127.0.0.2").connect()
r.request(CMD_READ, 0, 512, cookie=5)
assert r.result() == (5, 0, bytes(512))
PY
# the raw exchange: every option is refused with ERR_POLICY, ABORT is acked
py "$PORT" <<'PY' || fail "refusal not as specified"
import sys
from server_raw import *
r = Raw(int(sys.argv[1]))
r.greet()
for opt, data in ((OPT_GO, Raw.go_data()), (OPT_LIST, b""), (OPT_STRUCTURED_REPLY, b"")):
    r.opt(opt, data)
    assert r.opt_replies()[-1][0] == REP_ERR_POLICY, opt
r.opt(OPT_ABORT)
assert r.opt_replies()[-1][0] == REP_ACK
PY
server_alive
start_server --memory 1M --default-deny
if nbdinfo --size nbd://127.0.0.1:$PORT 2>"$T/err"; then
	fail "--default-deny let a client in"
fi
stop_server
