#!/bin/sh
# timeout: 60
# A client that does not trust the server's certificate (signed by a CA it
# does not know) refuses it, and the server logs the failed handshake.
. "$(dirname "$0")/server-lib.sh"
. "$(dirname "$0")/tls-lib.sh"
need nbdinfo
make_pki
start_server --tls=require --tls-certificates "$T/pki/server" --memory 1M
if nbdinfo --size "nbds://localhost:$PORT/?tls-certificates=$T/pki/untrusting" 2>"$T/client.out"
then
	fail "a client that does not trust the server's CA connected"
fi
wait_until 10 grep -q "127.0.0.1:[0-9]*: TLS handshake failed: " "$SERVER_LOG" ||
	fail "no log line for the failed handshake"
tls_uris
nbdinfo --size "$X509_URI" >/dev/null || fail "a trusting client was refused"
stop_server
