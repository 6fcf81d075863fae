#!/bin/sh
# timeout: 60
# NBD_CMD_TRIM on a block device export reaches the device as a discard
# (BLKDISCARD): the loop device counts discard requests, and its sparse
# backing file shrinks; the unaligned edges of a trim are left alone.
. "$(dirname "$0")/server-lib.sh"
truncate -s 16M "$T/backing.img"
loop_attach "$T/backing.img"
start_server "$LOOP"
before=$(loop_discards)
py "$PORT" <<'PY' || fail "trim"
import sys
from server_raw import *
r = Raw(int(sys.argv[1])).connect()
M = 1 << 20
r.request(CMD_WRITE, offset=0, length=4 * M, payload=b"\x5a" * (4 * M))
assert r.result()[1] == 0
r.request(CMD_FLUSH, cookie=2)
assert r.result()[1] == 0
assert r.flags & (1 << 5), "no SEND_TRIM"
r.request(CMD_TRIM, offset=M - 100, length=2 * M + 200, cookie=3)
assert r.result() == (3, 0, b"")
r.request(CMD_READ, offset=M - 100, length=100, cookie=4)
assert r.result() == (4, 0, b"\x5a" * 100), "the unaligned head was trimmed"
r.request(CMD_READ, offset=3 * M, length=100, cookie=5)
assert r.result() == (5, 0, b"\x5a" * 100), "the unaligned tail was trimmed"
PY
after=$(loop_discards)
used=$(du -k "$T/backing.img" | cut -f1)
echo "discards on $LOOP_NAME: $before -> $after; backing file uses $used KiB"
[ "$after" -gt "$before" ] || fail "no discard reached $LOOP_NAME"
[ "$used" -le 3072 ] || fail "the backing file still uses $used KiB after trimming 2 of 4 MiB"
stop_server
