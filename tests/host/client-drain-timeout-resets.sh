#!/bin/sh
# A wind-down whose requests in flight do not finish (the drain times out,
# or a second SIGTERM) hands them back to the kernel and resets the
# connection instead of sending NBD_CMD_DISC: a server told NBD_CMD_DISC
# still carries out the requests it had received, perhaps after the copies
# the kernel sent through another channel.  With nothing in flight the
# wind-down stays polite (client-signals.sh: NBD_CMD_DISC reaches nbdkit).
. "$(dirname "$0")/client-lib.sh"

start_fake 67108864 stall 524288
go=$T/fake.$((N - 1)).port.go
bg_selftest -w -n 0 -p "$FAKE_PORT" localhost
wait_until 60 grep -q 'stalled with' "$T/fake.log" || fail "the server never stalled"
kill -TERM "$SELFTEST_PID"
wait_until 10 grep -q 'waiting for [0-9]* requests in flight' "$LOG" ||
	fail "nothing in flight at SIGTERM: $(tail -n 5 "$LOG")"
kill -TERM "$SELFTEST_PID"
wait_until 10 grep -q 'again: not waiting' "$LOG" || fail "second SIGTERM not seen"
touch "$go"
wait_selftest
expect_pass
[ "$(st errors)" -eq 0 ] && [ "$(st requeued)" -gt 0 ] || fail "$(grep '^selftest:' "$LOG")"
grep -q 'resetting the connection: [0-9]* requests in flight go back' "$LOG" ||
	fail "no reset: $(grep -E 'warn|DISC' "$LOG" | tail -n 3)"
wait_until 30 grep -q 'connection ended by' "$T/fake.log" || fail "the server never saw the end"
grep -q 'connection ended by reset$' "$T/fake.log" ||
	fail "not a reset alone: $(grep 'ended by' "$T/fake.log")"
exit 0
