#!/bin/bash
# SIGHUP to enbd-guardian is passed on to every channel daemon: each
# reconnects (the kernel counts a reconnect of its slot), none is
# restarted, and I/O goes on.
# timeout: 120
. "$ENBD_ROOT/tests/vm/guardian-lib.sh"

load_enbd
start_enbd_server
start_guardian --client "/dev/nd0 127.0.0.1 $SERVER_PORT -n 3"
wait_for_disk /dev/nd0
wait_for -t 20 slots_attached 0 3 || die "the three channels did not attach"
pids="$(nbd_slot 0 Pids: 0) $(nbd_slot 0 Pids: 1) $(nbd_slot 0 Pids: 2)"
[ "$(nbd_total 0 Reconnects:)" = 0 ] || die "reconnects before SIGHUP: $(nbd_line 0 Reconnects:)"

kill -HUP "$GUARDIAN_PID"
all_reconnected() {
	local i
	for i in 0 1 2; do
		[ "$(nbd_slot 0 Reconnects: $i)" = 1 ] || return 1
	done
	slots_attached 0 3
}
wait_for -t 20 all_reconnected || die "not every channel reconnected: $(nbd_line 0 Reconnects:)"
[ "$(nbd_slot 0 Pids: 0) $(nbd_slot 0 Pids: 1) $(nbd_slot 0 Pids: 2)" = "$pids" ] ||
	die "pids changed: $pids -> $(nbd_line 0 Pids:)"
[ "$(nbd_total 0 Restarts:)" = 0 ] || die "restarts: $(nbd_line 0 Restarts:)"
guardian_logged 'SIGHUP: every channel reconnects' || die "SIGHUP not logged"
guardian_logged 'lost child' && die "a daemon died"

head -c 2M /dev/urandom >"$ENBD_TEST_TMP/data"
dd if="$ENBD_TEST_TMP/data" of=/dev/nd0 bs=64k oflag=direct status=none || die "write failed"
cmp -n 2M "$ENBD_TEST_TMP/data" /dev/nd0 || die "data differs"
stop_guardian || die "enbd-guardian exited with status $?"
