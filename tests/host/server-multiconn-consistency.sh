#!/bin/sh
# timeout: 60
# Several connections write at once; after each writer's flush every other
# connection sees all of the data (CAN_MULTI_CONN holds).
. "$(dirname "$0")/server-lib.sh"
truncate -s 32M "$T/disk.img"
start_server "$T/disk.img"
py "$URI" <<'PY' || fail "connections disagree"
import nbd, sys, threading
uri = sys.argv[1]
N, CHUNK, ROUNDS = 6, 64 * 1024, 40
handles = []
for i in range(N):
    h = nbd.NBD()
    h.connect_uri(uri)
    assert h.can_multi_conn()
    handles.append(h)
errors = []
def writer(i):
    try:
        h = handles[i]
        for r in range(ROUNDS):
            data = bytes([(i * 31 + r) & 255]) * CHUNK
            h.pwrite(data, (r * N + i) * CHUNK)
        h.flush()
    except Exception as e:
        errors.append(e)
threads = [threading.Thread(target=writer, args=(i,)) for i in range(N)]
for t in threads: t.start()
for t in threads: t.join()
assert not errors, errors
for reader in handles:
    for i in range(N):
        for r in range(ROUNDS):
            got = reader.pread(CHUNK, (r * N + i) * CHUNK)
            assert got == bytes([(i * 31 + r) & 255]) * CHUNK, (i, r)
for h in handles:
    h.shutdown()
PY
stop_server
