#!/bin/bash
# A device shut down behind the guardian's back (enbd-client -d with the
# token): its channel daemons are ejected and exit 3; the guardian does not
# restart them, removes the token file the kernel no longer matches, and
# exits 0 as it has nothing left to guard.
# timeout: 120
. "$ENBD_ROOT/tests/vm/guardian-lib.sh"

load_enbd
start_enbd_server
start_guardian --client "/dev/nd0 127.0.0.1 $SERVER_PORT -n 2"
wait_for_disk /dev/nd0
wait_for -t 20 slots_attached 0 2 || die "the two channels did not attach"
pids="$(nbd_slot 0 Pids: 0) $(nbd_slot 0 Pids: 1)"

ENBD_TOKEN=$(cat /run/enbd/nd0.token) "$ENBD_CLIENT" -d /dev/nd0 || die "enbd-client -d failed"
wait_for -t 10 proc_gone "$GUARDIAN_PID" || die "the guardian did not exit"
rc=0; wait "$GUARDIAN_PID" || rc=$?
[ "$rc" = 0 ] || die "the guardian exited with status $rc"
for pid in $pids; do
	guardian_logged "lost child: pid $pid, exit status 3: /dev/nd0 channel [01] was ejected by a shutdown" ||
		die "daemon $pid did not exit 3 on its ejection"
done
guardian_logged 'SIGTERM' && die "a daemon had to be stopped"
guardian_logged 'restarted' && die "a daemon was restarted"
guardian_logged 'nothing left to guard' || die "the guardian did not say why it exited"
[ -e /run/enbd/nd0.token ] && die "the token file is still there"
unload_enbd || die "rmmod enbd failed"
