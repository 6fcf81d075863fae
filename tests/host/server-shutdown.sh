#!/bin/sh
# timeout: 60
# SIGTERM with clients connected (idle, mid-handshake, and with requests in
# flight) shuts the server down promptly and cleanly: every in-flight
# request is answered, exit status 0, nothing leaked.
. "$(dirname "$0")/server-lib.sh"
truncate -s 64M "$T/disk.img"
start_server "$T/disk.img"
py "$PORT" "$SERVER_PID" <<'PY' || fail "shutdown with clients connected"
import os, signal, struct, sys, time
from server_raw import *
port, pid = int(sys.argv[1]), int(sys.argv[2])
idle = Raw(port).connect()
half = Raw(port)
half.greet()                                   # stuck in the handshake
busy = Raw(port).connect(structured=False)
for c in range(64):                            # 64 MiB of reads in flight
    busy.request(CMD_READ, c << 20, 1 << 20, cookie=c)
time.sleep(0.05)
os.kill(pid, signal.SIGTERM)
answered = 0
try:
    while True:
        magic, err, cookie = struct.unpack(">IIQ", busy.recv(16))
        assert magic == SIMPLE_MAGIC and err == 0, (magic, err)
        busy.recv(1 << 20)
        answered += 1
except (Closed, ConnectionResetError):
    pass
# a request in flight is either answered whole or was never read
assert answered > 0, "no request answered"
assert idle.closed_by_server() and half.closed_by_server()
PY
t0=$(date +%s)
stop_status=0
wait "$SERVER_PID" || stop_status=$?
[ $stop_status -eq 0 ] || fail "exit status $stop_status"
[ $(($(date +%s) - t0)) -lt 5 ] || fail "shutdown took too long"
check_log "$SERVER_LOG"
grep -q "shutting down" "$SERVER_LOG" || fail "no shutdown log line"
