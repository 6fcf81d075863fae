#!/bin/bash
# A small READ that has to wait for storage does not hold up the requests
# behind it on the same connection.  enbd-server serves a dm-delay device
# (reads take 3 s) over a RAM disk; on one connection a 4 KiB read of an
# uncached block is sent, then eight 4 KiB reads of a block already in the
# page cache.  The eight must be answered before the slow one: the thread
# that read the slow request lets go of the connection's input before it
# waits, and another thread reads on (transmission.c, INLINE_READ_MAX).
# timeout: 120
. "$ENBD_ROOT/tests/vm/lib.sh"
require_cmd dmsetup python3

modprobe brd rd_nr=1 rd_size=65536 || skip "no brd module"
on_exit modprobe -r brd
modprobe dm-delay || skip "no dm-delay module"
wait_for -t 10 test -b /dev/ram0 || die "no /dev/ram0 after modprobe brd"
# Something to read back: each 4 KiB block holds its own number.
python3 - <<'PY' || die "cannot fill /dev/ram0"
with open("/dev/ram0", "wb") as f:
    for i in range(16384):
        f.write(i.to_bytes(4, "big") * 1024)
PY
sectors=$(blockdev --getsz /dev/ram0)
dmsetup create enbd-slow --table "0 $sectors delay /dev/ram0 0 3000" ||
	die "dmsetup create failed"
on_exit dmsetup remove --retry enbd-slow
dmsetup mknodes enbd-slow	# no udev in the guest

start_enbd_server 0 -a 127.0.0.1 -r /dev/mapper/enbd-slow
on_exit tail -n 20 "$SERVER_LOG"

python3 - "$SERVER_PORT" "$ENBD_ROOT/tests/host" <<'PY' || die "the cached reads waited for the slow one"
import sys, time
sys.path.insert(0, sys.argv[2])
from server_raw import CMD_READ, Raw

def block(n):
    return n.to_bytes(4, "big") * 1024

r = Raw(int(sys.argv[1]), timeout=60).connect(structured=False)
r.request(CMD_READ, 0, 4096, cookie=1)          # block 0 into the page cache
assert r.result(4096) == (1, 0, block(0))
slow = 8192                                     # far beyond block 0's readahead
t0 = time.monotonic()
r.request(CMD_READ, slow * 4096, 4096, cookie=2)
for i in range(8):
    r.request(CMD_READ, 0, 4096, cookie=10 + i)
order = []
for _ in range(9):
    cookie, err, data = r.result(4096)
    assert err == 0, (cookie, err)
    assert data == block(slow if cookie == 2 else 0), cookie
    order.append((cookie, round(time.monotonic() - t0, 2)))
print("replies (cookie, seconds after the slow read was sent):", order)
if order[-1][0] != 2:
    raise SystemExit("the slow read was answered before the cached ones")
if order[-1][1] < 2.5:
    raise SystemExit("the slow read did not wait for dm-delay: the test proves nothing")
PY
