#!/bin/sh
# timeout: 60
# TLS 1.3 is preferred and TLS 1.2 still served (X.509): a client offering
# up to 1.3 gets 1.3, one limited to 1.2 gets 1.2, and one limited to 1.1
# is refused.
. "$(dirname "$0")/server-lib.sh"
. "$(dirname "$0")/tls-lib.sh"
make_pki
start_server --tls=require --tls-certificates "$T/pki/server" --memory 1M
py "$PORT" "$T/pki/ca/ca-cert.pem" <<'PY' || fail "TLS versions"
import ssl, sys, warnings
from server_raw import *
warnings.simplefilter("ignore", DeprecationWarning)    # ssl.TLSVersion.TLSv1_1
port, ca = int(sys.argv[1]), sys.argv[2]

def starttls(maximum):
    r = Raw(port)
    r.greet()
    r.opt(OPT_STARTTLS)
    assert r.opt_reply()[1] == REP_ACK
    ctx = ssl.create_default_context(cafile=ca)
    ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    ctx.maximum_version = maximum
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    r.s = ctx.wrap_socket(r.s, server_hostname="localhost")
    return r

assert starttls(ssl.TLSVersion.TLSv1_3).s.version() == "TLSv1.3"
r = starttls(ssl.TLSVersion.TLSv1_2)
assert r.s.version() == "TLSv1.2", r.s.version()
r.opt(OPT_GO, Raw.go_data())
assert r.opt_replies()[-1][0] == REP_ACK
r.request(CMD_READ, 0, 512, cookie=3)
assert r.result(512) == (3, 0, bytes(512))
try:
    starttls(ssl.TLSVersion.TLSv1_1)
except (ssl.SSLError, ConnectionError):
    pass
else:
    raise AssertionError("TLS 1.1 accepted")
PY
wait_until 10 grep -q "TLS handshake failed: unsupported protocol" "$SERVER_LOG" ||
	fail "the server did not log the refused TLS 1.1 client"
stop_server
