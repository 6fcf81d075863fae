#!/bin/bash
# Fault c: kill -9 of one channel daemon, then of all four, under fio
# --verify=crc32c on ext4 on an md RAID1 of nd0 and nd1
# (tests/vm/fault-lib.sh).  The kernel hands a dead daemon's requests to
# the device's other channel (or queues them while none is left), the
# guardian starts a new daemon in each dead one's slot, and the kernel
# counts a restart per slot (2 for the slot killed twice, 1 for the
# others).  fio sees no error and every block verifies, md stays [UU] and
# its check finds no mismatch.  Logs the longest I/O stall.
# timeout: 200
. "$ENBD_ROOT/tests/vm/fault-lib.sh"

fault_setup

# replaced DEV SLOT OLD-PID...: a new daemon serves the slot, for each triple
replaced() {
	nbd_read
	while [ $# -gt 0 ]; do
		[ "${NBD["$1 Pids $2"]:-0}" != 0 ] && [ "${NBD["$1 Pids $2"]}" != "$3" ] &&
			attached "$1" || return 1
		shift 3
	done
}

nbd_read
old=${NBD[0 Pids 0]}
kill -KILL "$old"
log "killed the daemon of nd0 channel 0 (pid $old)"
wait_for -t 15 replaced 0 0 "$old" || die "nd0 channel 0 was not replaced: $(nbd_line 0 Pids:)"
log "nd0 channel 0: pid ${NBD[0 Pids 0]}"
fault_io_flows

nbd_read
all=(0 0 "${NBD[0 Pids 0]}" 0 1 "${NBD[0 Pids 1]}" 1 0 "${NBD[1 Pids 0]}" 1 1 "${NBD[1 Pids 1]}")
kill -KILL "${all[2]}" "${all[5]}" "${all[8]}" "${all[11]}"
log "killed every channel daemon: ${all[2]} ${all[5]} ${all[8]} ${all[11]}"
wait_for -t 15 replaced "${all[@]}" || die "not every channel was replaced: $(nbd_line 0 Pids:) / $(nbd_line 1 Pids:)"
log "every channel replaced: nd0 $(nbd_line 0 Pids:), nd1 $(nbd_line 1 Pids:)"
fault_io_flows

fault_check
nbd_read
restarts="$(since 0 Restarts 0) $(since 0 Restarts 1) $(since 1 Restarts 0) $(since 1 Restarts 1)"
[ "$restarts" = "2 1 1 1" ] || die "restarts per slot (nd0: 0 1, nd1: 0 1): $restarts, expected 2 1 1 1"
! grew 0 Reconnects && ! grew 1 Reconnects || die "a daemon reconnected"
log "figure: $ENBD_TEST_NAME: resubmitted nd0 $(since 0 Resubmitted), nd1 $(since 1 Resubmitted)"
