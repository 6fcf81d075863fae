#!/bin/bash
# Fault b: both links down for 20 s under fio --verify=crc32c on ext4 on an
# md RAID1 of nd0 and nd1 (tests/vm/fault-lib.sh): a total outage, shorter
# than the devices' outage timeout (fail after 45 s).  Every channel stalls
# and drops its connection, both devices wait for a channel with their
# requests queued, and when the links return every daemon reconnects (after
# its backoff, at most 5 s) and the queued requests are carried out.  fio
# sees no error and every block verifies, md stays [UU] and its check finds
# no mismatch, no request fails.  Logs the longest I/O stall.
# timeout: 240
. "$ENBD_ROOT/tests/vm/fault-lib.sh"

# By design I/O waits here for the 20 s outage plus up to 5 s of reconnect
# backoff plus reconnecting (25 s measured under TCG): tasks waiting on it
# (jbd2, md) come close to the VM's 30 s hung-task timeout, and a busy host
# could push them past it although nothing is wrong.  60 s, still half the
# kernel's default of 120 s, reports any task that stays blocked after the
# channels are back.
echo 60 >/proc/sys/kernel/hung_task_timeout_secs
fault_setup
link_down 1
link_down 2
t0=$SECONDS
no_channel() {
	nbd_read
	[ "${NBD[0 Sockets]}" = 0 ] && [ "${NBD[1 Sockets]}" = 0 ]
}
wait_for -t 15 no_channel || die "not every channel noticed the outage: $(nbd_line 0 Sockets:) / $(nbd_line 1 Sockets:)"
log "no channel left: $(nbd_line 0 Policy:)"
nap $((20 - (SECONDS - t0)))
link_up 1
link_up 2
all_back() {
	local dev slot
	nbd_read
	for dev in 0 1; do
		for slot in 0 1; do
			grew "$dev" Reconnects "$slot" || return 1
		done
		attached "$dev" || return 1
	done
}
wait_for -t 30 all_back || die "not every channel came back: $(nbd_line 0 Reconnects:) / $(nbd_line 1 Reconnects:)"
log "every channel reconnected"
fault_io_flows

fault_check
nbd_read
for dev in 0 1; do
	grew "$dev" Resubmitted || die "nd$dev: nothing resubmitted"
	! grew "$dev" Restarts || die "nd$dev: a daemon was restarted"
done
log "figure: $ENBD_TEST_NAME: resubmitted nd0 $(since 0 Resubmitted), nd1 $(since 1 Resubmitted)"
