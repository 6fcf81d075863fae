#!/bin/sh
# The channel's transmission against nbdkit, with the simulated device:
# 20000 random reads, writes (some FUA), flushes, trims and write-zeroes with
# up to 64 in flight (the largest buffer budget, -B 32 MiB; the default's
# 32 slots are checked too); every read checked against a shadow copy.  Also with
# replies delayed (out of order) and with a server whose maximum payload
# (64 KiB) forces requests to be split, and whose minimum block size (4096)
# sets the device's block size.
. "$(dirname "$0")/client-lib.sh"

start_nbdkit memory 256M
run_selftest -z -n 20000 -B 32 -p "$NBDKIT_PORT" localhost
expect_pass
[ "$(st completed)" -eq 20000 ] || fail "completed $(st completed)"
for k in reads writes flushes trims zeroes; do
	[ "$(st $k)" -gt 0 ] || fail "no $k: $(grep '^selftest:' "$LOG")"
done
[ "$(st requeued)" -eq 0 ] && [ "$(st attaches)" -eq 1 ] || fail "reconnected: $(grep '^selftest:' "$LOG")"
grep -q 'at most 64 in flight' "$LOG" || fail "not 64 requests in flight: $(grep 'in flight' "$LOG")"
run_selftest -n 2000 -p "$NBDKIT_PORT" localhost
expect_pass
grep -q 'at most 32 in flight' "$LOG" ||
	fail "not the default budget's 32 requests in flight: $(grep 'in flight' "$LOG")"

start_nbdkit --filter=delay memory 64M delay-read=2ms delay-write=4ms
run_selftest -z -n 3000 -p "$NBDKIT_PORT" localhost
expect_pass

start_nbdkit --filter=blocksize-policy memory 64M blocksize-minimum=4096 \
	blocksize-preferred=65536 blocksize-maximum=65536 blocksize-error-policy=error
run_selftest -z -n 5000 -p "$NBDKIT_PORT" localhost
expect_pass
grep -q 'server takes at most 65536 bytes per request: larger requests are split' "$LOG" ||
	fail "no splitting"
grep -q 'bytes, block size 4096' "$LOG" || fail "block size not 4096: $(grep serving "$LOG")"
exit 0
