#!/bin/sh
# timeout: 120
# Request buffers of all connections together stay within the memory budget
# (--memory-budget, default 256 MiB): 12 clients that each start a 32 MiB
# WRITE and send 30 MiB of it, then 12 clients that each ask for four
# 32 MiB READs and never read the replies, leave the server's peak RSS
# (VmHWM) under the budget plus 48 MiB; before the budget it reached 360
# and 770 MiB.  Requests over the budget wait; once the hostile clients are
# gone a new client is served.
. "$(dirname "$0")/server-lib.sh"
# Freed buffers must not linger in ASan's quarantine and count as resident.
export ASAN_OPTIONS="$ASAN_OPTIONS:quarantine_size_mb=4"
start_server --memory 2G
py "$PORT" "$SERVER_PID" <<'PY' || fail "hostile clients"
import socket, struct, sys, threading, time
from server_raw import *
port, pid = int(sys.argv[1]), int(sys.argv[2])
M = 1 << 20
LIMIT_KIB = (256 + 48) * 1024

def hwm_kib():
    for line in open("/proc/%d/status" % pid):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])

sent = [0]
lock = threading.Lock()

def push(raw, data):
    try:
        view = memoryview(data)
        while view:
            n = raw.s.send(view[:M])
            with lock:
                sent[0] += n
            view = view[n:]
    except OSError:
        pass            # closed below while still stuck

def until_still(seconds=1.0, limit=30):
    """Wait until the clients' sending has stopped for @seconds."""
    end = time.time() + limit
    last, since = -1, time.time()
    while time.time() < end:
        with lock:
            now = sent[0]
        if now != last:
            last, since = now, time.time()
        elif time.time() - since >= seconds:
            return
        time.sleep(0.1)

def attack(name, message):
    clients = [Raw(port, timeout=None).connect() for _ in range(12)]
    threads = [threading.Thread(target=push, args=(c, message), daemon=True) for c in clients]
    for t in threads:
        t.start()
    until_still()
    peak = hwm_kib()
    print("%s: VmHWM %d MiB" % (name, peak // 1024))
    for c in clients:
        c.s.shutdown(socket.SHUT_RDWR)
        c.close()
    for t in threads:
        t.join()
    assert peak < LIMIT_KIB, "%s: the server reached %d MiB" % (name, peak // 1024)

def header(cmd, offset, length, cookie=1):
    return struct.pack(">IHHQQI", REQUEST_MAGIC, 0, cmd, cookie, offset, length)

attack("slow writes", header(CMD_WRITE, 0, 32 * M) + b"\x77" * (30 * M))
attack("unread reads", b"".join(header(CMD_READ, i * 32 * M, 32 * M, i) for i in range(4)))

r = Raw(port).connect()
r.request(CMD_WRITE, offset=4096, length=5, payload=b"after")
assert r.result()[1] == 0
r.request(CMD_READ, offset=4096, length=5, cookie=2)
assert r.result() == (2, 0, b"after")
PY
stop_server
