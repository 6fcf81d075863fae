#!/bin/bash
# A wedged channel daemon cannot hold an md mirror hostage: with the outage
# policy fail:3000 and aging 2 s, the only channel of nd0 is SIGSTOPped under
# fio --verify on an md RAID1 of nd0 and a loop device; within aging + 3 s
# (+ the kernel's 1 s aging pass) the channel's requests fail, md faults nd0
# out, and fio carries on without an error, every block verified.  Resumed,
# the same daemon resets its connection and attaches again: nothing for the
# guardian to restart.
# timeout: 180
# nd0's failed requests and md's reaction are the point of this test.
# dmesg-allow: I/O error|md/raid1|super_written
. "$ENBD_ROOT/tests/vm/guardian-lib.sh"
require_cmd mdadm fio jq losetup

load_enbd
start_enbd_server
start_guardian --client "/dev/nd0 127.0.0.1 $SERVER_PORT -n 1 --aging 2 --outage fail:3000"
wait_for_disk /dev/nd0
wait_for -t 20 slots_attached 0 1 || die "the channel did not attach"
truncate -s 256M "$ENBD_TEST_TMP/loop.img"
loop=$(losetup -f --show "$ENBD_TEST_TMP/loop.img") || die "losetup"
on_exit losetup -d "$loop"
md_mirror_create /dev/md0 /dev/nd0 "$loop"

fio_verify_start /dev/md0 64M 120
requested_over() { [ "$(nbd_total 0 Requested:)" -gt "$1" ]; }
wait_for -t 60 requested_over 200 || die "no I/O reaches nd0"
daemon=$(nbd_slot 0 Pids: 0)
kmsg_mark
kill -STOP "$daemon"
on_exit kill -CONT "$daemon"
t0=${EPOCHREALTIME/[.,]/}
log "channel daemon $daemon stopped"

nd0_faulty() { [[ $(cat /sys/block/md0/md/dev-nd0/state 2>/dev/null) == *faulty* ]]; }
wait_for -t 30 nd0_faulty || die "md did not fault nd0 out: $(cat /proc/mdstat)"
ms=$(((${EPOCHREALTIME/[.,]/} - t0) / 1000))
log "figure: $ENBD_TEST_NAME: md faulted nd0 out $ms ms after its daemon stopped"
[ "$ms" -lt 15000 ] || die "that took longer than 15 s"

# Writes carry on, on the loop device alone.
loop_writes() { # the loop device's completed writes
	local stat
	read -ra stat <"/sys/block/${loop#/dev/}/stat"
	echo "${stat[4]}"
}
writes_over() { [ "$(loop_writes)" -gt "$1" ]; }
wait_for -t 30 writes_over "$(($(loop_writes) + 100))" || die "writes do not carry on"
: >"$FIO_STOP"
wait_for -t 30 proc_gone "$FIO_PID" || die "fio did not stop: I/O is held"
fio_verify_wait || die "fio saw errors: $(cat "$FIO_OUT")"
log "figure: $ENBD_TEST_NAME: longest fio I/O $FIO_MAX_MS ms"
grep -q '\[UU\]' /proc/mdstat && die "md0 is not degraded: $(cat /proc/mdstat)"
# The stopped daemon's writes are given up; if it held only reads (rolled
# back at the stall), the outage policy alone fails what waits.
given_up=$(kernel_log_since_mark |
	grep -E 'nd0: channel 0 stalled for .* ms: its claims given up|nd0: no channel for .* ms: failing I/O') ||
	die "the kernel said neither that it gave up on the channel's claims nor that it fails I/O"
log "kernel: ${given_up#*enbd: }"
reconnects=$(nbd_slot 0 Reconnects: 0)
kill -CONT "$daemon"
reattached() { [ "$(nbd_slot 0 Reconnects: 0)" -gt "$reconnects" ]; }
wait_for -t 30 reattached || die "the resumed daemon did not attach again: $(cat /proc/nbdinfo)"
[ "$(nbd_slot 0 Pids: 0)" = "$daemon" ] || die "the daemon was replaced, not resumed"
guardian_logged "lost child" && die "the guardian lost a child: $(cat "$GUARDIAN_LOG")"
log "the resumed daemon $daemon attached again"
