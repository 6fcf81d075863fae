# shellcheck shell=bash disable=SC2034 # globals set here are for the tests
# The test bed of the fault matrix (tests/vm/tests/fault-*.sh), on top of
# guardian-lib.sh and lib.sh:
#
#   this namespace: the client                 namespace "srv": the server host
#   ext4 on /dev/md0 = RAID1 of nd0 and nd1     enbd-server A: a.img, for nd0
#   one enbd-guardian: nd0 and nd1 with two     enbd-server B: b.img, for nd1
#   channels each, channel 0 over link 1 and
#   channel 1 over link 2
#     nic1 10.1.0.1 ======== link 1 ======== 10.1.0.2 nic1
#     nic2 10.2.0.1 ======== link 2 ======== 10.2.0.2 nic2
#
#   fault_setup [OPTIONS...]  all of the above; OPTIONS go on both devices'
#                             guardian lines (default: $FAULT_OPTS); then
#                             fio_verify_start on a file in the filesystem
#                             (with $FAULT_FIO_OPTS), and returns once I/O
#                             flows: the fault may begin
#   fault_server A|B [PORT]   start server A or B (again) on its backing file:
#                             SERVER_A_PID/PORT/LOG or SERVER_B_PID/PORT/LOG
#   fault_io_flows            wait until both devices carried 100 more requests
#   fault_wait_reconnected DEV  wait until both channels of DEV reconnected
#                             since fault_setup and are attached again
#   fault_check               once the fault is over: stop fio, which must have
#                             seen no error, logs the stall figure, then
#                             fault_check_stack
#   fault_check_stack         md0 [UU] with a clean check, no request errored,
#                             no I/O error in the kernel log, e2fsck clean;
#                             logs the counters
#   nbd_read                  /proc/nbdinfo into NBD (below), starting no program
#   since DEV NAME [SLOT]     a counter's growth since fault_setup ended (or
#                             the last fault_run began)
#   grew DEV NAME [SLOT]      it grew
#   attached DEV              both channels of the device are up
#
# Faults one after the other on one stack, each under its own fio so that
# fio's longest I/O is that fault's stall (fault-matrix-defaults.sh, and
# bench-failover.sh on its own stack):
#   fault_run DEV FILE SIZE LABEL CMD...
#                             fio_verify_start on FILE (SIZE), wait until
#                             nd$DEV carried 150 more requests (or keep the
#                             fio fault_setup started); NBD0 := the counters;
#                             "fault LABEL"
#                             marked in the kernel and guardian logs; CMD
#                             (the fault, returns once it is over); 3 s more
#                             of I/O, fio stopped: FAULT_FIO_OK (1 if fio saw
#                             no error and verified blocks), FIO_MAX_MS (the
#                             stall) and the other FIO_ figures; NBD the
#                             counters after
#   fault_back DEV [N]        wait until DEV has N (2) channels attached
#   the faults (CMD above; they wait for the devices in FAULT_DEVS to have
#   their channels back, unless said otherwise):
#   fault_link_cut LINK SECS  LINK down for SECS, then up again
#   fault_link_dead LINK SECS LINK down for SECS and left down: the caller
#                             brings it up (link_up) once fio stopped
#   fault_links_cut SECS      both links down for SECS, then up again
#   fault_kill_channel DEV SLOT  kill -9 of that channel's daemon; returns
#                             once the guardian replaced it
#   fault_server_restart A|B  the server killed, started again 2 s later on
#                             the same file and port
#   fault_server_frozen A|B DEV  the server SIGSTOPped until DEV has no channel
#                             left (given up), 3 s more, then SIGCONT
. "$ENBD_ROOT/tests/vm/guardian-lib.sh"
require_cmd mdadm fio jq mkfs.ext4 e2fsck ss nsenter

# Aging 3 s: a connection that stops answering is given up after 3-4 s (the
# kernel ages claims once a second); shorter, a busy but healthy channel
# under TCG may now and then count as stalled too.  Outage policy as for a
# mirror member: fail after 45 s without a channel, longer than any fault
# here lasts (the longest, 20 s with both links down, plus the reconnect
# backoff of up to 5 s), so md must never see an error.
FAULT_OPTS="--aging 3 --outage fail:45000"
FAULT_FIO_OPTS=""	# more fio options
FAULT_NS=srv
FAULT_MNT=$ENBD_TEST_TMP/mnt
SERVER_A_PID="" SERVER_A_PORT="" SERVER_A_LOG="" SERVER_B_PID="" SERVER_B_PORT="" SERVER_B_LOG=""
FAULT_DEVS="0 1"	# the devices whose channels a fault waits for to come back
FAULT_FIO_OK=""

# NBD["DEV NAME"]: the first word after "[DEV] NAME:" in /proc/nbdinfo (a
# counter's total); NBD["DEV NAME SLOT"]: that slot's value in parentheses.
# NBD0: the same when fault_setup ended.  Polling them costs no program,
# which matters under TCG with fio running.
declare -A NBD=() NBD0=()
_NBD_LINE='^\[([0-9]+)\] ([A-Za-z]+):[[:space:]]*([^[:space:]]*)(.*)$'
_NBD_SLOT='^[^(]*\(([^)]*)\)(.*)$'
nbd_read() {
	local line dev name rest i
	local -a lines
	# At once: `read` seeks back after each line, and a seq_file seeked
	# back is generated afresh, so lines would mix two states.
	mapfile -t lines </proc/nbdinfo
	NBD=()
	for line in "${lines[@]}"; do
		[[ $line =~ $_NBD_LINE ]] || continue
		dev=${BASH_REMATCH[1]} name=${BASH_REMATCH[2]}
		NBD["$dev $name"]=${BASH_REMATCH[3]}
		rest=${BASH_REMATCH[3]}${BASH_REMATCH[4]} i=0
		while [[ $rest =~ $_NBD_SLOT ]]; do
			NBD["$dev $name $i"]=${BASH_REMATCH[1]}
			rest=${BASH_REMATCH[2]} i=$((i + 1))
		done
	done
}

since() { # DEV NAME [SLOT]: from the last nbd_read
	local k="$*"
	echo $((${NBD[$k]:-0} - ${NBD0[$k]:-0}))
}

grew() { # DEV NAME [SLOT]: the counter grew since fault_setup (last nbd_read)
	local k="$*"
	[ "${NBD[$k]:-0}" -gt "${NBD0[$k]:-0}" ]
}

attached() { # DEV
	[ "${NBD["$1 Sockets"]:-0}" = 2 ]
}

fault_server() { # A|B [PORT]
	local img=$ENBD_TEST_TMP/${1,,}.img
	[ -e "$img" ] || truncate -s 64M "$img"
	start_enbd_server --netns "$FAULT_NS" "${2:-0}" "$img"
	printf -v "SERVER_$1_PID" %s "$SERVER_PID"
	printf -v "SERVER_$1_PORT" %s "$SERVER_PORT"
	printf -v "SERVER_$1_LOG" %s "$SERVER_LOG"
}

# _fault_routes: each device has one connection over each link
_fault_routes() {
	local i
	for i in 1 2; do
		[ "$(ss -Htn state established src "10.$i.0.1" dst "10.$i.0.2" | wc -l)" = 2 ] || return 1
	done
}

_fault_attached() {
	nbd_read
	attached 0 && attached 1
}

# _fault_unstick: on a failure, before the filesystem and md0 go (registered
# after them, so run before them): stop fio and let the guardian fail what
# waits for a channel, so that unmounting and stopping md0 cannot hang.
_fault_unstick() {
	[ -n "$FIO_PID" ] && _enbd_kill9 "$FIO_PID"
	[ -e /sys/block/md0/md ] || return 0
	proc_gone "$GUARDIAN_PID" || kill_and_wait "$GUARDIAN_PID" USR2 20 || true
}

fault_setup() {
	local dev k
	# shellcheck disable=SC2086 # FAULT_OPTS is a list of words
	[ $# -gt 0 ] || set -- $FAULT_OPTS
	# The demo loads the module its own way (modprobe).
	grep -q '^enbd ' /proc/modules || load_enbd
	netns_two_links "$FAULT_NS"
	fault_server A
	fault_server B
	start_guardian \
		--client "/dev/nd0 10.1.0.2,10.2.0.2 $SERVER_A_PORT -n 2 -b 10.1.0.1 -b 10.2.0.1 $*" \
		--client "/dev/nd1 10.1.0.2,10.2.0.2 $SERVER_B_PORT -n 2 -b 10.1.0.1 -b 10.2.0.1 $*"
	for dev in 0 1; do
		wait_for_disk "/dev/nd$dev"
	done
	wait_for -t 30 _fault_attached || die "not both channels of each device attached"
	wait_for -t 10 _fault_routes || die "not one connection per device and link: $(ss -Htn)"
	md_mirror_create /dev/md0 /dev/nd0 /dev/nd1
	mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 /dev/md0 || die "mkfs.ext4 /dev/md0"
	mkdir -p "$FAULT_MNT"
	mount /dev/md0 "$FAULT_MNT" || die "mount /dev/md0"
	on_exit umount_if_mounted "$FAULT_MNT"
	on_exit _fault_unstick
	kmsg_mark
	nbd_read
	for k in "${!NBD[@]}"; do
		NBD0[$k]=${NBD[$k]}
	done
	log "set up: ext4 on md0 = RAID1(nd0, nd1), each over links 1 and 2 ($*)"
	# shellcheck disable=SC2086 # FAULT_FIO_OPTS is a list of words
	fio_verify_start "$FAULT_MNT/fio.dat" 24M 600 $FAULT_FIO_OPTS
	fault_io_flows
}

_fault_requested_over() { # COUNT0 COUNT1
	nbd_read
	[ "${NBD[0 Requested]}" -gt "$1" ] && [ "${NBD[1 Requested]}" -gt "$2" ]
}

fault_io_flows() {
	nbd_read
	wait_for -t 60 _fault_requested_over "$((NBD[0 Requested] + 100))" "$((NBD[1 Requested] + 100))" ||
		die "no I/O reaches the devices: $(nbd_line 0 Requested:) / $(nbd_line 1 Requested:)"
	proc_gone "$FIO_PID" && die "fio ended: $(cat "$FIO_OUT")"
	log "I/O flows"
}

_fault_reconnected() { # DEV
	nbd_read
	grew "$1" Reconnects 0 && grew "$1" Reconnects 1 && attached "$1"
}

fault_wait_reconnected() { # DEV
	wait_for -t 30 _fault_reconnected "$1" ||
		die "nd$1's channels did not reconnect: $(nbd_line "$1" Reconnects:)"
	log "both channels of nd$1 reconnected"
}

nbd_counters() {
	grep -E '^\[[01]\] (Sockets|Requested|Errored|Discarded|Resubmitted|Reconnects|Restarts|Journal)' \
		/proc/nbdinfo >&2 || true
}

fault_check() {
	proc_gone "$FIO_PID" && die "fio ended before the fault was over"
	fio_verify_stop || die "fio failed: $(cat "$FIO_OUT")"
	log "figure: $ENBD_TEST_NAME: longest I/O stall $FIO_MAX_MS ms ($FIO_WRITES writes, $FIO_READS verified reads)"
	fault_check_stack
}

fault_check_stack() {
	local bad dev
	md_check_clean /dev/md0
	nbd_read
	for dev in 0 1; do
		[ "${NBD[$dev Errored]}" = 0 ] || die "nd$dev: requests errored: $(nbd_line "$dev" Errored:)"
	done
	bad=$(kernel_log_since_mark | grep -E 'I/O error|EXT4-fs (error|warning)|raid1.*(ailure|isabling|redirect|error)|failing I/O|no channel for') &&
		die "kernel log: $bad"
	umount "$FAULT_MNT" || die "umount"
	e2fsck -fn /dev/md0 >&2 || die "e2fsck found problems on md0"
	md_stop /dev/md0 || die "mdadm --stop md0"
	nbd_counters
}

# --- faults one after the other (see the top) ------------------------------

_fault_channels_up() { # DEV N
	nbd_read
	[ "${NBD["$1 Sockets"]:-0}" = "$2" ]
}

fault_back() { # DEV [N]
	wait_for -t 60 _fault_channels_up "$1" "${2:-2}" ||
		die "nd$1's channels did not come back: $(nbd_line "$1" Sockets:)"
}

_fault_all_back() {
	local dev
	for dev in $FAULT_DEVS; do
		fault_back "$dev"
	done
}

_fault_carried() { # DEV COUNT: DEV carried more requests than COUNT
	nbd_read
	[ "${NBD["$1 Requested"]}" -gt "$2" ]
}

fault_run() { # DEV FILE SIZE LABEL CMD...
	local dev=$1 file=$2 size=$3 label=$4 k
	shift 4
	if [ -z "$FIO_PID" ]; then
		nbd_read
		k=${NBD["$dev Requested"]}
		fio_verify_start "$file" "$size" 600
		wait_for -t 60 _fault_carried "$dev" "$((k + 150))" || die "no I/O reaches nd$dev"
		proc_gone "$FIO_PID" && die "fio ended: $(cat "$FIO_OUT")"
	fi
	nbd_read
	NBD0=()
	for k in "${!NBD[@]}"; do
		NBD0[$k]=${NBD[$k]}
	done
	echo "enbd-test: fault $label" >/dev/kmsg
	glog_mark "fault $label"
	log "fault $label"
	"$@"
	# A few seconds of I/O after the fault: fio's longest I/O ends there.
	nap 3
	FAULT_FIO_OK=1
	fio_verify_stop || FAULT_FIO_OK=0
	[ "$FAULT_FIO_OK" = 1 ] || log "fio: $(tail -n 5 "$FIO_OUT")"
	FIO_PID=""	# reaped: its pid may be anyone's now
	nbd_read
}

fault_link_cut() { # LINK SECONDS
	link_down "$1"
	nap "$2"
	link_up "$1"
	_fault_all_back
}

fault_link_dead() { # LINK SECONDS
	link_down "$1"
	nap "$2"
}

fault_links_cut() { # SECONDS
	link_down 1
	link_down 2
	nap "$1"
	link_up 1
	link_up 2
	_fault_all_back
}

_fault_replaced() { # DEV SLOT OLD-PID
	nbd_read
	local pid=${NBD["$1 Pids $2"]:-0}
	[ "$pid" != 0 ] && [ "$pid" != "$3" ] && _fault_channels_up "$1" 2
}

fault_kill_channel() { # DEV SLOT
	nbd_read
	local old=${NBD["$1 Pids $2"]}
	kill -KILL "$old"
	wait_for -t 30 _fault_replaced "$1" "$2" "$old" ||
		die "nd$1 channel $2 was not replaced: $(nbd_line "$1" Pids:)"
}

fault_server_restart() { # A|B
	local pid=SERVER_$1_PID port=SERVER_$1_PORT
	kill_and_wait "${!pid}" KILL || true
	nap 2
	fault_server "$1" "${!port}"
	_fault_all_back
}

_fault_thaw() {
	kill -CONT "$SERVER_A_PID" "$SERVER_B_PID" 2>/dev/null || true
}

_fault_no_channel() { # DEV
	nbd_read
	[ "${NBD["$1 Sockets"]}" = 0 ]
}

fault_server_frozen() { # A|B DEV
	local pid=SERVER_$1_PID
	[ -n "${_FAULT_THAW:-}" ] || on_exit _fault_thaw
	_FAULT_THAW=1
	kill -STOP "${!pid}"
	wait_for -t 60 _fault_no_channel "$2" || die "nd$2's channels were not given up: $(nbd_line "$2" Sockets:)"
	nap 3
	kill -CONT "${!pid}"
	_fault_all_back
}
