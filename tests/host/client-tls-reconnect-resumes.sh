#!/bin/sh
# A channel that reconnects resumes its TLS session from the server's
# ticket (TLS 1.3) instead of a full handshake, and says which it did;
# with the selftest's -N (never resume) every connection is a full
# handshake.  The transmission goes on across the reconnects (every read of
# what it wrote checked), each connection's records carried in userspace
# both ways by both sides: a resumed handshake (the server sends one ticket,
# not two) hands over with the right record counts.
. "$(dirname "$0")/client-lib.sh"
. "$(dirname "$0")/server-lib.sh"
. "$(dirname "$0")/tls-lib.sh"

make_pki
start_server --tls require --tls-certificates "$T/pki/server" --memory 64M -v
# reconnect_twice ARGS...: a channel, SIGHUP twice, each after it served again
reconnect_twice() {
	bg_selftest -v -n 0 -T require -C "$T/pki/client" "$@" -p "$PORT" localhost
	for k in 1 2; do
		wait_logged 30 'serving the simulated device' $k || fail "not served ($k): $(tail -n 5 "$LOG")"
		kill -HUP "$SELFTEST_PID"
	done
	wait_logged 30 'serving the simulated device' 3 || fail "did not reconnect: $(tail -n 5 "$LOG")"
	kill "$SELFTEST_PID"
	wait_selftest
	expect_pass
	all_records_userspace "$LOG"
}
reconnect_twice
[ "$(grep -c 'info: TLS: TLSv1.3 .*, full handshake$' "$LOG")" -eq 1 ] &&
	[ "$(grep -c 'info: TLS: TLSv1.3 .*, resumed$' "$LOG")" -eq 2 ] ||
	fail "not one full handshake, then two resumed: $(grep 'TLS:' "$LOG")"
reconnect_twice -N
[ "$(grep -c 'info: TLS: TLSv1.3 .*, full handshake$' "$LOG")" -eq 3 ] ||
	fail "-N: not three full handshakes: $(grep 'TLS:' "$LOG")"
grep -q 'resumed' "$SERVER_LOG" || fail "the server saw no resumption"
stop_server
all_records_userspace "$SERVER_LOG"
exit 0
