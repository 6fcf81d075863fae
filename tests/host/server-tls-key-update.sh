#!/bin/sh
# A TLS 1.3 client may change its keys at any time and ask the server to
# change its own (KeyUpdate, RFC 8446 4.6.3): enbd-server, whose records
# lib/tls-record.c carries after the handshake, follows and answers.  An
# OpenSSL client (tls_key_update_client.c) writes 1 MiB, asks for a
# KeyUpdate, reads the 1 MiB back, five times; every read matches and five
# KeyUpdates come back.
. "$(dirname "$0")/server-lib.sh"
. "$(dirname "$0")/tls-lib.sh"
need cc
make_psk
cc -O2 -I"$TOP/lib" -o "$T/key-update-client" "$TOP/tests/host/tls_key_update_client.c" \
	-lssl -lcrypto || fail "cannot build the client"
start_server --tls=require --tls-psk "$T/psk/keys.psk" --memory 8M
"$T/key-update-client" "$PORT" "$T/psk/keys.psk" 5 >"$T/client.out" 2>&1 ||
	fail "$(cat "$T/client.out")"
grep -q '^5 rounds, 5 KeyUpdates each way$' "$T/client.out" || fail "$(cat "$T/client.out")"
stop_server
exit 0
