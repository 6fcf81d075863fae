#!/bin/sh
# timeout: 60
# A small WRITE, one at a time, costs the server's threads no more sleeps
# than a small READ: the thread that read it carries it out and reads on,
# as for a read, instead of handing the reading of the next request to
# another thread (a wake-up and a sleep more per write, which made QD1
# writes through /dev/nd0 slower than reads).  Voluntary context switches
# of all the server's threads per request, 2000 of each at queue depth 1.
. "$(dirname "$0")/server-lib.sh"
start_server --memory 16M
py "$PORT" "$SERVER_PID" <<'PY' || fail "QD1 writes cost the server more sleeps than reads"
import os, sys
from server_raw import *
port, pid = int(sys.argv[1]), sys.argv[2]
N = 2000

def sleeps():
    total = 0
    for tid in os.listdir("/proc/%s/task" % pid):
        with open("/proc/%s/task/%s/status" % (pid, tid)) as f:
            for line in f:
                if line.startswith("voluntary_ctxt_switches:"):
                    total += int(line.split()[1])
    return total

r = Raw(port).connect(structured=False)
block = b"\x5a" * 4096
r.request(CMD_WRITE, 0, 4096, payload=block)	# the connection's threads start
assert r.result()[1] == 0
per = {}
for name, cmd in (("read", CMD_READ), ("write", CMD_WRITE)):
    before = sleeps()
    for i in range(N):
        off = (i * 7919 % 4096) * 4096
        if cmd == CMD_WRITE:
            r.request(cmd, off, 4096, cookie=i, payload=block)
            cookie, err, _ = r.result()
        else:
            r.request(cmd, off, 4096, cookie=i)
            cookie, err, _ = r.result(4096)
        assert err == 0 and cookie == i, (name, cookie, err)
    per[name] = (sleeps() - before) / N
print("server sleeps per request at QD1: read %.2f, write %.2f" % (per["read"], per["write"]))
sys.exit(0 if per["write"] <= per["read"] + 0.5 else 1)
PY
stop_server
