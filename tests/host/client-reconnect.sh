#!/bin/sh
# A served channel survives its server: nbdkit is killed (SIGKILL) twice in
# the middle of a random workload and restarted on the same file.  The
# channel reconnects with backoff, renegotiates and carries on; requests it
# had in flight are put back by the (simulated) device and redone; nothing
# completes twice or wrongly; every read still matches.  A longer outage
# shows the backoff doubling from 100 ms up to its 5 s cap.
. "$(dirname "$0")/client-lib.sh"

truncate -s 128M "$T/disk.img"
start_nbdkit file "$T/disk.img"
bg_selftest -z -n 0 -p "$NBDKIT_PORT" localhost
# Each kill comes once the channel serves (a loaded machine may take a while
# to get there), after it has had time to put requests in flight.
wait_logged 30 'serving the simulated device:' || fail "never served: $(tail -n 5 "$LOG")"
sleep 1
kill -KILL "$NBDKIT_PID"
sleep 1
restart_nbdkit file "$T/disk.img"
wait_logged 30 'serving the simulated device again' 1 || fail "no first reconnect"
sleep 1
kill -KILL "$NBDKIT_PID"
restart_nbdkit file "$T/disk.img"
wait_logged 30 'serving the simulated device again' 2 || fail "no second reconnect"
sleep 1
kill -TERM "$SELFTEST_PID"
wait_selftest
expect_pass
[ "$(st attaches)" -ge 3 ] || fail "did not reconnect twice: $(grep '^selftest:' "$LOG")"
[ "$(st detaches)" -eq "$(st attaches)" ] || fail "did not detach at the end: $(grep '^selftest:' "$LOG")"
[ "$(st requeued)" -gt 0 ] || fail "nothing was requeued: $(grep '^selftest:' "$LOG")"
[ "$(st errors)" -eq 0 ] || fail "requests failed"
grep -q 'reconnecting in 100 ms' "$LOG" || fail "no backoff"
grep -q '2 reconnects' "$LOG" || fail "reconnect count: $(grep reconnects "$LOG")"

# Server away for 9 s: 100, 200, ... 3200, then 5000 ms.  (The disk is no
# longer zeroed: check only what this run wrote.)
bg_selftest -n 0 -p "$NBDKIT_PORT" localhost
wait_logged 30 'serving the simulated device:' || fail "never served: $(tail -n 5 "$LOG")"
kill -KILL "$NBDKIT_PID"
sleep 9
restart_nbdkit file "$T/disk.img"
wait_until 20 grep -q 'serving the simulated device again' "$LOG" || fail "did not come back"
sleep 1
kill -TERM "$SELFTEST_PID"
wait_selftest
expect_pass
for ms in 100 200 400 800 1600 3200 5000; do
	grep -q "reconnecting in $ms ms" "$LOG" || fail "no $ms ms backoff: $(grep reconnecting "$LOG")"
done
grep -q 'reconnecting in 10000 ms' "$LOG" && fail "backoff beyond 5 s"
exit 0
