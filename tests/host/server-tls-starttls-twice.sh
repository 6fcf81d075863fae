#!/bin/sh
# timeout: 60
# After NBD_OPT_STARTTLS the options go on inside TLS: a second STARTTLS
# is answered NBD_REP_ERR_INVALID, what was negotiated in the clear
# (structured replies) is forgotten, and the export is then served through
# TLS.  Under --tls=on, STARTTLS with data is invalid too.
. "$(dirname "$0")/server-lib.sh"
. "$(dirname "$0")/tls-lib.sh"
make_pki
start_server --tls=on --tls-certificates "$T/pki/server" --memory 1M
py "$PORT" "$T/pki/ca/ca-cert.pem" <<'PY' || fail "STARTTLS sequence"
import ssl, sys
from server_raw import *
port, ca = int(sys.argv[1]), sys.argv[2]
r = Raw(port)
r.greet()
r.opt(OPT_STRUCTURED_REPLY)
assert r.opt_replies()[-1][0] == REP_ACK
r.opt(OPT_STARTTLS, b"x")
assert r.opt_reply()[1] == REP_ERR_INVALID, "STARTTLS with data accepted"
r.opt(OPT_STARTTLS)
assert r.opt_reply()[1] == REP_ACK, "STARTTLS refused"
ctx = ssl.create_default_context(cafile=ca)
r.s = ctx.wrap_socket(r.s, server_hostname="localhost")
assert r.s.version() in ("TLSv1.3", "TLSv1.2"), r.s.version()
r.opt(OPT_STARTTLS)
_, rep, msg = r.opt_reply()
assert rep == REP_ERR_INVALID, "second STARTTLS: %#x %r" % (rep, msg)
# structured replies were negotiated in the clear only: meta contexts
# need them, so SET_META_CONTEXT must now fail
r.opt(OPT_SET_META_CONTEXT, Raw.meta_data())
assert r.opt_replies()[-1][0] == REP_ERR_INVALID, "clear-text negotiation survived STARTTLS"
r.structured = False
r.opt(OPT_GO, Raw.go_data())
assert r.opt_replies()[-1][0] == REP_ACK
r.request(CMD_WRITE, 4096, 4, cookie=7, payload=b"abcd")
assert r.result()[:2] == (7, 0)
r.request(CMD_READ, 4096, 4, cookie=8)
assert r.result(4) == (8, 0, b"abcd")
PY
stop_server
