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
fault_back 0 2
fault_back 1 1
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

# --- one fault (the faults and fault_run: tests/vm/fault-lib.sh) ------------
FAULT_DEVS=0
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
on_exit _fault_thaw

# The faults: each starts right after the mark, ends with its device's
# channels back (or, link-dead, still down: fio stops first).
fault_link-15s() { fault_link_cut 1 15; }
fault_link-dead() { fault_link_dead 1 20; }
fault_both-links-20s() { fault_links_cut 20; }
fault_kill9() { fault_kill_channel 0 0; }
fault_server-restart() { fault_server_restart A; }
fault_server-frozen() { fault_server_frozen A 0; }
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
	wait_for -t 60 _fault_no_channel 1 || die "nd1's channel was not given up"
	kill -CONT "$SERVER_B_PID"
	fault_back 1 1
}

# ms_after MARK REGEX: ms from the mark to the first guardian log line
# matching REGEX after it, or "-"
ms_after() {
	local t0 t
	t0=$(glog_ms "test: fault $1\$") && t=$(glog_ms_after "fault $1" "$2" 1) || { echo -; return; }
	echo $((t - t0))
}

run_fault() { # ROUND NAME
	local round=$1 name=$2 mark resets silent dev=0 md=/dev/md0 n=2
	if [ "$name" = single-silent ]; then
		dev=1 md=/dev/md1 n=1
	fi
	fault_back "$dev" "$n"
	mark="$round $name"
	fault_run "$dev" "$md" 48M "$mark" "fault_$name"
	if [ "$name" = link-dead ]; then
		link_up 1
		fault_back 0
	fi
	resets=$(($(since "$dev" Reconnects) + $(since "$dev" Restarts)))
	silent=$(dmesg | sed -n "/enbd-test: fault $mark\$/,\$p" |
		sed -n 's/.*suspect: silent for \([0-9]*\) ms\( (threshold \([0-9]*\) ms)\)\{0,1\}.*/\1,\3/p' | head -n1)
	echo "$round,$name,$FIO_MAX_MS,$resets,$(since "$dev" Suspected),$(since "$dev" Cleared),$(since "$dev" Resubmitted),$FIO_ERRORS,$FIO_READS,$(ms_after "$mark" 'suspects this channel'),$(ms_after "$mark" 'dropping the connection'),${silent:--,-}" >>"$CSV"
	say "round $round $name: longest I/O $FIO_MAX_MS ms, resets $resets, suspected $(since "$dev" Suspected), cleared $(since "$dev" Cleared), resubmitted $(since "$dev" Resubmitted), fio errors $FIO_ERRORS, verified reads $FIO_READS; $(nbd_line "$dev" Detector:)"
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
