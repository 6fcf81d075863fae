#!/bin/sh
# --tls on: TLS with a server that offers it (nbdkit --tls=on), plaintext
# with one that does not (nbdkit without --tls: a line says so); --tls off
# against a server that requires TLS is refused with a line that says
# which options to use.
. "$(dirname "$0")/client-lib.sh"
. "$(dirname "$0")/tls-lib.sh"

make_pki
start_nbdkit --tls=on --tls-certificates="$T/pki/server" memory 64M
run_selftest -z -n 500 -T on -C "$T/pki/client" -p "$NBDKIT_PORT" localhost
expect_pass
grep -q 'info: TLS: TLSv1.3 ' "$LOG" || fail "TLS offered but not used: $(grep -i tls "$LOG")"

start_nbdkit memory 64M
run_selftest -z -n 500 -T on -C "$T/pki/client" -p "$NBDKIT_PORT" localhost
expect_pass
grep -q 'server does not offer TLS (.*); going on in plaintext (--tls on)' "$LOG" ||
	fail "no line about plaintext: $(grep -i tls "$LOG")"

start_nbdkit --tls=require --tls-certificates="$T/pki/server" memory 64M
probe_refused "server requires TLS \(use --tls on or require" -p "$NBDKIT_PORT" localhost
exit 0
