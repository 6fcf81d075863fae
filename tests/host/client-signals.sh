#!/bin/sh
# SIGTERM: no more fetching, the requests in flight finish, NBD_CMD_DISC goes
# to the server, the channel detaches, exit 0.  A second SIGTERM stops the
# wait: what is still in flight is left to the device to requeue, never
# failed.  SIGHUP: finish what is in flight, reconnect, carry on.
. "$(dirname "$0")/client-lib.sh"

start_nbdkit -v --filter=delay memory 64M delay-read=40ms delay-write=80ms
bg_selftest -z -n 0 -p "$NBDKIT_PORT" localhost
wait_logged 30 'serving the simulated device:' || fail "never served: $(tail -n 5 "$LOG")"
sleep 1
kill -TERM "$SELFTEST_PID"
wait_selftest
expect_pass
n=$(sed -n 's/.*waiting for \([0-9]*\) requests in flight.*/\1/p' "$LOG")
[ "${n:-0}" -gt 0 ] || fail "nothing was in flight at SIGTERM"
[ "$(st detaches)" -eq 1 ] || fail "did not detach"
[ "$(st errors)" -eq 0 ] && [ "$(st discarded)" -eq 0 ] || fail "$(grep '^selftest:' "$LOG")"
wait_until 5 grep -q 'client sent NBD_CMD_DISC' "$NBDKIT_LOG" || fail "no NBD_CMD_DISC reached nbdkit"
grep -q 'requests still in flight' "$LOG" && fail "gave up waiting without a second signal"

# SIGHUP twice: two reconnects, nothing lost.
bg_selftest -n 0 -p "$NBDKIT_PORT" localhost
wait_logged 30 'serving the simulated device:' || fail "never served: $(tail -n 5 "$LOG")"
kill -HUP "$SELFTEST_PID"
wait_logged 30 'serving the simulated device again' 1 || fail "no reconnect after SIGHUP"
sleep 0.5
kill -HUP "$SELFTEST_PID"
wait_logged 30 'serving the simulated device again' 2 || fail "no reconnect after the second SIGHUP"
kill -INT "$SELFTEST_PID"
wait_selftest
expect_pass
[ "$(st attaches)" -eq 3 ] || fail "SIGHUP did not reconnect twice: $(grep '^selftest:' "$LOG")"
[ "$(st errors)" -eq 0 ] || fail "errors"

# Two SIGTERMs: the second one stops the wait.  (A fresh nbdkit: 1.32
# aborts on an assertion when a client hangs up after NBD_CMD_DISC with
# requests still in flight.)
start_nbdkit --filter=delay memory 64M delay-read=40ms delay-write=80ms
bg_selftest -z -n 0 -p "$NBDKIT_PORT" localhost
wait_logged 30 'serving the simulated device:' || fail "never served: $(tail -n 5 "$LOG")"
sleep 1
kill -TERM "$SELFTEST_PID"
sleep 0.02
kill -TERM "$SELFTEST_PID"
wait_selftest
expect_pass
grep -q 'Terminated again: not waiting' "$LOG" || fail "second SIGTERM not seen"
[ "$(st requeued)" -gt 0 ] || fail "nothing left to requeue: $(grep '^selftest:' "$LOG")"
[ "$(st errors)" -eq 0 ] && [ "$(st discarded)" -eq 0 ] || fail "$(grep '^selftest:' "$LOG")"
exit 0
