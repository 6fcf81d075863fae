#!/bin/sh
# timeout: 60
# FLUSH reaches the disk (fdatasync) and a FUA write is written through
# (RWF_DSYNC or fdatasync) before its reply, while a plain write is not.
. "$(dirname "$0")/server-lib.sh"
need strace
truncate -s 4M "$T/disk.img"
start_server "$T/disk.img"
strace -f -qq -e trace=fdatasync,fsync,pwritev2,pwrite64 -o "$T/strace.log" -p "$SERVER_PID" &
STRACE=$!
i=0
until grep -q "TracerPid:[[:space:]]*[1-9]" /proc/$SERVER_PID/status; do
	i=$((i + 1)); [ $i -lt 500 ] || fail "strace did not attach"; sleep 0.01
done
nbdsh_run "$URI" <<'PY' || fail "nbdsh failed"
import nbd
h.pwrite(b"a" * 4096, 0)
h.pwrite(b"b" * 4096, 4096, nbd.CMD_FLAG_FUA)
h.flush()
assert h.pread(8192, 0) == b"a" * 4096 + b"b" * 4096
PY
kill -INT $STRACE; wait $STRACE 2>/dev/null || true
grep -E "pwritev2|pwrite64|fdatasync|fsync" "$T/strace.log" >"$T/calls" || true
# plain write: a pwritev2 without RWF_DSYNC and no sync right after it
sed -n 1p "$T/calls" | grep -q "pwritev2(.*, 0)" || fail "plain write: $(cat "$T/calls")"
sed -n 2p "$T/calls" | grep -Eq "RWF_DSYNC|fdatasync" || fail "FUA write not synced: $(cat "$T/calls")"
tail -n 1 "$T/calls" | grep -q "fdatasync" || fail "flush did not fdatasync: $(cat "$T/calls")"
[ "$(head -c 8192 "$T/disk.img" | tr -d a | tr -d b | wc -c)" = 0 ] || fail "data not in the file"
stop_server
