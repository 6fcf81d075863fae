#!/bin/sh
# A hung server - the connection stays open, nothing more is read or
# answered - is given up within 2 x keepalive of its last reply: with
# keepalive 1 s the channel logs the keep-alive drop about 2 s after the fake
# server stops (accepted: 1.5 to 3 s, the bound plus a second for a busy
# machine), reconnects, renegotiates and finishes its requests on the new
# connection: what was in flight is requeued, nothing completes twice, every
# read matches.
. "$(dirname "$0")/client-lib.sh"

start_fake 67108864 hang
bg_selftest -z -n 3000 -K 1 -p "$FAKE_PORT" localhost
wait_until 30 grep -q 'hanging at' "$T/fake.log" || fail "the fake server did not hang"
wait_until 10 grep -q 'no answer from the server for .* (keep-alive): dropping the connection' "$LOG" ||
	fail "the hang was not detected: $(grep -E 'warn|error|probe' "$LOG" | tail -n 5)"
wait_until 60 grep -q '^selftest: ' "$LOG" || fail "the work did not finish after the reconnect"
wait_selftest
expect_pass
grep -q 'serving the simulated device again' "$LOG" || fail "no renegotiation"
[ "$(st attaches)" -eq 2 ] || fail "not one reconnect: $(grep '^selftest:' "$LOG")"
[ "$(st requeued)" -gt 0 ] || fail "nothing was requeued: $(grep '^selftest:' "$LOG")"

hung_at=$(sed -n 's/^fake server: hanging at //p' "$T/fake.log")
line=$(grep '(keep-alive): dropping the connection' "$LOG" | head -n 1)
dropped_at=$(date -u -d "${line%% *}" +%s.%3N)
dt=$(awk "BEGIN { printf \"%.2f\", $dropped_at - $hung_at }")
echo "keep-alive drop $dt s after the server hung (keepalive 1 s): ${line#* }"
awk "BEGIN { exit !($dt >= 1.5 && $dt <= 3.0) }" || fail "detected after $dt s, not about 2 s"
exit 0
