#!/bin/sh
# timeout: 90
# When accept() fails with EMFILE the pending connection stays in the
# backlog and poll() reports it again at once: the server must pause
# instead of spinning, log the run of failures once, and serve the waiting
# clients once descriptors are free again.  Serving the waiting clients
# can hit the limit again (the third waits for the first to finish): that
# is a new run, so only the run measured is counted.
. "$(dirname "$0")/server-lib.sh"
need prlimit
start_server --memory 1M
# room for two more descriptors: the third connection hits EMFILE
nfd=$(ls /proc/$SERVER_PID/fd | wc -l)
prlimit --pid "$SERVER_PID" --nofile=$((nfd + 2)):$((nfd + 2)) || skip "prlimit failed"

cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat"
}
emfile_logged() {
	grep -q "accept: Too many open files" "$SERVER_LOG"
}
mkfifo "$T/go"
py "$PORT" "$T/go" >"$T/client.log" 2>&1 <<'PY' &
import sys
from server_raw import *
port = int(sys.argv[1])
held = [Raw(port).connect() for _ in range(2)]
waiting = [Raw(port) for _ in range(3)]     # queued in the backlog: EMFILE
open(sys.argv[2]).read()                     # until the test has measured
for r in held:
    r.request(CMD_DISC)
    r.close()
for r in waiting:                            # then served, in turn
    r.connect()
    r.request(CMD_READ, 0, 512, cookie=4)
    assert r.result() == (4, 0, bytes(512))
    r.request(CMD_DISC)
    r.close()
print("waiting clients served")
PY
client=$!
wait_until 20 emfile_logged || fail "accept never hit EMFILE"
before=$(cpu_ticks)
sleep 2		# the measurement window: a spinning server burns all of it
after=$(cpu_ticks)
runs_logged=$(grep -c "accept: Too many open files" "$SERVER_LOG")
ticks=$((after - before))
hz=$(getconf CLK_TCK)
echo "server CPU while at the descriptor limit: $ticks ticks of 1/$hz s in 2 s"
echo go >"$T/go"
wait "$client" || fail "the waiting clients were not served: $(cat "$T/client.log")"
[ "$ticks" -le $((hz / 5)) ] || fail "the server spun: $ticks/$hz s of CPU in 2 s"
[ "$runs_logged" -eq 1 ] ||
	fail "a run of failed accepts logged more than once"
grep -q "accepting again after [0-9]* failed accepts" "$SERVER_LOG" || fail "no end of the run logged"
stop_server
