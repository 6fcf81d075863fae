#!/bin/sh
# The handshake has one deadline for the whole exchange: a server that
# trickles its greeting a byte a second (each read would finish within a
# per-read timeout) is given up after --handshake-timeout.  SIGTERM while
# the channel waits for a silent server's greeting, or for a connect that
# does not complete, stops it at once with exit status 0.
. "$(dirname "$0")/client-lib.sh"

# now_ms: milliseconds since the epoch
now_ms() { date +%s%3N; }

start_fake 1048576 trickle
t0=$(now_ms)
run_probe --handshake-timeout 3 -p "$FAKE_PORT" localhost
dt=$(($(now_ms) - t0))
[ $RC -eq 1 ] || fail "trickling server: exit $RC (expected 1): $(cat "$ERR")"
grep -q 'error: .*handshake deadline passed' "$ERR" || fail "no deadline message: $(cat "$ERR")"
[ $dt -ge 2500 ] && [ $dt -le 6000 ] || fail "gave up after $dt ms with a 3 s deadline"

# SIGTERM while waiting for the greeting (default deadline 10 s)
start_fake 1048576 silent
"$CLIENT" --probe -v -p "$FAKE_PORT" localhost >/dev/null 2>"$T/silent.log" &
pid=$!
wait_until 10 grep -q 'connecting to' "$T/silent.log" || fail "the probe did not start"
sleep 0.5
t0=$(now_ms)
kill -TERM $pid
rc=0
wait $pid || rc=$?
dt=$(($(now_ms) - t0))
[ $rc -eq 0 ] || fail "SIGTERM during the handshake: exit $rc: $(cat "$T/silent.log")"
[ $dt -le 1500 ] || fail "SIGTERM during the handshake took $dt ms"
grep -q 'Terminated: exiting' "$T/silent.log" || fail "no log line: $(cat "$T/silent.log")"

# SIGTERM during a connect that hangs: a server that never accepts, its
# one-place backlog taken by a first connection.
start_fake 1048576 noaccept
"$CLIENT" --probe -p "$FAKE_PORT" localhost >/dev/null 2>"$T/first.log" &
first=$!
BG_PIDS="$BG_PIDS $first"
sleep 0.5
"$CLIENT" --probe -v -p "$FAKE_PORT" localhost >/dev/null 2>"$T/connect.log" &
pid=$!
wait_until 10 grep -q 'connecting to' "$T/connect.log" || fail "the probe did not start"
sleep 1
kill -0 $pid 2>/dev/null || fail "the connect did not hang: $(cat "$T/connect.log")"
t0=$(now_ms)
kill -TERM $pid
rc=0
wait $pid || rc=$?
dt=$(($(now_ms) - t0))
[ $rc -eq 0 ] || fail "SIGTERM during the connect: exit $rc: $(cat "$T/connect.log")"
[ $dt -le 1500 ] || fail "SIGTERM during the connect took $dt ms"
exit 0
