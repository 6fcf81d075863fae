#!/bin/bash
# A channel daemon that finds the shutdown of its device and a SIGTERM
# waiting at the same time exits 3 (ejected), not 0 (stopped): the guardian
# tells "the device is gone" from "I stopped it" by that status.  The daemon
# is held with SIGSTOP across both so that its next poll() sees the two
# together, as a daemon does when the guardian stops a device's remaining
# channels right after one of them reported the shutdown.
# timeout: 90
. "$ENBD_ROOT/tests/vm/lib.sh"

load_enbd
start_enbd_server
log_file=$ENBD_TEST_TMP/client.log
start_enbd_client --log "$log_file" -p "$SERVER_PORT" 127.0.0.1 /dev/nd0
client=$ENBD_CLIENT_PID
wait_for_disk /dev/nd0

kill -STOP "$client"
"$ENBD_CLIENT" -q -d /dev/nd0 || die "enbd-client -d failed"
kill -TERM "$client"
kill -CONT "$client"
wait_for -t 20 proc_gone "$client" || die "the client is still running"
rc=0
wait "$client" || rc=$?
[ $rc -eq 3 ] || die "client exited with $rc, expected 3 (ejected)"
grep -q 'was shut down: channel ejected' "$log_file" || die "no 'ejected' line in the client's log"
unload_enbd
