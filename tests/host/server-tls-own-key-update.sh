#!/bin/sh
# timeout: 120
# lib/tls-record.c changes its own sending key (KeyUpdate, RFC 8446 4.6.3)
# once a key has sealed TLS_RECORD_KEY_USES records: 2^24 in enbd-server,
# 32 in enbd-server-key-uses-32 (tests/host/build.mk), which this test runs.
# A key seals up to 16 records more (one send's batch) before the check.
# The peers follow every switch and read correct data across several: an
# OpenSSL client (tls_key_update_client.c) that asks for none writes and
# reads back 3 MiB (about 200 records from the server) and counts the
# KeyUpdates that came unasked; nbdcopy (GnuTLS) copies 3 MiB in and out
# again.  (GnuTLS refuses more than 8 KeyUpdates a second, hence so little.)
. "$(dirname "$0")/server-lib.sh"
. "$(dirname "$0")/tls-lib.sh"
need cc nbdcopy
SERVER=$ENBD_BUILD/enbd-server-key-uses-32
[ -x "$SERVER" ] || fail "$SERVER not built (make)"
make_psk
cc -O2 -I"$TOP/lib" -o "$T/key-update-client" "$TOP/tests/host/tls_key_update_client.c" \
	-lssl -lcrypto 2>/dev/null || fail "cannot build the client"
head -c 3M /dev/urandom >"$T/src"
start_server --tls=require --tls-psk "$T/psk/keys.psk" --memory 3M -v
"$T/key-update-client" "$PORT" "$T/psk/keys.psk" 3 unasked >"$T/client.out" 2>&1 ||
	fail "OpenSSL client: $(cat "$T/client.out")"
updates=$(sed -n 's/^3 rounds, \([0-9]*\) KeyUpdates unasked$/\1/p' "$T/client.out")
[ -n "$updates" ] && [ "$updates" -ge 4 ] ||
	fail "OpenSSL client: $(cat "$T/client.out") (at least 4 wanted)"
tls_uris
nbdcopy --connections=1 "$T/src" "$PSK_URI" || fail "nbdcopy in failed"
nbdcopy --connections=1 "$PSK_URI" "$T/out" || fail "nbdcopy out failed"
cmp "$T/src" "$T/out" || fail "data read back differs"
stop_server
grep -q "TLS records carried in userspace: both" "$SERVER_LOG" ||
	fail "the records stayed OpenSSL's: $(grep 'userspace' "$SERVER_LOG")"
exit 0
