#!/bin/sh
# Every channel socket carries the kernel's own bound on a dead peer
# (issue 15, item 2), from the keepalive option: TCP keep-alive after
# keepalive seconds of silence (Linux's default: 7200 s) and
# TCP_USER_TIMEOUT 2 x keepalive.  ss shows the keep-alive timer of the
# selftest's connection (keepalive 3 s, idle after its workload): it must be
# due within 3 s, not in two hours.
. "$(dirname "$0")/client-lib.sh"
need ss

start_nbdkit memory 16M
LOG=$T/selftest.log
"$SELFTEST" -v -v -K 3 -n 200 -I -p "$NBDKIT_PORT" localhost >"$LOG" 2>&1 &
SELFTEST_PID=$!
BG_PIDS="$SELFTEST_PID $BG_PIDS"	# stopped before nbdkit, which waits for it
wait_until 60 grep -q 'idle until SIGTERM' "$LOG" ||
	fail "the workload did not complete: $(tail -n 5 "$LOG")"
# the client's end: its peer is nbdkit's port
timer() {
	ss -tno state established "dport = :$NBDKIT_PORT" |
		sed -n 's/.*timer:(keepalive,\([^,]*\),.*/\1/p' | head -n 1
}
t=$(timer)
[ -n "$t" ] || fail "no keep-alive timer on the connection: $(ss -tno "dport = :$NBDKIT_PORT")"
case $t in
*ms) ;;
*sec) [ "${t%%.*}" -le 3 ] 2>/dev/null || fail "keep-alive due in $t (expected at most 3 s)" ;;
*) fail "keep-alive due in $t (expected at most 3 s)" ;;
esac
grep -q 'TCP_USER_TIMEOUT 6000 ms' "$LOG" || fail "no TCP_USER_TIMEOUT line: $(grep socket: "$LOG")"
kill -TERM "$SELFTEST_PID"
wait_selftest
expect_pass
exit 0
