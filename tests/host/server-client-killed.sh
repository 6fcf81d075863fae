#!/bin/sh
# timeout: 60
# Clients killed mid-handshake, mid-write payload and with reads in flight
# leave the server serving others: a busy client running all along sees
# correct data, new clients connect, and shutdown is clean (no leak).
. "$(dirname "$0")/server-lib.sh"
need_python_nbd
truncate -s 16M "$T/disk.img"
start_server "$T/disk.img"
# a well-behaved client busy while the others die
py "$URI" "$T/busy.done" <<'PY' &
import nbd, os, sys
h = nbd.NBD()
h.connect_uri(sys.argv[1])
for i in range(3000):
    data = bytes([i & 255]) * 4096
    h.pwrite(data, (i % 64) * 4096)
    assert h.pread(4096, (i % 64) * 4096) == data
    if os.path.exists(sys.argv[2]):
        break
h.shutdown()
PY
BUSY=$!
for how in handshake write reads; do
	for i in 1 2 3 4 5; do
		# (the shell reports each kill: keep that out of the test output)
		(py "$PORT" "$how" 2>/dev/null) 2>/dev/null <<'PY' && fail "client was not killed ($how)"
import os, signal, sys
from server_raw import *
port, how = int(sys.argv[1]), sys.argv[2]
r = Raw(port)
if how == "handshake":
    r.greet()
    r.opt(OPT_GO, Raw.go_data()[:5], length=20)          # half an option
else:
    r.connect()
    if how == "write":
        r.request(CMD_WRITE, 0, 1 << 20, payload=b"w" * (300 << 10))
    else:
        for c in range(200):
            r.request(CMD_READ, c * 65536 % (16 << 20), 65536, cookie=c)
os.kill(os.getpid(), signal.SIGKILL)
PY
	done
done
touch "$T/busy.done"
wait $BUSY || fail "the busy client failed"
server_alive
nbdsh_run "$URI" <<'PY' || fail "a new client is not served"
h.pwrite(b"alive", 0)
assert h.pread(5, 0) == b"alive"
PY
i=0
while [ "$(grep -c ': disconnected' "$SERVER_LOG")" -lt 17 ]; do
	i=$((i + 1)); [ $i -lt 500 ] || fail "dead clients not cleaned up"; sleep 0.01
done
stop_server
