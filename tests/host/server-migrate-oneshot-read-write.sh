#!/bin/sh
# timeout: 60
# "enbd-server write" puts stdin at --from of any NBD server's export, and
# "enbd-server read" copies a range to stdout: against nbdkit, unaligned
# and larger than one request, and against enbd-server (checked in its
# file); ranges past the end and short input are errors.
. "$(dirname "$0")/server-lib.sh"
need nbdkit
need cmp

# nbdkit on a free port
for i in 1 2 3 4 5; do
	NPORT=$($PYTHON -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	nbdkit -f -p "$NPORT" -P "$T/nbdkit.pid" memory 8M </dev/null >"$T/nbdkit.log" 2>&1 &
	BG_PIDS="$BG_PIDS $!"
	wait_until 30 test -s "$T/nbdkit.pid" -o ! -d "/proc/$!" || true
	[ -s "$T/nbdkit.pid" ] && break
done
[ -s "$T/nbdkit.pid" ] || fail "nbdkit did not start: $(cat "$T/nbdkit.log")"

head -c 3145733 /dev/urandom >"$T/data"		# 3 MiB + 5
"$SERVER" write --addr 127.0.0.1 --port "$NPORT" --from 1048581 --size 3145733 <"$T/data" ||
	fail "write to nbdkit failed"
"$SERVER" read --addr 127.0.0.1 --port "$NPORT" --from 1048581 --size 3145733 >"$T/back" ||
	fail "read from nbdkit failed"
cmp "$T/data" "$T/back" || fail "read back other data from nbdkit"
"$SERVER" read --addr 127.0.0.1 --port "$NPORT" --from 1048580 --size 1 | od -An -tx1 >"$T/byte"
[ "$(tr -d ' \n' <"$T/byte")" = 00 ] || fail "the byte before the range changed: $(cat "$T/byte")"

if "$SERVER" read --addr 127.0.0.1 --port "$NPORT" --from 8M --size 1 >/dev/null 2>"$T/err"; then
	fail "a read past the end succeeded"
fi
grep -q "the export has 8388608 bytes" "$T/err" || fail "past the end: $(cat "$T/err")"
if head -c 100 "$T/data" | "$SERVER" write --addr 127.0.0.1 --port "$NPORT" --from 0 \
	--size 200 2>"$T/err"; then
	fail "a write with too little input succeeded"
fi
grep -q "fewer bytes than --size" "$T/err" || fail "short input: $(cat "$T/err")"

truncate -s 4M "$T/disk.img"
start_server "$T/disk.img"
"$SERVER" write --addr localhost --port "$PORT" --from 4096 --size 1M <"$T/data" ||
	fail "write to enbd-server failed"
head -c 1M "$T/data" >"$T/first"
dd if="$T/disk.img" bs=4096 skip=1 count=256 status=none | cmp - "$T/first" ||
	fail "enbd-server's file does not hold what was written"
stop_server
