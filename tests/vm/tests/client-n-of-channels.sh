#!/bin/bash
# enbd-client -n 2 --channels 3 runs two channel processes, not three: -n is
# how many this process runs, --channels how many the device has in all (a
# third daemon, started on its own with --channels 3, is the last one).
# timeout: 120
. "$ENBD_ROOT/tests/vm/guardian-lib.sh"

load_enbd
on_exit "$ENBD_CLIENT" -q -d /dev/nd0
start_enbd_server
log=$ENBD_TEST_TMP/client.log
"$ENBD_CLIENT" -n 2 --channels 3 -p "$SERVER_PORT" 127.0.0.1 /dev/nd0 </dev/null 2>"$log" &
client=$!
on_exit kill_and_wait "$client"
on_exit cat "$log"
wait_for_disk /dev/nd0
wait_for -t 20 slots_attached 0 2 || die "two channels did not attach: $(nbd_line 0 Sockets:)"
wait_for -t 20 grep -q 'channel 1: pid' "$log" || die "no second channel"
# Both children are serving: a third would have been forked before them.
wait_for -t 20 test "$(grep -c 'serving /dev/nd0' "$log")" -ge 2 || die "two channels not serving"
grep -q 'channel 2: pid' "$log" && die "-n 2 --channels 3 forked a third channel"
[ "$(nbd_total 0 Sockets:)" = 2 ] || die "not two channels: $(nbd_line 0 Sockets:)"

"$ENBD_CLIENT" --channels 3 -p "$SERVER_PORT" 127.0.0.1 /dev/nd0 </dev/null 2>"$log.3" &
third=$!
on_exit kill_and_wait "$third"
wait_for -t 20 slots_attached 0 3 || die "the third channel did not attach: $(nbd_line 0 Sockets:)"
kill_and_wait "$third" || die "the third channel exited $? on SIGTERM"
kill_and_wait "$client" || die "enbd-client -n 2 exited $? on SIGTERM"
grep -q 'all 2 channels ended: exit status 0' "$log" || die "no final line for two channels"
log "-n 2 --channels 3 ran two channels; a third process the third"
