#!/bin/sh
# A channel daemon killed -9 (or OOM-killed) with writes in flight resets
# its connection — its socket is abortive from connect (SO_LINGER 0) — so
# the server gets ECONNRESET, not an orderly end after the requests it had
# received.  A server that drops the unstarted requests of a reset
# connection (enbd-server does) then never carries out a write the kernel
# has meanwhile given to another channel.  (The selftest shares enbd-client's
# socket code.)
. "$(dirname "$0")/client-lib.sh"

start_fake 67108864 stall 524288
go=$T/fake.$((N - 1)).port.go
bg_selftest -w -n 0 -p "$FAKE_PORT" localhost
wait_until 60 grep -q 'stalled with' "$T/fake.log" || fail "the server never stalled"
kill -KILL "$SELFTEST_PID"
wait "$SELFTEST_PID" 2>/dev/null || true
touch "$go"
wait_until 30 grep -q 'connection ended by' "$T/fake.log" || fail "the server never saw the end"
grep -q 'connection ended by reset' "$T/fake.log" ||
	fail "the server saw an orderly end: $(grep 'ended by' "$T/fake.log")"
exit 0
