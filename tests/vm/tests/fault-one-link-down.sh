#!/bin/bash
# Fault a: link 1 of two goes down for 10 s under fio --verify=crc32c on ext4
# on an md RAID1 of nd0 and nd1 (tests/vm/fault-lib.sh).  The channel of
# each device on link 1 stops answering: the kernel ages its claims (3 s),
# the daemon drops the connection and its requests are resubmitted to the
# channel on link 2, which carries the load until link 1 is back and the
# same daemons reconnect.  fio sees no error and every block verifies, md
# stays [UU] and its check finds no mismatch; nothing happens on link 2.
# Logs the longest I/O stall (fio's highest latency).
# timeout: 200
. "$ENBD_ROOT/tests/vm/fault-lib.sh"

fault_setup
link_down 1
nap 10
link_up 1
back() {
	nbd_read
	grew 0 Reconnects 0 && grew 1 Reconnects 0 && attached 0 && attached 1
}
wait_for -t 30 back || die "the channels on link 1 did not come back: $(nbd_line 0 Reconnects:) / $(nbd_line 1 Reconnects:)"
log "both channels on link 1 reconnected"
fault_io_flows

fault_check
nbd_read
for dev in 0 1; do
	grew "$dev" Resubmitted 0 || die "nd$dev: nothing resubmitted from the channel on link 1"
	! grew "$dev" Reconnects 1 || die "nd$dev: the channel on link 2 reconnected"
	! grew "$dev" Restarts || die "nd$dev: a daemon was restarted"
done
log "figure: $ENBD_TEST_NAME: resubmitted nd0 $(since 0 Resubmitted), nd1 $(since 1 Resubmitted)"
