#!/bin/sh
# timeout: 120
# enbd-server's hand-over to lib/tls-record.c after a TLS 1.3 handshake
# that took a HelloRetryRequest.  The server is given an OpenSSL
# configuration (OPENSSL_CONF) that allows P-384 only, for which neither
# OpenSSL (X25519) nor GnuTLS (X25519, P-256) sends a key share first, so
# the server must ask for one: the HelloRetryRequest, whose fixed random
# is looked for in the clients' reads.  Over such handshakes nbd-load
# (OpenSSL) writes and reads back every byte and nbdcopy (GnuTLS) copies
# data in and out; every connection's records were carried in userspace.
. "$(dirname "$0")/server-lib.sh"
. "$(dirname "$0")/tls-lib.sh"
need strace nbdcopy
LOAD=$ENBD_BUILD/nbd-load
[ -x "$LOAD" ] || fail "$LOAD not built (run make)"
make_psk
cat >"$T/openssl.cnf" <<'CNF'
openssl_conf = openssl_init
[openssl_init]
ssl_conf = ssl_sect
[ssl_sect]
system_default = system_default_sect
[system_default_sect]
Groups = P-384
CNF
OPENSSL_CONF=$T/openssl.cnf
export OPENSSL_CONF
start_server --tls=require --tls-psk "$T/psk/keys.psk" --memory 32M -v
unset OPENSSL_CONF
tls_uris

expect_retry() {
	saw_hello_retry "$1" || fail "$1: the server sent no HelloRetryRequest: OPENSSL_CONF did not take"
}

# load WORKLOAD...: nbd-load over TLS-PSK, 16 MiB in 64 KiB requests, under $WRAP
load() {
	$WRAP "$LOAD" -p "$PORT" -s 16 -r 64K -n 4 --tls require --tls-psk "$T/psk/keys.psk" \
		localhost "$@" >"$T/out" 2>"$T/err"
}
WRAP="traced_reads nbd-load"
load write || fail "nbd-load write failed: $(cat "$T/err")"
WRAP=
expect_retry nbd-load
load read --verify || fail "nbd-load read --verify failed: $(cat "$T/err")"

head -c 8M /dev/urandom >"$T/src"
traced_reads nbdcopy nbdcopy --connections=1 "$T/src" "$PSK_URI" || fail "nbdcopy in failed"
expect_retry nbdcopy
nbdcopy --connections=2 "$PSK_URI" "$T/back" || fail "nbdcopy out failed"
head -c 8M "$T/back" | cmp - "$T/src" || fail "nbdcopy read back other data"

stop_server
all_records_userspace "$SERVER_LOG"
exit 0
