#!/bin/bash
# enbd-guardian -c FILE with two devices: each gets its channels and its
# own token file, and the per-device --aging/--outage settings reach the
# kernel.  With the server gone, /dev/nd0 (--outage fail:1500) fails its
# I/O after 1.5 s while /dev/nd1 (default: wait) keeps it waiting; SIGUSR2
# then shuts both down.
# timeout: 150
. "$ENBD_ROOT/tests/vm/guardian-lib.sh"

load_enbd
start_enbd_server
conf=$ENBD_TEST_TMP/enbd.conf
cat >"$conf" <<CONF
# mirror member: fail over
client m0 /dev/nd0 127.0.0.1 $SERVER_PORT -n 2 --aging 7 --outage fail:1500
client scratch /dev/nd1 127.0.0.1 $SERVER_PORT    # waits through outages
CONF
start_guardian -c "$conf"
wait_for_disk /dev/nd0
wait_for_disk /dev/nd1
wait_for -t 20 slots_attached 0 2 || die "nd0: the two channels did not attach"
wait_for -t 20 slots_attached 1 1 || die "nd1: the channel did not attach"
[ -s /run/enbd/nd0.token ] && [ -s /run/enbd/nd1.token ] || die "token files: $(ls -l /run/enbd)"
[ "$(cat /run/enbd/nd0.token)" != "$(cat /run/enbd/nd1.token)" ] || die "both devices have the same token"
nbd_line 0 Policy: | grep -q 'aging 7000ms, .*outage fail after 1500ms' || die "nd0: $(nbd_line 0 Policy:)"
nbd_line 1 Policy: | grep -q 'outage wait' || die "nd1: $(nbd_line 1 Policy:)"
guardian_logged '/dev/nd0: aging 7000 ms, outage: fail after 1500 ms' || die "the settings were not logged"

kill_and_wait "$SERVER_PID" KILL || true
no_channel() { [ "$(nbd_total "$1" Sockets:)" = 0 ]; }
wait_for -t 20 no_channel 0 && wait_for -t 20 no_channel 1 || die "the channels did not notice the dead server"
t0=${EPOCHREALTIME/[.,]/}
dd if=/dev/nd0 of=/dev/null bs=4k count=1 skip=77 iflag=direct status=none 2>/dev/null &
r0=$!
dd if=/dev/nd1 of=/dev/null bs=4k count=1 skip=77 iflag=direct status=none 2>/dev/null &
r1=$!
on_exit kill_and_wait "$r0" KILL 3
on_exit kill_and_wait "$r1" KILL 3
wait_for -t 10 proc_gone "$r0" || die "nd0: the read did not fail"
rc=0; wait "$r0" || rc=$?
[ "$rc" -ne 0 ] || die "nd0: the read succeeded without a server"
log "nd0: the read failed after $(((${EPOCHREALTIME/[.,]/} - t0) / 1000)) ms"
proc_gone "$r1" && die "nd1: the read did not wait"

kill -USR2 "$GUARDIAN_PID"
wait_for -t 5 proc_gone "$r1" || die "nd1: the read did not fail after SIGUSR2"
wait_for -t 30 proc_gone "$GUARDIAN_PID" || die "the guardian did not exit"
rc=0; wait "$GUARDIAN_PID" || rc=$?
[ "$rc" = 0 ] || die "the guardian exited with status $rc"
[ "$(grep -c ' shut down: its queued' "$GUARDIAN_LOG")" = 2 ] || die "not both devices shut down"
[ -e /run/enbd/nd0.token ] || [ -e /run/enbd/nd1.token ] && die "token files left: $(ls /run/enbd)"
unload_enbd || die "rmmod enbd failed"
