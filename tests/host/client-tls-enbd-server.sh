#!/bin/sh
# enbd-client --tls require against enbd-server --tls require, X.509 with
# client certificates verified (--tls-verify-peer --tls-allow-name alice)
# and PSK: the transmission through TLS (the simulated device, every read
# checked, 64 requests in flight), and the server logs the client it saw.
. "$(dirname "$0")/client-lib.sh"
. "$(dirname "$0")/server-lib.sh"
. "$(dirname "$0")/tls-lib.sh"

make_pki
make_psk
start_server --tls require --tls-certificates "$T/pki/server" --tls-verify-peer \
	--tls-allow-name alice --memory 64M
run_selftest -z -n 3000 -B 32 -T require -C "$T/pki/client" -p "$PORT" localhost
expect_pass
grep -q 'info: TLS: TLSv1.3 ' "$LOG" || fail "X.509: no TLS 1.3: $(grep -i tls "$LOG")"
grep -q 'client certificate CN=alice' "$SERVER_LOG" || fail "server saw no client certificate"
stop_server

start_server --tls require --tls-psk "$T/psk/keys.psk" --memory 64M
run_selftest -z -n 3000 -T require -k "$T/psk/keys.psk" -p "$PORT" localhost
expect_pass
grep -q 'PSK identity alice' "$SERVER_LOG" || fail "server saw no PSK identity"
stop_server
exit 0
