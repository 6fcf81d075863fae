#!/bin/sh
# An idle channel probes its server once per keepalive interval and reports
# every answered probe (ENBD_EVENT_KEEPALIVE): with keepalive 1 s, three
# probes come about a second apart (the first to the third at least 1.5 s
# apart: not faster than the interval) and are all counted; the probes are
# harmless reads (one connection throughout, nothing fails).  A busy channel
# hears from its server all the time and sends none; keepalive 0 sends none.
. "$(dirname "$0")/client-lib.sh"

start_nbdkit memory 64M
bg_selftest -v -z -n 200 -I -K 1 -p "$NBDKIT_PORT" localhost
wait_until 30 grep -q 'idle until SIGTERM' "$LOG" || fail "the workload did not finish"
answered() { [ "$(grep -c 'keep-alive answered' "$LOG")" -ge "$1" ]; }
wait_until 10 answered 3 || fail "not 3 probes answered in 10 s: $(grep -c 'keep-alive answered' "$LOG")"
kill -TERM "$SELFTEST_PID"
wait_selftest
expect_pass
n=$(grep -c 'keep-alive answered.*counted' "$LOG")
[ "$(st keepalives)" -eq "$n" ] || fail "$n probes answered, $(st keepalives) reported"
grep -q "$n keep-alives answered" "$LOG" || fail "not in the channel's statistics"
[ "$(st attaches)" -eq 1 ] || fail "reconnected: $(grep '^selftest:' "$LOG")"
first=$(grep 'keep-alive answered' "$LOG" | sed -n '1s/ .*//p')
third=$(grep 'keep-alive answered' "$LOG" | sed -n '3s/ .*//p')
dt=$(awk "BEGIN { printf \"%.2f\", $(date -u -d "$third" +%s.%3N) - $(date -u -d "$first" +%s.%3N) }")
echo "first to third probe: $dt s"
awk "BEGIN { exit !($dt >= 1.5) }" || fail "probes $dt s apart: faster than the keepalive interval"

# Busy: replies all the time, so never quiet for 1 s.  (The disk is no
# longer zeroed: check only what this run wrote.)
bg_selftest -n 0 -K 1 -p "$NBDKIT_PORT" localhost
sleep 3
kill -TERM "$SELFTEST_PID"
wait_selftest
expect_pass
[ "$(st completed)" -gt 1000 ] || fail "not busy: $(st completed) requests"
[ "$(st keepalives)" -eq 0 ] || fail "$(st keepalives) probes on a busy channel"

# Off.
bg_selftest -n 20 -I -K 0 -p "$NBDKIT_PORT" localhost
wait_until 30 grep -q 'idle until SIGTERM' "$LOG" || fail "the workload did not finish"
sleep 2.5
kill -TERM "$SELFTEST_PID"
wait_selftest
expect_pass
[ "$(st keepalives)" -eq 0 ] || fail "$(st keepalives) probes with keepalive 0"
exit 0
