#!/bin/bash
# make bench, the guest's part (tools/bench-vm boots the VM and runs this; not a test).
# Against the same two server processes (enbd-server --memory and nbdkit memory, both
# on 127.0.0.1) and the same fio jobs, it measures /dev/nd0 (enbd-client -n 1 and -n 4)
# and /dev/nbd0 (the kernel's nbd, nbd-client -b 4096 -C 1 and -C 4) in alternating
# rounds, brd as the ceiling, and /dev/nd0's two channels over one link and over two
# links shaped to the same rate (tc tbf).  Raw figures go to $ENBD_TEST_OUT/rounds.csv;
# the channel processes' work per request of /dev/nd0 (context switches, and
# system calls counted by perf stat) to work.csv: unlike throughput and
# latency, those hardly move with the host's load.  The resident memory
# (VmRSS, VmHWM) of each channel process and of enbd-server, idle and after
# the workloads, to memory.csv.  tools/bench-report turns them into the
# tables and the chart.
#
# Plan (written by tools/bench-vm into build/bench/plan, shell assignments):
# ROUNDS, RUNTIME (s per fio job, after a 1 s ramp), QUICK (1: fewer workloads),
# LINK_RATE (tbf rate of each link), SIZE_MB (export size), PROFILE (1: perf
# record -a -g during PROFILE_WORKLOAD on nd0 x1 and nbd0 x1, reports in
# perf-*.txt), PROFILE_WORKLOAD (a workload's name), SERVERS
# (of "enbd nbdkit": the servers measured against), BASELINE (another enbd-client,
# an absolute path the guest sees: /dev/nd0 through it is measured too, in the same
# rounds, as device "nd0base"), ONLY (the workloads to run, by name; empty: all),
# TWO_LINKS (0: skip two links ÷ one link).
# timeout: 5400
. "$ENBD_ROOT/tests/vm/guardian-lib.sh"
require_cmd fio jq nbd-client nbdkit tc

ROUNDS=3 RUNTIME=5 QUICK=0 LINK_RATE=100mbit SIZE_MB=256 PROFILE=0 PROFILE_WORKLOAD=randread32
SERVERS="enbd nbdkit" BASELINE="" ONLY="" TWO_LINKS=1
PLAN=$ENBD_ROOT/build/bench/plan
# shellcheck disable=SC1090 # written by tools/bench-vm
[ -f "$PLAN" ] && . "$PLAN"

# name:fio-rw:block-size:queue-depth
WORKLOADS="seqread:read:1M:16 seqwrite:write:1M:16 randread32:randread:4k:32
randwrite32:randwrite:4k:32 randread1:randread:4k:1 randwrite1:randwrite:4k:1"
ALL_WORKLOADS=$WORKLOADS
[ "$QUICK" = 1 ] && WORKLOADS="seqread:read:1M:16 randread32:randread:4k:32 randread1:randread:4k:1"
if [ -n "$ONLY" ]; then
	kept=""
	for w in $WORKLOADS; do
		[[ " $ONLY " != *" ${w%%:*} "* ]] || kept+=${kept:+ }$w
	done
	[ -n "$kept" ] || die "ONLY=\"$ONLY\" names none of the workloads"
	WORKLOADS=$kept
fi
[ -z "$BASELINE" ] || [ -x "$BASELINE" ] || die "BASELINE $BASELINE is not an executable"

mkdir -p "$ENBD_TEST_OUT"
CSV=$ENBD_TEST_OUT/rounds.csv
echo "round,server,device,connections,workload,mib_s,iops,clat_mean_us,clat_p99_us,lat_mean_us,lat_p99_us" >"$CSV"
NBDINFO=$ENBD_TEST_OUT/nbdinfo.txt
: >"$NBDINFO"
WORK=$ENBD_TEST_OUT/work.csv
echo "round,server,device,connections,workload,requests,switches_per_request,syscalls_per_request" >"$WORK"
MEMORY=$ENBD_TEST_OUT/memory.csv
echo "round,server,connections,process,channel,state,vm_rss_kib,vm_hwm_kib" >"$MEMORY"

say() { log "bench: $*"; }

# stalled WHAT: a job did not end: what the devices, the daemons and the
# sockets were doing, then fail the benchmark (rather than wait for the
# harness's timeout)
stalled() {
	say "$1; state follows"
	cat /proc/nbdinfo >&2
	# shellcheck disable=SC2046 # one PID per word
	where_waits $(pgrep -x enbd-client; pgrep -x enbd-server; pgrep -x fio)
	dmesg | tail -40 >&2
	die "$1"
}

# fio_job DEV WORKLOAD: one fio job; prints
# "mib_s,iops,clat_mean_us,clat_p99_us,lat_mean_us,lat_p99_us".  Compare
# latencies by lat, from submission to completion: the kernel's nbd sends a
# request within io_submit (fio's slat), so its clat leaves the sending out,
# while /dev/nd0's request is sent by the channel after io_submit returned.
fio_job() {
	local dev=$1 name rw bs depth json=$ENBD_TEST_TMP/fio.json fio_pid
	IFS=: read -r name rw bs depth <<<"$2"
	fio --name="$name" --filename="$dev" --rw="$rw" --bs="$bs" --iodepth="$depth" \
		--direct=1 --ioengine=libaio --size="${SIZE_MB}M" --time_based \
		--runtime="$RUNTIME" --ramp_time=1 --randrepeat=0 --norandommap --lat_percentiles=1 \
		--output-format=json --output="$json" >/dev/null 2>&1 &
	fio_pid=$!
	# Waited for apart from fio: a process stuck in I/O outlives any signal.
	timeout $((RUNTIME + 60)) tail --pid="$fio_pid" -f /dev/null ||
		stalled "fio $name on $dev still runs a minute after its time"
	wait "$fio_pid" || die "fio $name on $dev failed: $(cat "$json")"
	jq -r '.jobs[0] | (if .read.io_bytes > 0 then .read else .write end) |
		[(.bw / 1024 * 10 | round / 10), (.iops | round), (.clat_ns.mean / 100 | round / 10),
		 (.clat_ns.percentile["99.000000"] / 100 | round / 10), (.lat_ns.mean / 100 | round / 10),
		 (.lat_ns.percentile["99.000000"] / 100 | round / 10)] | map(tostring) | join(",")' "$json"
}

# nd0_pids N: the pids of /dev/nd0's N channel processes, comma-separated
nd0_pids() {
	local i pid list=""
	for ((i = 0; i < $1; i++)); do
		pid=$(nbd_slot 0 Pids: "$i") || die "no pid of channel $i: $(nbd_line 0 Pids:)"
		list+=${list:+,}$pid
	done
	echo "$list"
}

# ctx_switches PIDS: context switches (voluntary or not) of those processes
ctx_switches() {
	local pid sum=0
	for pid in ${1//,/ }; do
		sum=$((sum + $(awk '/ctxt_switches:/ { s += $2 } END { print s }' "/proc/$pid/status")))
	done
	echo "$sum"
}

# measure ROUND SERVER DEVICE CONNECTIONS: every workload on DEVICE, into the CSV;
# on nd0 (or nd0base: /dev/nd0 through the baseline's client) also its channels'
# work per request, into work.csv
measure() {
	local w fig pids req0 sw0 perf_pid sys
	for w in $WORKLOADS; do
		if [ "${3%base}" = nd0 ]; then
			pids=$(nd0_pids "$4")
			req0=$(nbd_total 0 Requested:)
			sw0=$(ctx_switches "$pids")
			perf stat -x, -e raw_syscalls:sys_enter -p "$pids" \
				-o "$ENBD_TEST_TMP/syscalls.txt" 2>/dev/null &
			perf_pid=$!
		fi
		fig=$(fio_job "/dev/${3%base}" "$w")
		echo "$1,$2,$3,$4,${w%%:*},$fig" >>"$CSV"
		say "round $1 $2 $3 x$4 ${w%%:*}: $fig (MiB/s,IOPS,clat mean us,p99 us,lat mean us,p99 us)"
		[ "${3%base}" = nd0 ] || continue
		kill -INT "$perf_pid" 2>/dev/null || true
		timeout 30 tail --pid="$perf_pid" -f /dev/null || stalled "perf stat did not end on SIGINT"
		wait "$perf_pid" 2>/dev/null || true	# SIGINT ends it: status 130
		sys=$(awk -F, '/raw_syscalls/ { print $1 }' "$ENBD_TEST_TMP/syscalls.txt" 2>/dev/null)
		awk -v r=$(($(nbd_total 0 Requested:) - req0)) -v s=$(($(ctx_switches "$pids") - sw0)) \
			-v c="${sys:-}" -v pre="$1,$2,$3,$4,${w%%:*}" 'BEGIN {
				printf "%s,%d,%.2f,%s\n", pre, r, s / r, c ~ /^[0-9]+$/ ? sprintf("%.2f", c / r) : "" }' \
			>>"$WORK"
	done
}

# vm_kib PID: "VmRSS,VmHWM" of that process, in KiB
vm_kib() {
	awk '/^VmRSS:/ { r = $2 } /^VmHWM:/ { h = $2 } END { print r "," h }' "/proc/$1/status" ||
		die "process $1 is gone"
}

# memory ROUND SERVER N STATE: the resident memory of nd0's N channel
# processes, and of enbd-server when it serves them, into memory.csv.  VmHWM
# is the peak since the process started: after the workloads, their peak.
memory() {
	local i pid
	for ((i = 0; i < $3; i++)); do
		pid=$(nbd_slot 0 Pids: "$i") || die "no pid of channel $i: $(nbd_line 0 Pids:)"
		echo "$1,$2,$3,enbd-client,$i,$4,$(vm_kib "$pid")" >>"$MEMORY"
	done
	[ "$2" != enbd-server ] || echo "$1,$2,$3,enbd-server,,$4,$(vm_kib "$ENBD_SERVER_PID")" >>"$MEMORY"
}

# fill DEV: write the whole export once, so that no read hits a hole a
# sparse server answers without touching memory
fill() {
	fio --name=fill --filename="$1" --rw=write --bs=1M --iodepth=16 --direct=1 \
		--ioengine=libaio --size="${SIZE_MB}M" >/dev/null 2>&1 || die "filling $1 failed"
}

# --- /dev/nd0 through enbd-client, /dev/nbd0 through nbd-client ------------
CLIENT_PID=""
nd0_stop() {
	[ -n "$CLIENT_PID" ] || return 0
	kill_and_wait "$CLIENT_PID" || die "enbd-client exited $? on SIGTERM"
	CLIENT_PID=""
}
on_exit nd0_stop

nd0_start() { # PORT N [CLIENT]
	"${3:-$ENBD_CLIENT}" -q -e disk -p "$1" -n "$2" 127.0.0.1 /dev/nd0 </dev/null >&2 &
	CLIENT_PID=$!
	wait_for -t 60 slots_attached 0 "$2" || die "enbd-client -n $2: channels did not attach"
	wait_for_disk /dev/nd0
}

nd0base_start() { nd0_start "$1" "$2" "$BASELINE"; }
nd0base_stop() { nd0_stop; }

nbd0_up() { [ "$(cat /sys/block/nbd0/size)" -gt 0 ]; }
nbd0_gone() { [ "$(cat /sys/block/nbd0/size)" -eq 0 ]; }

nbd0_start() { # PORT N
	nbd-client 127.0.0.1 "$1" /dev/nbd0 -N disk -b 4096 -C "$2" >/dev/null 2>&1 ||
		die "nbd-client -C $2 failed"
	wait_for -t 30 nbd0_up || die "/dev/nbd0 did not come up"
}

nbd0_stop() {
	nbd-client -d /dev/nbd0 >/dev/null 2>&1 || die "nbd-client -d failed"
	wait_for -t 30 nbd0_gone || die "/dev/nbd0 kept its size after nbd-client -d"
}

# one_config ROUND SERVER PORT DEVICE N
one_config() {
	local round=$1 server=$2 port=$3 dev=$4 n=$5
	"${dev}_start" "$port" "$n"
	[ "$dev" != nd0 ] || memory "$round" "$server" "$n" idle
	measure "$round" "$server" "$dev" "$n"
	[ "$dev" != nd0 ] || memory "$round" "$server" "$n" loaded
	if [ "${dev%base}" = nd0 ]; then
		printf '=== round %s %s %s x%s\n' "$round" "$server" "$dev" "$n" >>"$NBDINFO"
		cat /proc/nbdinfo >>"$NBDINFO"
	fi
	"${dev}_stop"
}

# --- set-up ----------------------------------------------------------------------
# The system calls of nd0's channels are counted with the raw_syscalls
# tracepoint, one perf stat per fio job.  Turning that tracepoint on and off
# patches the kernel's text, and under TCG doing so while the other vCPU
# enters a system call once left both vCPUs looping in
# syscall_trace_enter (a soft lockup, perf and fio stuck: make bench hung).
# One perf stat system-wide holds it on for the whole run instead, so the
# jobs' own ones only attach and detach; every device's jobs run with it.
perf stat -a -e raw_syscalls:sys_enter -o /dev/null -- sleep 1000000 &
TRACEPOINT_HOLDER=$!
on_exit kill "$TRACEPOINT_HOLDER"

load_enbd keepalive=10
modprobe nbd nbds_max=1 || die "no nbd module"
on_exit modprobe -r nbd
on_exit nbd-client -d /dev/nbd0
wait_for -t 10 test -b /dev/nbd0 || die "no /dev/nbd0"
modprobe brd rd_nr=1 rd_size=$((SIZE_MB * 1024)) || die "no brd module"
on_exit modprobe -r brd

declare -A PORT
start_enbd_server 0 -a 127.0.0.1 --name disk --memory "${SIZE_MB}M"
PORT[enbd]=$SERVER_PORT
ENBD_SERVER_PID=$SERVER_PID
[[ " $SERVERS " = *" nbdkit "* ]] && PORT[nbdkit]=$(start_nbdkit memory "${SIZE_MB}M")
say "plan: $ROUNDS rounds, $RUNTIME s per job, quick=$QUICK, workloads: ${WORKLOADS//$'\n'/ }"
say "kernel $(uname -r), $(nproc) CPUs, fio $(fio --version), nbdkit $(nbdkit --version | cut -d' ' -f2)"

fill /dev/ram0
for server in $SERVERS; do
	nbd0_start "${PORT[$server]}" 1
	fill /dev/nbd0
	nbd0_stop
done
say "exports filled; schedulers: nd0 $(cat /sys/block/nd0/queue/scheduler), nbd0 $(cat /sys/block/nbd0/queue/scheduler)"

# Within a round each server sees the four configurations in an order that
# turns by one every round, so that none always runs first or last.
CONFIGS=("nd0 1" "nbd0 1" "nd0 4" "nbd0 4")
[ -z "$BASELINE" ] || CONFIGS=("nd0 1" "nd0base 1" "nbd0 1" "nd0 4" "nd0base 4" "nbd0 4")
for ((round = 1; round <= ROUNDS; round++)); do
	measure "$round" brd ram0 1
	for server in $SERVERS; do
		for ((i = 0; i < ${#CONFIGS[@]}; i++)); do
			# shellcheck disable=SC2086 # "DEVICE N"
			one_config "$round" "$server-server" "${PORT[$server]}" \
				${CONFIGS[(i + round - 1) % ${#CONFIGS[@]}]}
		done
	done
done

# --- profile (PROFILE=1) -------------------------------------------------------------
# PROFILE_WORKLOAD on nd0 x1 and on nbd0 x1 against the first server, alternating, twice
# each: where the CPU time goes on either, by symbol and by process, side by side.
# profile DEVICE TAG WORKLOAD
profile() {
	local name rw bs depth data=$ENBD_TEST_TMP/perf-$2.data
	IFS=: read -r name rw bs depth <<<"$3"
	perf record -a -g -F 999 -o "$data" -- \
		fio --name="$name" --filename="$1" --rw="$rw" --bs="$bs" --iodepth="$depth" \
		--direct=1 --ioengine=libaio --size="${SIZE_MB}M" --time_based \
		--runtime="$RUNTIME" --output="$ENBD_TEST_OUT/perf-fio-$2.txt" >/dev/null 2>&1 ||
		die "perf record of $name on $1 failed"
	perf report -i "$data" --stdio --no-children --sort sym --percent-limit 0.3 \
		-g none >"$ENBD_TEST_OUT/perf-$2.txt" 2>/dev/null
	perf report -i "$data" --stdio --no-children --sort comm -g none \
		>"$ENBD_TEST_OUT/perf-$2-by-comm.txt" 2>/dev/null
	rm -f "$data"
}
if [ "$PROFILE" = 1 ] && command -v perf >/dev/null; then
	job=""
	for w in $ALL_WORKLOADS; do
		[ "${w%%:*}" != "$PROFILE_WORKLOAD" ] || job=$w
	done
	[ -n "$job" ] || die "PROFILE_WORKLOAD=$PROFILE_WORKLOAD names no workload"
	server=${SERVERS%% *}
	for r in 1 2; do
		nd0_start "${PORT[$server]}" 1
		profile /dev/nd0 "nd0-$r" "$job"
		nd0_stop
		nbd0_start "${PORT[$server]}" 1
		profile /dev/nbd0 "nbd0-$r" "$job"
		nbd0_stop
	done
	say "profile of $PROFILE_WORKLOAD on nd0 and nbd0 ($server-server, 1 connection) in perf-*.txt"
fi

# --- two links ÷ one link ---------------------------------------------------------------
# Two channels of /dev/nd0 to enbd-server in netns srv, both over link 1 or one
# over each link; each link shaped to LINK_RATE at both ends.
two_links() {
	local round i name hosts binds fig
	netns_two_links srv
	for i in 1 2; do
		tc qdisc add dev "nic$i" root tbf rate "$LINK_RATE" burst 256kb latency 100ms || die "tc tbf"
		tc -n srv qdisc add dev "nic$i" root tbf rate "$LINK_RATE" burst 256kb latency 100ms || die "tc tbf"
	done
	start_enbd_server --netns srv 0 --name disk --memory "${SIZE_MB}M"
	local -a links=("1link 10.1.0.2 -b 10.1.0.1" "2links 10.1.0.2,10.2.0.2 -b 10.1.0.1 -b 10.2.0.1")
	for ((round = 1; round <= ROUNDS; round++)); do
		for ((i = 0; i < 2; i++)); do
			read -r name hosts binds <<<"${links[(i + round - 1) % 2]}"
			start_guardian --client "/dev/nd0 $hosts $SERVER_PORT -n 2 -e disk $binds"
			wait_for -t 60 slots_attached 0 2 || die "the two channels did not attach ($name)"
			wait_for_disk /dev/nd0
			[ "$round" = 1 ] && [ "$i" = 0 ] && fill /dev/nd0
			fig=$(fio_job /dev/nd0 seqread:read:1M:16)
			echo "$round,enbd-server-tbf-$LINK_RATE,nd0-$name,2,seqread,$fig" >>"$CSV"
			say "round $round two channels over $name ($LINK_RATE each): $fig"
			stop_guardian TERM || die "enbd-guardian exited $? on SIGTERM"
		done
	done
}
[ "$TWO_LINKS" = 0 ] || two_links
say "done"
