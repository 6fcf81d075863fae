#!/bin/bash
# SIGUSR2 to enbd-guardian while fio writes to a served device: the device
# is shut down, fio's requests fail at once, every channel daemon sees its
# ejection and exits 3 by itself (no SIGTERM needed), none is restarted,
# the guardian exits 0 and rmmod succeeds.
# timeout: 150
. "$ENBD_ROOT/tests/vm/guardian-lib.sh"
require_cmd fio

load_enbd
start_enbd_server
start_guardian --client "/dev/nd0 127.0.0.1 $SERVER_PORT -n 3"
wait_for_disk /dev/nd0
wait_for -t 20 slots_attached 0 3 || die "the three channels did not attach"

fio --name=usr2 --filename=/dev/nd0 --rw=randwrite --bs=16k --size=200M --direct=1 \
	--ioengine=libaio --iodepth=32 --time_based --runtime=60 \
	--output="$ENBD_TEST_TMP/fio.out" &
fio_pid=$!
on_exit kill_and_wait "$fio_pid" KILL 3
requested_over() { [ "$(nbd_total 0 Requested:)" -gt "$1" ]; }
wait_for -t 30 requested_over 300 || die "no I/O reached the device"

kill -USR2 "$GUARDIAN_PID"
wait_for -t 5 proc_gone "$fio_pid" || die "fio went on after the shutdown"
rc=0; wait "$fio_pid" || rc=$?
[ "$rc" -ne 0 ] || die "fio saw no error"
wait_for -t 10 proc_gone "$GUARDIAN_PID" || die "the guardian did not exit"
rc=0; wait "$GUARDIAN_PID" || rc=$?
[ "$rc" = 0 ] || die "the guardian exited with status $rc"
[ "$(grep -c 'exit status 3: /dev/nd0 channel [0-2] was ejected by a shutdown' "$GUARDIAN_LOG")" = 3 ] ||
	die "not every daemon exited 3 on its ejection"
guardian_logged 'still running: SIGTERM' && die "the daemons did not notice their ejection"
guardian_logged 'restarted' && die "a daemon was restarted"
unload_enbd || die "rmmod enbd failed"
