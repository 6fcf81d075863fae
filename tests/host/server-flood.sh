#!/bin/sh
# timeout: 60
# A client that floods requests and never reads the replies, then vanishes,
# neither hangs nor bloats the server, and other clients are served meanwhile.
. "$(dirname "$0")/server-lib.sh"
start_server --memory 64M
py "$PORT" "$URI" <<'PY' || fail "flood"
import nbd, socket, struct, sys, time
from server_raw import *
port, uri = int(sys.argv[1]), sys.argv[2]
floods = []
for k in range(3):
    r = Raw(port).connect()
    r.s.setblocking(False)
    sent = 0
    # 1 MiB reads: the server must stop reading when replies back up
    req = b"".join(struct.pack(">IHHQQI", REQUEST_MAGIC, 0, CMD_READ, c, 0, 1 << 20)
                   for c in range(100))
    deadline = time.time() + 1
    while time.time() < deadline:
        try:
            sent += r.s.send(req)
        except BlockingIOError:
            time.sleep(0.05)
    floods.append(r)
# others are still served while the floods are stuck
h = nbd.NBD()
h.connect_uri(uri)
t = time.time()
for i in range(200):
    h.pwrite(b"q" * 4096, i * 4096)
    assert h.pread(4096, i * 4096) == b"q" * 4096
assert time.time() - t < 5, "other clients starved"
for r in floods:
    r.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    r.close()   # reset, with replies unread
h.shutdown()
PY
server_alive
rss=$(awk '/VmRSS/ {print $2}' /proc/$SERVER_PID/status)
[ "$rss" -lt 1500000 ] || fail "server RSS ${rss} kB after the flood"
i=0
while [ "$(grep -c ': disconnected' "$SERVER_LOG")" -lt 4 ]; do
	i=$((i + 1)); [ $i -lt 1000 ] || fail "flooding clients not cleaned up"; sleep 0.01
done
stop_server
