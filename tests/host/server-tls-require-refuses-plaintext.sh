#!/bin/sh
# timeout: 60
# Under --tls=require a client that does not start TLS is refused clearly:
# nbdinfo says the server requires TLS, every option but STARTTLS and
# ABORT is answered NBD_REP_ERR_TLS_REQD, NBD_OPT_EXPORT_NAME closes the
# connection, and the server logs why.
. "$(dirname "$0")/server-lib.sh"
. "$(dirname "$0")/tls-lib.sh"
need nbdinfo
make_psk
start_server --tls=require --tls-psk "$T/psk/keys.psk" --memory 1M
if nbdinfo "$URI" >"$T/nbdinfo.out" 2>&1; then
	fail "a plaintext nbdinfo was served"
fi
grep -qi "tls" "$T/nbdinfo.out" || fail "nbdinfo does not say TLS is required: $(cat "$T/nbdinfo.out")"
py "$PORT" <<'PY' || fail "raw options"
import sys
from server_raw import *
REP_ERR_TLS_REQD = 2**31 + 5
port = int(sys.argv[1])
r = Raw(port)
r.greet()
for opt, data in ((OPT_LIST, b""), (OPT_GO, Raw.go_data()), (OPT_STRUCTURED_REPLY, b"")):
    r.opt(opt, data)
    _, rep, msg = r.opt_reply()
    assert rep == REP_ERR_TLS_REQD, "option %d: reply %#x" % (opt, rep)
    assert b"TLS" in msg, msg
r.opt(OPT_EXPORT_NAME, b"")
assert r.closed_by_server(), "NBD_OPT_EXPORT_NAME without TLS was not hung up on"
PY
grep -q "127.0.0.1:[0-9]*: NBD_OPT_GO without TLS, which is required: refused" "$SERVER_LOG" ||
	fail "no log line for a refused option"
grep -q "NBD_OPT_EXPORT_NAME without TLS, which is required: hanging up" "$SERVER_LOG" ||
	fail "no log line for EXPORT_NAME"
server_alive
stop_server
