#!/bin/bash
# enbd-guardian killed with -9 while fio writes to a slow server, a new one
# started at once: the old daemons (SIGTERM from PR_SET_PDEATHSIG) drain
# their requests in flight for a few seconds and keep their slots
# meanwhile; each new daemon waits for its slot (--slot, up to 15 s) and
# takes it as soon as it is free, instead of failing with EBUSY into the
# guardian's backoff (which used to put the re-attach seconds after the
# drain).  No new daemon dies, every slot is re-attached, no request fails.
# Logs, as a figure, the time from the kill until both slots serve again.
# timeout: 150
. "$ENBD_ROOT/tests/vm/guardian-lib.sh"
require_cmd fio nbdkit

# Every write waits WDELAY s in the server, one at a time per connection
# (-t 1, see vm-facts: nbdkit 1.32 and abrupt hang-ups): the drain takes a
# few seconds, well within the daemons' 10 s drain bound.
WDELAY=${WDELAY:-2}
load_enbd
start_nbdkit -t 1 --filter=delay memory 256M wdelay="$WDELAY" >/dev/null
start_guardian --client "/dev/nd0 127.0.0.1 $NBDKIT_PORT -n 2"
wait_for_disk /dev/nd0
wait_for -t 20 slots_attached 0 2 || die "the two channels did not attach"
old0=$(nbd_slot 0 Pids: 0)
old1=$(nbd_slot 0 Pids: 1)

fio --name=kill9 --filename=/dev/nd0 --rw=write --bs=64k --size=64M --direct=1 \
	--ioengine=libaio --iodepth=4 --time_based --runtime=120 \
	--output="$ENBD_TEST_TMP/fio.out" &
fio_pid=$!
on_exit kill_and_wait "$fio_pid" KILL 3
# Pending (claimed, not completed), not the cumulative Requested: the
# partition scan's reads alone made that true before fio wrote anything.
in_flight_on_both() { [ "$(nbd_slot 0 Pending: 0)" -gt 0 ] && [ "$(nbd_slot 0 Pending: 1)" -gt 0 ]; }
wait_for -t 30 in_flight_on_both || die "no write in flight on both channels: $(nbd_line 0 Pending:)"

old_guardian=$GUARDIAN_PID
glog_mark "kill -9"
kill -KILL "$old_guardian"
start_guardian --client "/dev/nd0 127.0.0.1 $NBDKIT_PORT -n 2"
wait_for -t 5 proc_gone "$old_guardian" || die "the old guardian is still there"

reattached() { slot_pid_not 0 0 "$old0" && slot_pid_not 0 1 "$old1"; }
wait_for -t 40 reattached || die "the slots were not re-attached: $(nbd_line 0 Pids:)"
kill_ms=$(glog_ms 'test: kill -9')
wait_for -t 20 glog_ms_after "kill -9" 'serving /dev/nd0' 2 >/dev/null ||
	die "no two 'serving' lines after the kill"
attach_ms=$(glog_ms_after "kill -9" 'serving /dev/nd0' 2)
log "figure: $ENBD_TEST_NAME: write delay $WDELAY s: both slots serving again $((attach_ms - kill_ms)) ms after kill -9 of the guardian"

grep -A1000 "test: kill -9" "$GUARDIAN_LOG" | grep -E 'lost child|cannot attach' &&
	die "a new daemon failed while the old ones drained"
proc_gone "$old0" && proc_gone "$old1" || die "an old daemon still runs"
guardian_logged 'free after [0-9]+ ms' ||
	die "no new daemon had to wait for its slot: the drain was too short to test anything"
[ "$(nbd_slot 0 Restarts: 0)" = 1 ] && [ "$(nbd_slot 0 Restarts: 1)" = 1 ] ||
	die "restarts: $(nbd_line 0 Restarts:) (expected 1 per slot)"
[ "$(nbd_total 0 Errored:)" = 0 ] || die "requests errored: $(nbd_line 0 Errored:)"
proc_gone "$fio_pid" && die "fio ended: $(cat "$ENBD_TEST_TMP/fio.out")"
# The end: SIGUSR2 fails what fio still waits for.
stop_guardian USR2 || die "enbd-guardian exited with status $? on SIGUSR2"
kill_and_wait "$fio_pid" KILL 10 || true
