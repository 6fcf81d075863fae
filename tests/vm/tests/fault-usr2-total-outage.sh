#!/bin/bash
# Fault g: SIGUSR2 to enbd-guardian during a total outage with I/O blocked,
# on the whole stack (tests/vm/fault-lib.sh): fio writes to ext4 on an md
# RAID1 of nd0 and nd1, both links go down, every channel drops its
# connection and fio's requests wait in both devices.  SIGUSR2 shuts both
# devices down: the blocked I/O fails at once (fio ends with errors within
# 5 s), the guardian exits 0, the filesystem unmounts, md0 stops and
# `rmmod enbd` succeeds.
# timeout: 200
# The point of this test is failing I/O: md, ext4 and the block layer say so.
# dmesg-allow: I/O error|EXT4-fs|md/raid1|super_written|JBD2|Aborting journal
. "$ENBD_ROOT/tests/vm/fault-lib.sh"

# I/O waits however long the outage lasts; fio stops at its first error.
FAULT_FIO_OPTS=--continue_on_error=none
fault_setup --aging 3 --outage wait

link_down 1
link_down 2
blocked() {
	nbd_read
	[ "${NBD[0 Sockets]}" = 0 ] && [ "${NBD[1 Sockets]}" = 0 ] &&
		[ "${NBD[0 Queued]}" -gt 0 ] && [ "${NBD[1 Queued]}" -gt 0 ]
}
wait_for -t 15 blocked || die "no total outage with I/O queued: $(nbd_line 0 Queued:) / $(nbd_line 1 Queued:)"
log "total outage, I/O queued: nd0 $(nbd_line 0 Queued:), nd1 $(nbd_line 1 Queued:)"
proc_gone "$FIO_PID" && die "fio ended during the outage"

t0=${EPOCHREALTIME/[.,]/}
kill -USR2 "$GUARDIAN_PID"
wait_for -t 5 proc_gone "$FIO_PID" || die "fio was still blocked 5 s after SIGUSR2"
ms=$(((${EPOCHREALTIME/[.,]/} - t0) / 1000))
log "figure: $ENBD_TEST_NAME: the blocked I/O failed and fio ended $ms ms after SIGUSR2"
fio_verify_wait && die "fio saw no error"
[ "$FIO_ERRORS" -gt 0 ] || die "fio counted no error"
wait_for -t 30 proc_gone "$GUARDIAN_PID" || die "the guardian did not exit"
rc=0
wait "$GUARDIAN_PID" || rc=$?
[ "$rc" = 0 ] || die "the guardian exited with status $rc"
grep -q '^Device 0-.*Closed' /proc/nbdinfo || die "the devices are still open: $(cat /proc/nbdinfo)"

umount "$FAULT_MNT" || die "umount after the shutdown"
md_stop /dev/md0 || die "mdadm --stop md0 after the shutdown"
unload_enbd || die "rmmod enbd failed"
grep -q '^enbd ' /proc/modules && die "enbd is still loaded"
log "fio failed fast, the filesystem unmounted, md0 stopped, rmmod succeeded"
