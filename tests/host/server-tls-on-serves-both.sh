#!/bin/sh
# timeout: 60
# --tls=on serves plaintext clients and TLS clients side by side, while
# --tls=off (the default) answers NBD_OPT_STARTTLS with NBD_REP_ERR_UNSUP
# and so refuses a client that insists on TLS.
. "$(dirname "$0")/server-lib.sh"
. "$(dirname "$0")/tls-lib.sh"
need nbdcopy nbdinfo
make_psk
head -c 4M /dev/urandom >"$T/src"
start_server --tls=on --tls-psk "$T/psk/keys.psk" --memory 4M
tls_uris
nbdcopy "$T/src" "$PSK_URI" || fail "TLS client: nbdcopy in failed"
nbdcopy "$URI" "$T/out" || fail "plaintext client: nbdcopy out failed"
cmp "$T/src" "$T/out" || fail "data differs"
grep -q "TLS: TLSv1.3" "$SERVER_LOG" || fail "no TLS connection logged"
stop_server
start_server --memory 4M
tls_uris
if nbdinfo --size "$PSK_URI" 2>/dev/null; then
	fail "a server without --tls served a TLS client"
fi
nbdinfo --size "$URI" >/dev/null || fail "--tls off: plaintext refused"
stop_server
