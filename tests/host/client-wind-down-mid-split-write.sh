#!/bin/sh
# Winding down (SIGTERM, then a second one) while a WRITE split into many
# parts is partly sent — the server's maximum payload is 512 bytes and it
# stopped reading — ends cleanly: exit 0, nothing failed, and the sender
# never writes past its batch of iovecs (issue 10, finding 1: NBD_CMD_DISC
# was appended after 32 two-iovec parts, past the array; AddressSanitizer
# sees it with ENBD_BUILD=build-san).  Every sendmsg() takes at most 16
# bytes (client_short_sends.c), so the sender passes through every
# partly-sent state, the one that overflowed included.
. "$(dirname "$0")/client-lib.sh"
need cc

# The shim, behind the sanitizer runtime, which must come first.
cc -shared -fPIC -o "$T/short-sends.so" "$TOP/tests/host/client_short_sends.c" -ldl ||
	fail "cannot build the sendmsg shim"
preload="$(ldd "$SELFTEST" | sed -n 's/.*libasan[^ ]* => \([^ ]*\).*/\1/p') $T/short-sends.so"

# A sanitizer report ends the selftest (then a zombie, which kill -0 finds).
crashed() {
	grep -q 'ERROR: AddressSanitizer\|runtime error:' "$LOG"
}
signal_selftest() { # SIG: the selftest must still be running
	if crashed || ! kill -"$1" "$SELFTEST_PID" 2>/dev/null; then
		wait_selftest
		fail "the selftest ended early (exit $RC): $(tail -n 3 "$LOG")"
	fi
}

start_fake 67108864 stall 512
go=$T/fake.$((N - 1)).port.go
LOG=$T/selftest.log
: >"$LOG"
LD_PRELOAD=$preload "$SELFTEST" -v -w -n 0 -p "$FAKE_PORT" localhost >"$LOG" 2>&1 &
SELFTEST_PID=$!
BG_PIDS="$BG_PIDS $SELFTEST_PID"
stalled_or_crashed() {
	grep -q 'stalled with' "$T/fake.log" || crashed
}
wait_until 60 stalled_or_crashed || fail "the server never stalled"
signal_selftest TERM
wait_until 10 grep -q 'waiting for [0-9]* requests in flight' "$LOG" ||
	fail "nothing in flight at SIGTERM: $(tail -n 5 "$LOG")"
signal_selftest TERM
wait_until 10 grep -q 'again: not waiting' "$LOG" || fail "second SIGTERM not seen"
touch "$go"
grep -q 'larger requests are split' "$LOG" || fail "the client did not split requests"
wait_selftest
expect_pass
[ "$(st errors)" -eq 0 ] && [ "$(st discarded)" -eq 0 ] || fail "$(grep '^selftest:' "$LOG")"
exit 0
