#!/bin/bash
# Fault e: the server of nd0 is frozen (SIGSTOP) under fio --verify=crc32c
# on ext4 on an md RAID1 of nd0 and nd1 (tests/vm/fault-lib.sh) until the
# kernel has given up both channels of nd0 (aging 3 s) and 3 s more,
# then resumed.  The daemons reset their connections, the claims are
# resubmitted (Resubmitted) and carried out once the daemons have
# reconnected to the resumed server.  The copies still sitting in the dead
# connections are duplicates: the server discards them (its log says how
# many), and an answer that reaches the kernel late is discarded there
# (Discarded).  fio sees no error and every block verifies, md stays [UU]
# and its check finds no mismatch.  Logs the longest I/O stall.
# timeout: 200
. "$ENBD_ROOT/tests/vm/fault-lib.sh"

fault_setup
kill -STOP "$SERVER_A_PID"
thaw() { kill -CONT "$SERVER_A_PID" 2>/dev/null || true; }
on_exit thaw
t0=$SECONDS
log "server A (nd0) frozen"
no_channel() {
	nbd_read
	[ "${NBD[0 Sockets]}" = 0 ]
}
wait_for -t 15 no_channel || die "nd0's channels were not given up: $(nbd_line 0 Sockets:)"
nap 3
kill -CONT "$SERVER_A_PID"
log "server A resumed after $((SECONDS - t0)) s"
fault_wait_reconnected 0
fault_io_flows

fault_check
# Each channel of nd0 was given up by the kernel: stalled by aging, or (if
# the other one held nothing meanwhile: the suspicion from siblings counts
# an idle sibling) suspected and dropped by its daemon when the probe went
# unanswered.
kmsg=$(kernel_log_since_mark)
for ch in 0 1; do
	grep -Eq "nd0: channel $ch (stalled|suspect)" <<<"$kmsg" ||
		die "the kernel neither stalled nor suspected nd0 channel $ch"
done
nbd_read
grew 0 Resubmitted || die "nd0: nothing resubmitted"
! grew 1 Reconnects || die "nd1 reconnected: $(nbd_line 1 Reconnects:)"
dups=$(sed -n 's/.*connection dropped: \([0-9]*\) requests\{0,1\} read but not started discarded.*/\1/p' \
	"$SERVER_A_LOG" | awk '{ n += $1 } END { print n + 0 }')
log "figure: $ENBD_TEST_NAME: resubmitted nd0 $(since 0 Resubmitted), discarded by the kernel $(since 0 Discarded), duplicates discarded by the server $dups"
