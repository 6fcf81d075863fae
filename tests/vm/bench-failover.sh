#!/bin/bash
# make bench-failover, the guest's part (tools/bench-failover boots the VM and
# runs this; a benchmark, not a test).  With the module's DEFAULT settings
# (no --aging, no keepalive= option), the fault matrix's faults one after the
# other on one stack set up once (tests/vm/fault-lib.sh's two links and
# namespace):
#
#   md0 = RAID1(nd0, loop0)   nd0: two channels, channel 0 over link 1 and
#                             channel 1 over link 2, enbd-server A
#   md1 = RAID1(nd1, loop1)   nd1: one channel over link 2, enbd-server B
#                             (only for the single-channel fault)
#
# For each fault, fio random writes with crc32c verification run on the md
# device from before the fault until its channels are back (the same fio as
# the fault tests, lib.sh's fio_verify_start), and a line says: the longest
# I/O (fio's highest completion latency: the application's longest stall),
# the device's channel resets (Reconnects + Restarts), Suspected, Cleared,
# Resubmitted from /proc/nbdinfo, fio's verdict (errors, verified reads), and
# when the channel daemons said they were suspected / dropped the connection
# after the fault began (ms; "-" if they did not), and from the kernel's log
# how long the channel had been silent when suspected and the threshold.  Raw figures go to
# $ENBD_TEST_OUT/failover.csv; tools/bench-failover prints the table.
#
# Plan (written by tools/bench-failover into build/bench-failover/plan):
# ROUNDS, FAULTS (names, as in FAULT_NAMES below).
# timeout: 3000
. "$ENBD_ROOT/tests/vm/fault-lib.sh"
require_cmd tc losetup

FAULT_NAMES="link-15s link-dead both-links-20s kill9 server-restart server-frozen shaped-4mbit netem-loss-delay single-silent"
ROUNDS=2 FAULTS=$FAULT_NAMES
PLAN=$ENBD_ROOT/build/bench-failover/plan
# shellcheck disable=SC1090 # written by tools/bench-failover
[ -f "$PLAN" ] && . "$PLAN"

mkdir -p "$ENBD_TEST_OUT"
CSV=$ENBD_TEST_OUT/failover.csv
echo "round,fault,stall_ms,resets,suspected,cleared,resubmitted,fio_errors,verified_reads,suspect_ms,reset_ms,silent_ms,threshold_ms" >"$CSV"
say() { log "bench: $*"; }

# --- the stack, once -------------------------------------------------------
# With the defaults a frozen server holds md's writes for 2 x keepalive plus
# a reconnect (25-30 s), as designed: the VM's hung-task timeout (30 s) must
# not call that a failure.
echo 120 >/proc/sys/kernel/hung_task_timeout_secs
load_enbd
netns_two_links "$FAULT_NS"
fault_server A
fault_server B
start_guardian \
	--client "/dev/nd0 10.1.0.2,10.2.0.2 $SERVER_A_PORT -n 2 -b 10.1.0.1 -b 10.2.0.1" \
	--client "/dev/nd1 10.2.0.2 $SERVER_B_PORT -n 1 -b 10.2.0.1"
wait_for_disk /dev/nd0
wait_for_disk /dev/nd1
up() { # DEV SOCKETS: the device has that many channels attached
	nbd_read
	[ "${NBD["$1 Sockets"]:-0}" = "$2" ]
}
wait_for -t 60 up 0 2 && wait_for -t 60 up 1 1 || die "the channels did not attach: $(cat /proc/nbdinfo)"
loop_mirror() { # MD ND: an md RAID1 of ND and a fresh loop device as big
	local img=$ENBD_TEST_TMP/${1##*/}.loop loop
	truncate -s "$(blockdev --getsize64 "$2")" "$img"
	loop=$(losetup --find --show "$img") || die "losetup $img"
	on_exit losetup -d "$loop"
	md_mirror_create "$1" "$2" "$loop"
}
loop_mirror /dev/md0 /dev/nd0
loop_mirror /dev/md1 /dev/nd1
say "md0 = RAID1(nd0: 2 channels over links 1 and 2, loop), md1 = RAID1(nd1: 1 channel, loop); module defaults: $(grep -h . /sys/module/enbd/parameters/{aging,keepalive} | paste -sd/) s aging/keepalive"

# --- one fault -------------------------------------------------------------
DEV=0 MD=/dev/md0
flowing() { # COUNT: DEV carried more requests than COUNT
	nbd_read && [ "${NBD["$DEV Requested"]}" -gt "$1" ]
}
fio_start() { # MD: fio_verify_start on it, returns once I/O flows on DEV
	nbd_read
	local r=${NBD["$DEV Requested"]}
	fio_verify_start "$1" 48M 600
	wait_for -t 60 flowing "$((r + 150))" || die "no I/O reaches nd$DEV"
	if proc_gone "$FIO_PID"; then
		die "fio ended: $(cat "$FIO_OUT")"
	fi
}

# back DEV: every channel of DEV attached again and carrying requests
back() {
	local want=2
	[ "$1" = 1 ] && want=1
	wait_for -t 60 up "$1" "$want" || die "nd$1's channels did not come back: $(nbd_line "$1" Sockets:)"
}

links_up() {
	local i
	for i in 1 2; do
		ip link show "nic$i" | grep -q 'state UP' || link_up "$i"
	done
}

qdisc() { # add|del LINKS... -- QDISC...: at both ends of each link
	local op=$1 i
	shift
	local links=()
	while [ "$1" != -- ]; do links+=("$1"); shift; done
	shift
	for i in "${links[@]}"; do
		tc qdisc "$op" dev "nic$i" root "$@" || die "tc qdisc $op nic$i"
		tc -n "$FAULT_NS" qdisc "$op" dev "nic$i" root "$@" || die "tc -n $FAULT_NS qdisc $op nic$i"
	done
}
qdisc_off() {
	local i
	for i in 1 2; do
		tc qdisc del dev "nic$i" root 2>/dev/null
		tc -n "$FAULT_NS" qdisc del dev "nic$i" root 2>/dev/null
	done
	return 0
}
on_exit qdisc_off
thaw() { kill -CONT "$SERVER_A_PID" "$SERVER_B_PID" 2>/dev/null || true; }
on_exit thaw

no_channel() { nbd_read && [ "${NBD["$1 Sockets"]}" = 0 ]; }
replaced() { nbd_read && [ "${NBD["0 Pids 0"]:-0}" != 0 ] && [ "${NBD["0 Pids 0"]}" != "$1" ] && attached 0; }

# The faults: each starts right after the mark, ends with its device's
# channels back (or, link-dead, still down: fio stops first).
fault_link-15s() { link_down 1; nap 15; link_up 1; back 0; }
fault_link-dead() { link_down 1; nap 20; }
fault_both-links-20s() { link_down 1; link_down 2; nap 20; link_up 1; link_up 2; back 0; }
fault_kill9() {
	local old=${NBD["0 Pids 0"]}
	kill -KILL "$old"
	wait_for -t 30 replaced "$old" || die "nd0 channel 0 was not replaced"
}
fault_server-restart() {
	kill_and_wait "$SERVER_A_PID" KILL || true
	nap 2
	fault_server A "$SERVER_A_PORT"
	back 0
}
fault_server-frozen() {
	kill -STOP "$SERVER_A_PID"
	wait_for -t 60 no_channel 0 || die "nd0's channels were not given up"
	nap 3
	kill -CONT "$SERVER_A_PID"
	back 0
}
fault_shaped-4mbit() {
	qdisc add 1 -- tbf rate 4mbit burst 16kb latency 400ms
	nap 15
	qdisc del 1 --
}
fault_netem-loss-delay() {
	qdisc add 1 2 -- netem delay 30ms 10ms loss 2%
	nap 15
	qdisc del 1 2 --
}
fault_single-silent() {
	kill -STOP "$SERVER_B_PID"
	wait_for -t 60 no_channel 1 || die "nd1's channel was not given up"
	kill -CONT "$SERVER_B_PID"
	back 1
}

# ms_after MARK REGEX: ms from the mark to the first guardian log line
# matching REGEX after it, or "-"
ms_after() {
	local t0 t
	t0=$(glog_ms "test: $1\$") && t=$(glog_ms_after "$1" "$2" 1) || { echo -; return; }
	echo $((t - t0))
}

run_fault() { # ROUND NAME
	local round=$1 name=$2 mark k resets silent
	DEV=0 MD=/dev/md0
	if [ "$name" = single-silent ]; then
		DEV=1 MD=/dev/md1
	fi
	back "$DEV"
	fio_start "$MD"
	nbd_read
	for k in "${!NBD[@]}"; do
		NBD0[$k]=${NBD[$k]}
	done
	mark="fault $round $name"
	echo "enbd-bench: $mark" >/dev/kmsg
	glog_mark "$mark"
	"fault_$name"
	# A few seconds of I/O after the fault: fio's longest I/O ends there.
	nap 3
	fio_verify_stop || log "fio: $(tail -n 5 "$FIO_OUT")"
	if [ "$name" = link-dead ]; then
		link_up 1
		back 0
	fi
	nbd_read
	resets=$(($(since "$DEV" Reconnects) + $(since "$DEV" Restarts)))
	silent=$(dmesg | sed -n "/enbd-bench: $mark\$/,\$p" |
		sed -n 's/.*suspect: silent for \([0-9]*\) ms\( (threshold \([0-9]*\) ms)\)\{0,1\}.*/\1,\3/p' | head -n1)
	echo "$round,$name,$FIO_MAX_MS,$resets,$(since "$DEV" Suspected),$(since "$DEV" Cleared),$(since "$DEV" Resubmitted),$FIO_ERRORS,$FIO_READS,$(ms_after "$mark" 'suspects this channel'),$(ms_after "$mark" 'dropping the connection'),${silent:--,-}" >>"$CSV"
	say "round $round $name: longest I/O $FIO_MAX_MS ms, resets $resets, suspected $(since "$DEV" Suspected), cleared $(since "$DEV" Cleared), resubmitted $(since "$DEV" Resubmitted), fio errors $FIO_ERRORS, verified reads $FIO_READS; $(nbd_line "$DEV" Detector:)"
	[ "$(grep -c '\[UU\]' /proc/mdstat)" = 2 ] || die "an md mirror is degraded after $name: $(cat /proc/mdstat)"
}

for round in $(seq 1 "$ROUNDS"); do
	for f in $FAULTS; do
		declare -F "fault_$f" >/dev/null || die "no fault $f (known: $FAULT_NAMES)"
		run_fault "$round" "$f"
	done
done
md_check_clean /dev/md0
md_check_clean /dev/md1
say "md0 and md1 [UU], check: mismatch_cnt 0"
grep -E '^\[[01]\] (Requested|Resubmitted|Reconnects|Restarts|Suspected|Cleared|Detector)' /proc/nbdinfo >"$ENBD_TEST_OUT/nbdinfo.txt"
cp "$GUARDIAN_LOG" "$ENBD_TEST_OUT/guardian.log"
