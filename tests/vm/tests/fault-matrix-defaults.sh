#!/bin/bash
# The fault matrix once with the module's defaults (aging 30 s, keepalive
# 10 s, the failover detector), not the matrix's aging 3 s: the stack of
# tests/vm/fault-lib.sh (ext4 on an md RAID1 of nd0 and nd1, each with a
# channel over link 1 and one over link 2, outage fail:45000) set up once,
# then its faults one after the other, each under its own fio
# --verify=crc32c (fault_run):
#
#   link-dead       link 1 down, left down until fio stopped: the channels on
#                   it are suspected (the detector, not aging) and reset
#   link-cut        link 1 down 5 s, then up: suspected, reset, reconnected
#   kill9           kill -9 of nd0 channel 0's daemon: replaced in its slot
#   server-restart  server A killed, started again 2 s later: nd0 reconnects
#   server-frozen   server A SIGSTOPped until nd0's channels are given up
#                   (no sibling answers: the keep-alive, 2 x 10 s), 3 s more
#   links-cut       both links down 6 s, then up: nothing to suspect, every
#                   request waits and completes, nothing fails
#
# Each fault: fio sees no error and verifies blocks, md0 stays [UU], its
# longest I/O stays under a generous bound (the targets are in README), and
# its counters say what happened; at the end md's check finds no mismatch,
# no request errored, no I/O error in the kernel log, e2fsck is clean.
# Logs "figure:" lines per fault.  The matrix's other faults add nothing
# with the defaults: 2 % loss + delay on both links and a link shaped to
# 4 Mbit/s are failover-slow-link-not-reset and make bench-failover;
# SIGUSR2 during a total outage does not depend on aging or keepalive.
# timeout: 600
. "$ENBD_ROOT/tests/vm/fault-lib.sh"

# A frozen server holds md's writes for 2 x keepalive and a reconnect, as
# designed: the VM's hung-task timeout (30 s; the harness resets it after
# each test) must not call that a failure.
echo 120 >/proc/sys/kernel/hung_task_timeout_secs

fault_setup --outage fail:45000
grep -h . /sys/module/enbd/parameters/{aging,keepalive} | paste -sd/ | grep -qx 30/10 ||
	die "not the module's defaults: aging/keepalive $(grep -h . /sys/module/enbd/parameters/{aging,keepalive} | paste -sd/)"

# step LABEL BOUND_MS CMD...: one fault; fio clean, md0 [UU], stall <= BOUND_MS
step() {
	local label=$1 bound=$2
	shift 2
	fault_run 0 "$FAULT_MNT/fio.dat" 24M "$label" "$@"
	[ "$FAULT_FIO_OK" = 1 ] || die "$label: fio failed: $(cat "$FIO_OUT")"
	grep -q '\[UU\]' /proc/mdstat || die "$label: md0 degraded: $(cat /proc/mdstat)"
	log "figure: $ENBD_TEST_NAME: $label: longest I/O stall $FIO_MAX_MS ms; nd0 suspected $(since 0 Suspected), cleared $(since 0 Cleared), resubmitted $(since 0 Resubmitted), reconnects $(since 0 Reconnects), restarts $(since 0 Restarts); nd1 suspected $(since 1 Suspected), resubmitted $(since 1 Resubmitted), reconnects $(since 1 Reconnects)"
	[ "$FIO_MAX_MS" -le "$bound" ] || die "$label: fio stalled $FIO_MAX_MS ms, more than $bound ms"
}

# One link of two dead: the target is 2 s; a detector that missed it would
# leave the requests to the keep-alive, 20 s.
step link-dead 8000 fault_link_dead 1 3
for dev in 0 1; do
	grew "$dev" Suspected 0 || die "link-dead: nd$dev channel 0 was never suspected"
	grew "$dev" Resubmitted 0 || die "link-dead: nothing came back from nd$dev channel 0"
	! grew "$dev" Reconnects 1 || die "link-dead: nd$dev channel 1 on the live link reconnected"
done
link_up 1
fault_back 0
fault_back 1

step link-cut 8000 fault_link_cut 1 5
for dev in 0 1; do
	grew "$dev" Suspected 0 && grew "$dev" Reconnects 0 ||
		die "link-cut: nd$dev channel 0 was not suspected and reconnected: $(nbd_line "$dev" Suspected:) / $(nbd_line "$dev" Reconnects:)"
	! grew "$dev" Reconnects 1 || die "link-cut: nd$dev channel 1 on the live link reconnected"
done

step kill9 10000 fault_kill_channel 0 0
[ "$(since 0 Restarts 0)" = 1 ] && [ "$(since 0 Restarts 1)" = 0 ] ||
	die "kill9: nd0 restarts $(nbd_line 0 Restarts:), want channel 0 once"

step server-restart 20000 fault_server_restart A
grew 0 Reconnects 0 && grew 0 Reconnects 1 || die "server-restart: nd0 did not reconnect: $(nbd_line 0 Reconnects:)"
! grew 1 Reconnects || die "server-restart: nd1 reconnected: $(nbd_line 1 Reconnects:)"

# Every channel of nd0 silent at once: no sibling shows the server alive,
# the keep-alive gives up (2 x 10 s), then the reconnect once resumed.
step server-frozen 50000 fault_server_frozen A 0
grew 0 Resubmitted || die "server-frozen: nd0: nothing resubmitted"
! grew 1 Reconnects || die "server-frozen: nd1 reconnected: $(nbd_line 1 Reconnects:)"

step links-cut 30000 fault_links_cut 6

fault_check_stack
