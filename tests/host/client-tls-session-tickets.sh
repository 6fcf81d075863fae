#!/bin/sh
# timeout: 120
# enbd-client's record layer takes over from OpenSSL at the NBD handshake's
# last read, counting the server's records since its Finished: the session
# tickets first.  Against an OpenSSL server (Python's ssl,
# client_tls_server.py) sending 0, 1, 2 and 5 tickets, the records
# are carried in userspace each time and the transmission through them is
# right (every read of what was written checked): a count off by one fails
# the first record.
. "$(dirname "$0")/client-lib.sh"
. "$(dirname "$0")/tls-lib.sh"
make_pki
FAKE_SERVER=$TOP/tests/host/client_tls_server.py	# started by start_fake
for tickets in 0 1 2 5; do
	start_fake "$T/pki/server" "$tickets"
	run_selftest -v -z -w -n 2000 -T require -C "$T/pki/client" -p "$FAKE_PORT" localhost
	expect_pass
	grep -q 'info: TLS: TLSv1.3 ' "$LOG" || fail "$tickets tickets: no TLS 1.3: $(grep TLS "$LOG")"
	grep -q 'TLS records carried in userspace: both' "$LOG" ||
		fail "$tickets tickets: the records stayed OpenSSL's: $(grep 'userspace' "$LOG")"
	[ "$(st attaches)" -eq 1 ] || fail "$tickets tickets: reconnected: $(grep '^selftest:' "$LOG")"
	kill "$FAKE_PID"
done
exit 0
