#!/bin/sh
# timeout: 60
# --tls-verify-peer: a client certificate from the CA is accepted, none or
# one from another CA is refused ("client certificate rejected" in the
# log); with --tls-allow-name the certificate must also carry an allowed
# name.
. "$(dirname "$0")/server-lib.sh"
. "$(dirname "$0")/tls-lib.sh"
need nbdinfo
make_pki
start_server --tls=require --tls-certificates "$T/pki/server" --tls-verify-peer --memory 1M
tls_uris
nbdinfo --size "$X509_URI" >/dev/null || fail "the CA's client certificate was refused"
if nbdinfo --size "nbds://localhost:$PORT/?tls-certificates=$T/pki/rogue-client" 2>/dev/null; then
	fail "a client certificate of another CA was accepted"
fi
mkdir "$T/no-cert" && cp "$T/pki/ca/ca-cert.pem" "$T/no-cert/"
if nbdinfo --size "nbds://localhost:$PORT/?tls-certificates=$T/no-cert" 2>/dev/null; then
	fail "a client without a certificate was accepted"
fi
wait_until 10 grep -q "TLS handshake failed: client certificate rejected: " "$SERVER_LOG" ||
	fail "no log line for the rejected certificate"
grep -q "TLS: TLSv1.3 .*, client certificate CN=alice" "$SERVER_LOG" || fail "no CN logged"
stop_server

start_server --tls=require --tls-certificates "$T/pki/server" --tls-verify-peer \
	--tls-allow-name bob --tls-allow-name carol --memory 1M
tls_uris
if nbdinfo --size "$X509_URI" 2>/dev/null; then
	fail "alice's certificate was accepted, but only bob and carol are allowed"
fi
wait_until 10 grep -q "client certificate names none of the allowed names" "$SERVER_LOG" ||
	fail "no log line for a name not allowed"
stop_server

start_server --tls=require --tls-certificates "$T/pki/server" --tls-verify-peer \
	--tls-allow-name bob --tls-allow-name alice --memory 1M
tls_uris
nbdinfo --size "$X509_URI" >/dev/null || fail "alice's certificate was refused though allowed"
stop_server
