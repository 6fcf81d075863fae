#!/bin/sh
# timeout: 120
# "mirror" copies a sparse file to a --listen destination while a client
# keeps writing at random (a few hundred 4 KiB writes a second): the destination ends byte-identical to the
# source and as sparse (holes the destination had data in are punched);
# the client's writes after the switch fail with ESHUTDOWN, the source
# exits 0 and the destination serves the data.
. "$(dirname "$0")/server-lib.sh"
need_python_nbd
need cmp
SOCK=$T/ctl.sock
truncate -s 64M "$T/src.img" "$T/dst.img"
head -c 8M /dev/urandom | dd of="$T/src.img" bs=1M seek=0 conv=notrunc status=none
head -c 8M /dev/urandom | dd of="$T/src.img" bs=1M seek=40 conv=notrunc status=none
# stale data in the destination where the source has a hole
head -c 4M /dev/urandom | dd of="$T/dst.img" bs=1M seek=20 conv=notrunc status=none
start_destination "$T/dst.img"
start_server --sock "$SOCK" "$T/src.img"
SRC_PID=$SERVER_PID SRC_LOG=$SERVER_LOG

py "$URI" "$T/writer" <<'PY' &
import errno, nbd, os, random, sys, time
h = nbd.NBD()
h.connect_uri(sys.argv[1])
n, worst, last = 0, 0.0, time.monotonic()
try:
    while True:
        # within the data (0-8M, 40-48M) and a hole after it (8M-16M)
        off = random.choice((0, 40 << 20)) + random.randrange(0, 16 << 20, 4096)
        h.pwrite(os.urandom(4096), off)
        time.sleep(0.001)
        now = time.monotonic()
        worst, last, n = max(worst, now - last), now, n + 1
        if n == 100:
            open(sys.argv[2] + ".ready", "w").close()
except nbd.Error as e:
    with open(sys.argv[2] + ".done", "w") as f:
        f.write("%d %s %.0f\n" % (n, e.errno, worst * 1000))
PY
wait_until 20 test -e "$T/writer.ready" || fail "the writer did not start"
control mirror 127.0.0.1 "$DEST_PORT" --rate 16M >"$T/out" || fail "mirror: $(cat "$T/out")"
[ "$(status_field is_mirroring)" = true ] || fail "not mirroring: $(control status)"
wait_until 20 mirror_copied_over 0 ||
	fail "no progress: $(control status)"
rc=0
wait "$SRC_PID" || rc=$?
[ $rc = 0 ] || fail "the source exited with status $rc"
grep "mirror: complete" "$SRC_LOG"
wait_until 20 test -e "$T/writer.done" || fail "the writer was not stopped"
read -r writes err stall_ms <"$T/writer.done"
echo "writer: $writes writes, then $err; longest gap between writes $stall_ms ms"
[ "$writes" -gt 100 ] || fail "only $writes writes"
[ "$err" = ESHUTDOWN ] || fail "the writer failed with $err, not ESHUTDOWN"
grep -q "inbound migration complete: serving" "$DEST_LOG" || fail "the destination did not complete"

cmp "$T/src.img" "$T/dst.img" || fail "the destination differs from the source"
src=$(allocated "$T/src.img") dst=$(allocated "$T/dst.img")
echo "allocated: source $src, destination $dst bytes"
[ "$dst" -le $((src + 1048576)) ] || fail "the destination is less sparse ($dst > $src bytes)"
[ "$dst" -lt $((48 << 20)) ] || fail "the destination is not sparse ($dst bytes)"
py "nbd://localhost:$DEST_PORT" "$T/src.img" <<'PY' || fail "the destination serves other data"
import nbd, sys
h = nbd.NBD()
h.connect_uri(sys.argv[1])
with open(sys.argv[2], "rb") as f:
    f.seek(40 << 20)
    assert h.pread(1 << 20, 40 << 20) == f.read(1 << 20)
h.shutdown()
PY
stop_server "$DEST_PID"
