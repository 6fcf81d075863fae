#!/bin/sh
# --tls require: a server without TLS (nbdkit without --tls, which answers
# NBD_OPT_STARTTLS with an error) is refused with exit 1 and a clear
# error: line, by --probe and by a channel (the simulated device), which
# never serves it in plaintext.
. "$(dirname "$0")/client-lib.sh"
. "$(dirname "$0")/tls-lib.sh"

make_pki
start_nbdkit memory 64M
probe_refused "server does not offer TLS \(.*\), which --tls require requires" \
	--tls require --tls-certificates "$T/pki/client" -p "$NBDKIT_PORT" localhost
run_selftest -n 10 -T require -C "$T/pki/client" -p "$NBDKIT_PORT" localhost
[ $RC -eq 1 ] || fail "the channel exited $RC (expected 1)"
grep -q "error: .*server does not offer TLS" "$LOG" || fail "no error: line: $(cat "$LOG")"
[ "$(st completed)" -eq 0 ] || fail "requests served in plaintext: $(grep '^selftest:' "$LOG")"
exit 0
