#!/bin/sh
# A server that answers every request with NBD_ESHUTDOWN (every connection)
# does not make the channel reconnect in a hot loop: each reconnect after a
# connection that did not stand waits the doubling backoff, so in 4 s the
# server sees a handful of connections (100+200+400+800+1600 ms), not
# hundreds.  The channel never fails a request for it.
. "$(dirname "$0")/client-lib.sh"

start_fake 67108864 eshutdown-always
bg_selftest -n 0 -p "$FAKE_PORT" localhost
wait_until 10 grep -q 'connection 1 at' "$T/fake.log" || fail "the channel did not connect"
sleep 4
kill -TERM "$SELFTEST_PID"
wait_selftest
n=$(grep -c 'connection [0-9]* at' "$T/fake.log")
[ "$n" -le 10 ] || fail "$n connections in about 4 s: no backoff after NBD_ESHUTDOWN"
[ "$n" -ge 3 ] || fail "only $n connections: did it reconnect at all? $(tail -n 5 "$LOG")"
grep -q 'reconnecting in 400 ms' "$LOG" || fail "no doubling backoff: $(grep reconnecting "$LOG")"
[ "$(st errors)" -eq 0 ] || fail "requests failed: $(grep '^selftest:' "$LOG")"
exit 0
