#!/bin/sh
# A server breaking the protocol in transmission (bad magic, unknown or
# repeated cookie, an unnegotiated structured reply, payload after an error,
# a cut-short READ) breaks only the connection: the channel drops it,
# reconnects, the device requeues what was in flight, and the work finishes
# with every read correct.  NBD_ESHUTDOWN makes it disconnect and reconnect
# without failing the requests.
. "$(dirname "$0")/client-lib.sh"

check() { # MODE MESSAGE [SELFTEST ARGS]
	mode=$1 msg=$2
	shift 2
	start_fake 67108864 "$mode"
	run_selftest -z -n 3000 "$@" -p "$FAKE_PORT" localhost
	expect_pass
	grep -q "$msg" "$LOG" || fail "$mode: no '$msg' in the log: $(grep -E 'warn|error' "$LOG" | head -n 5)"
	[ "$(st attaches)" -ge 2 ] || fail "$mode: did not reconnect: $(grep '^selftest:' "$LOG")"
	kill "$FAKE_PID"
}

check badmagic 'malformed reply from the server (bad magic'
check badcookie 'malformed reply from the server (unknown cookie'
check dupreply 'malformed reply from the server'
check structured 'structured reply that was not negotiated'
# With simple replies the extra payload is only seen as the next header; the
# error itself is the server's word for that one request.
check errpayload 'malformed reply from the server (bad magic' -E
[ "$(st errors)" -le 1 ] || fail "errpayload: $(st errors) errors"
check shortread 'server closed the connection with'
check eshutdown 'server is shutting down (NBD_ESHUTDOWN); reconnecting'
[ "$(st errors)" -eq 0 ] || fail "NBD_ESHUTDOWN failed requests"
[ "$(st requeued)" -gt 0 ] || fail "NBD_ESHUTDOWN: nothing requeued"
exit 0
