#!/bin/bash
# SIGUSR2 to enbd-guardian during a total outage: the server is dead, both
# channel daemons are reconnecting, reads and writes wait for a channel.
# The guardian shuts the device down with its token: the blocked I/O fails
# at once, the daemons are ejected (and stopped if they do not notice), the
# token file is removed, the guardian exits 0 and rmmod succeeds.
# timeout: 150
. "$ENBD_ROOT/tests/vm/guardian-lib.sh"

load_enbd
start_enbd_server
start_guardian --client "/dev/nd0 127.0.0.1 $SERVER_PORT -n 2"
wait_for_disk /dev/nd0
wait_for -t 20 slots_attached 0 2 || die "the two channels did not attach"
head -c 1M /dev/urandom >"$ENBD_TEST_TMP/data"
dd if="$ENBD_TEST_TMP/data" of=/dev/nd0 bs=64k oflag=direct status=none || die "write failed"
cmp -n 1M "$ENBD_TEST_TMP/data" /dev/nd0 || die "data differs"

# Total outage.
kill_and_wait "$SERVER_PID" KILL || true
no_channel() { [ "$(nbd_total 0 Sockets:)" = 0 ]; }
wait_for -t 20 no_channel || die "the channels did not notice the dead server"
dd if=/dev/nd0 of=/dev/null bs=4k count=1 skip=1000 iflag=direct status=none 2>"$ENBD_TEST_TMP/rd.err" &
reader=$!
dd if="$ENBD_TEST_TMP/data" of=/dev/nd0 bs=4k count=1 seek=2000 oflag=direct status=none 2>"$ENBD_TEST_TMP/wr.err" &
writer=$!
on_exit kill_and_wait "$reader" KILL 3
on_exit kill_and_wait "$writer" KILL 3
queued() { [ "$(nbd_line 0 Queued: | awk '{ print $1 }')" -ge 2 ]; }
wait_for -t 20 queued || die "the I/O did not reach the device: $(nbd_line 0 Queued:)"
# Nothing serves them: neither finishes within a second.
wait_for -q -t 1 proc_gone "$reader" && die "the read finished during the outage"
proc_gone "$writer" && die "the write finished during the outage"
nbd_line 0 State: | grep -q 'waiting for a channel' || die "state: $(nbd_line 0 State:)"

t0=${EPOCHREALTIME/[.,]/}
kill -USR2 "$GUARDIAN_PID"
io_failed() { proc_gone "$reader" && proc_gone "$writer"; }
wait_for -t 3 io_failed || die "the blocked I/O did not fail within 3 s of SIGUSR2"
ms=$(((${EPOCHREALTIME/[.,]/} - t0) / 1000))
log "blocked I/O failed $ms ms after SIGUSR2"
rc=0; wait "$reader" || rc=$?
[ "$rc" -ne 0 ] || die "the blocked read succeeded"
rc=0; wait "$writer" || rc=$?
[ "$rc" -ne 0 ] || die "the blocked write succeeded"
cat "$ENBD_TEST_TMP/rd.err" "$ENBD_TEST_TMP/wr.err" >&2

wait_for -t 30 proc_gone "$GUARDIAN_PID" || die "the guardian did not exit"
rc=0; wait "$GUARDIAN_PID" || rc=$?
[ "$rc" = 0 ] || die "the guardian exited with status $rc"
guardian_logged '/dev/nd0 shut down' || die "the guardian did not log the shutdown"
[ "$(grep -c 'stopped: \|ejected by a shutdown' "$GUARDIAN_LOG")" = 2 ] || die "not both daemons ended"
guardian_logged 'restarted' && die "a daemon was restarted"
[ -e /run/enbd/nd0.token ] && die "the token file is still there"
grep -q '^Device 0-.*Closed' /proc/nbdinfo || die "the device is still open"

unload_enbd || die "rmmod enbd failed"
grep -q '^enbd ' /proc/modules && die "enbd is still loaded"
log "rmmod succeeded"
