#!/bin/sh
# timeout: 60
# Under --tls=require with PSK, a client with the right identity but the
# wrong key, or an identity the file does not have, is refused, with a
# "TLS handshake failed" line in the server's log; the server goes on
# serving clients with the right key.
. "$(dirname "$0")/server-lib.sh"
. "$(dirname "$0")/tls-lib.sh"
need nbdinfo
make_psk
start_server --tls=require --tls-psk "$T/psk/keys.psk" --memory 1M
tls_uris
if nbdinfo --size "nbds://alice@localhost:$PORT/?tls-psk-file=$T/wrong.psk" 2>"$T/wrong.out"; then
	fail "a client with the wrong key was served"
fi
sed 's/^alice:/mallory:/' "$T/psk/keys.psk" >"$T/mallory.psk"
if nbdinfo --size "nbds://mallory@localhost:$PORT/?tls-psk-file=$T/mallory.psk" 2>/dev/null; then
	fail "a client with an unknown identity was served"
fi
# The client may see the alert before the server logs it.
wait_until 10 grep -q "TLS handshake failed: binder does not verify" "$SERVER_LOG" ||
	fail "no log line for the wrong key"
wait_until 10 grep -q "TLS handshake failed: unknown PSK identity \"mallory\"" "$SERVER_LOG" ||
	fail "no log line for the unknown identity"
nbdinfo --size "$PSK_URI" >/dev/null || fail "the right key no longer works"
stop_server
