#!/bin/sh
# enbd-client --probe reports what nbdkit advertises: size, transmission
# flags, block size constraints (blocksize-policy filter), and the handshake
# used; with fixed newstyle masked off it falls back to NBD_OPT_EXPORT_NAME.
. "$(dirname "$0")/client-lib.sh"

start_nbdkit memory 1G
run_probe -p "$NBDKIT_PORT" localhost
[ $RC -eq 0 ] || fail "probe failed: $(cat "$ERR")"
grep -qx 'size: 1073741824' "$OUT" || fail "wrong size: $(cat "$OUT")"
grep -q '^flags: 0x[0-9a-f]* .*flush fua trim write-zeroes' "$OUT" || fail "flags: $(cat "$OUT")"
grep -qx 'block-size: none' "$OUT" || fail "block size: $(cat "$OUT")"
grep -qx 'handshake: fixed-newstyle no-zeroes go' "$OUT" || fail "handshake: $(cat "$OUT")"
grep -q 'sent NBD_CMD_DISC' "$ERR" && fail "DISC logged without -v"

# From a given local address (-b).
run_probe -b 127.0.0.1 -p "$NBDKIT_PORT" 127.0.0.1
[ $RC -eq 0 ] || fail "probe -b 127.0.0.1 failed: $(cat "$ERR")"

# A named export, and -v shows the soft disconnect.
run_probe -v -e some-name -p "$NBDKIT_PORT" localhost
[ $RC -eq 0 ] || fail "probe -e failed: $(cat "$ERR")"
grep -qx "export: 'some-name'" "$OUT" || fail "export name: $(cat "$OUT")"
grep -q 'sent NBD_CMD_DISC' "$ERR" || fail "no NBD_CMD_DISC: $(cat "$ERR")"

start_nbdkit --filter=blocksize-policy memory 64M blocksize-minimum=4096 \
	blocksize-preferred=65536 blocksize-maximum=131072
run_probe -p "$NBDKIT_PORT" localhost
[ $RC -eq 0 ] || fail "probe failed: $(cat "$ERR")"
grep -qx 'block-size: 4096 65536 131072' "$OUT" || fail "block size: $(cat "$OUT")"
grep -qx 'size: 67108864' "$OUT" || fail "size: $(cat "$OUT")"

start_nbdkit --mask-handshake=0 memory 8M
run_probe -p "$NBDKIT_PORT" localhost
[ $RC -eq 0 ] || fail "probe (no fixed newstyle) failed: $(cat "$ERR")"
grep -qx 'handshake: newstyle export-name' "$OUT" || fail "handshake: $(cat "$OUT")"
grep -qx 'size: 8388608' "$OUT" || fail "size (124 zero bytes mishandled?): $(cat "$OUT")"

start_nbdkit -r memory 8M
run_probe -p "$NBDKIT_PORT" localhost
grep -q '^flags: .*read-only' "$OUT" || fail "read-only flag: $(cat "$OUT")"
exit 0
