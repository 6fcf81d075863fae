#!/bin/sh
# After a reconnect the export must still be the one the device was set up
# from: a different size ends the channel (exit 1) with a clear message
# instead of serving the device from the wrong disk.  And a server without
# NBD_OPT_GO (NBD_REP_ERR_UNSUP) is served through NBD_OPT_EXPORT_NAME.
. "$(dirname "$0")/client-lib.sh"

start_fake 67108864 resize 4096
bg_selftest -z -n 0 -p "$FAKE_PORT" localhost
sleep 1
kill -HUP "$SELFTEST_PID"
wait_selftest
[ $RC -eq 1 ] || fail "exit $RC, expected 1"
grep -q 'error: export size changed from 67108864 to 67112960 bytes: refusing to serve' "$LOG" ||
	fail "no size-change message: $(grep -E 'warn|error' "$LOG")"
[ "$(st mismatches)" -eq 0 ] && [ "$(st discarded)" -eq 0 ] || fail "$(grep '^selftest:' "$LOG")"
kill "$FAKE_PID"

start_fake 67108864 nogo
run_probe -p "$FAKE_PORT" localhost
[ $RC -eq 0 ] || fail "probe: $(cat "$ERR")"
grep -qx 'handshake: fixed-newstyle no-zeroes export-name' "$OUT" || fail "$(cat "$OUT")"
grep -qx 'size: 67108864' "$OUT" || fail "$(cat "$OUT")"
run_selftest -z -n 2000 -p "$FAKE_PORT" localhost
expect_pass
exit 0
