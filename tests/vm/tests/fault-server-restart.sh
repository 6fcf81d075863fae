#!/bin/bash
# Fault d: the server of nd0 is killed (SIGKILL) under fio --verify=crc32c
# on ext4 on an md RAID1 of nd0 and nd1 (tests/vm/fault-lib.sh), and
# started again 2 s later on the same backing file and port.  Both channels
# of nd0 lose their connection at once; their requests are requeued and wait
# until the same daemons have reconnected (backoff) and renegotiated, then
# carried out.  fio sees no error and every block verifies, md stays [UU]
# and its check finds no mismatch; nd1 is not disturbed.  Logs the longest
# I/O stall.
# timeout: 200
. "$ENBD_ROOT/tests/vm/fault-lib.sh"

fault_setup
kill_and_wait "$SERVER_A_PID" KILL || true
log "server A (nd0) killed"
nap 2
fault_server A "$SERVER_A_PORT"
fault_wait_reconnected 0
fault_io_flows

fault_check
nbd_read
! grew 1 Reconnects || die "nd1 reconnected: $(nbd_line 1 Reconnects:)"
! grew 0 Restarts && ! grew 1 Restarts || die "a daemon was restarted"
log "figure: $ENBD_TEST_NAME: resubmitted nd0 $(since 0 Resubmitted), reconnects nd0 $(since 0 Reconnects)"
