#!/bin/sh
# A wrong PSK (the server's identity, another key) fails the TLS handshake:
# exit 1 and an error: line before the device is ever served.  A channel
# that was served and reconnects to a server whose key changed does not
# spin: it logs each failed handshake and backs off (100 ms doubling to
# 5 s), so a few attempts in 4 s, not hundreds.
. "$(dirname "$0")/client-lib.sh"
. "$(dirname "$0")/tls-lib.sh"

make_psk
start_nbdkit --tls=require --tls-psk="$T/psk/keys.psk" memory 64M
probe_refused "TLS handshake failed: .*\(wrong PSK, or an identity the server does not know\?\)" \
	--tls require --tls-psk "$T/wrong.psk" -p "$NBDKIT_PORT" localhost

bg_selftest -n 0 -T require -k "$T/psk/keys.psk" -p "$NBDKIT_PORT" localhost
wait_logged 30 'serving the simulated device' || fail "not served: $(cat "$LOG")"
kill "$NBDKIT_PID"
wait "$NBDKIT_PID" 2>/dev/null || true
cp "$T/wrong.psk" "$T/psk/keys.psk"
restart_nbdkit --tls=require --tls-psk="$T/psk/keys.psk" memory 64M
wait_logged 30 'warning: .*TLS handshake failed' || fail "no failed handshake logged: $(tail "$LOG")"
sleep 4
failed=$(grep -c 'warning: .*TLS handshake failed' "$LOG")
[ "$failed" -le 8 ] || fail "$failed failed handshakes in about 4 s: spinning"
grep -q 'reconnecting in [0-9]* ms' "$LOG" || fail "no backoff: $(tail "$LOG")"
kill "$SELFTEST_PID"
wait_selftest
[ "$RC" -eq 0 ] || fail "the channel exited $RC after SIGTERM: $(tail "$LOG")"
exit 0
