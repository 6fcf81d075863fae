#!/bin/sh
# A TLS 1.3 handshake that takes a HelloRetryRequest still hands over to
# lib/tls-record.c with the right record numbers.  OpenSSL sends a key
# share for X25519 only; nbdkit is run with a GnuTLS system priority file
# that disables X25519, so it must ask for another group (the
# HelloRetryRequest, whose ServerHello random is a fixed value, seen here
# in nbd-load's reads).  enbd-client's transmission (the simulated device,
# every read checked) runs over such a handshake, its records carried in
# userspace, and nbd-load writes and reads back every byte.
. "$(dirname "$0")/client-lib.sh"
. "$(dirname "$0")/tls-lib.sh"
need strace

LOAD=$ENBD_BUILD/nbd-load
[ -x "$LOAD" ] || fail "$LOAD not built (run make)"
make_psk
printf '[overrides]\ndisabled-curve = x25519\n' >"$T/gnutls.cfg"
GNUTLS_SYSTEM_PRIORITY_FILE=$T/gnutls.cfg
export GNUTLS_SYSTEM_PRIORITY_FILE
start_nbdkit --tls=require --tls-psk="$T/psk/keys.psk" memory 64M
unset GNUTLS_SYSTEM_PRIORITY_FILE

# First, while the export is still all zeroes, as the self-test expects.
run_selftest -v -z -n 2000 -T require -k "$T/psk/keys.psk" -p "$NBDKIT_PORT" localhost
expect_pass
all_records_userspace "$LOG"

# load WORKLOAD...: nbd-load over TLS-PSK, under $WRAP if set
load() {
	$WRAP "$LOAD" -p "$NBDKIT_PORT" -s 8 -r 64K -n 4 --tls require --tls-psk "$T/psk/keys.psk" \
		localhost "$@" >"$T/out" 2>"$T/err"
}
WRAP="traced_reads nbd-load"
load write || fail "nbd-load write failed: $(cat "$T/err")"
WRAP=
saw_hello_retry nbd-load || fail "nbdkit sent no HelloRetryRequest: the GnuTLS override did not take"
load read --verify || fail "nbd-load read --verify failed: $(cat "$T/err")"

exit 0
