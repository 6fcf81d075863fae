# shellcheck shell=bash disable=SC2034 # globals set here are for the tests
# Helpers for the enbd-guardian VM tests (tests/vm/tests/guardian-*.sh), on
# top of tests/vm/lib.sh (which has start_enbd_server):
#
#   start_guardian ARGS...    enbd-guardian -f ARGS in the background, its log
#                             in $GUARDIAN_LOG: GUARDIAN_PID; on exit SIGUSR2
#                             (fails I/O left waiting, so that rmmod works)
#   stop_guardian [SIGNAL]    send SIGNAL (TERM), wait; returns its exit status
#   nbd_line N NAME           the "[N] NAME" line of /proc/nbdinfo, after the name
#   nbd_total N NAME          a per-channel counter's total
#   nbd_slot N NAME SLOT      one channel's value, e.g. nbd_slot 0 Pids: 1
#   slot_pid_is N SLOT PID    wait_for helpers: slot SLOT's pid is / is not PID
#   slot_pid_not N SLOT PID   (and non-zero)
#   guardian_logged REGEX     the guardian's log has a line matching REGEX
#   stamp_ms ISO-TIME         a log line's time stamp in ms since midnight
#   glog_ms REGEX             that of the first guardian log line matching REGEX
#   glog_mark TEXT            a stamped line "test: TEXT" in the guardian's log
#   glog_ms_after MARK RE N   the stamp of the Nth line matching RE after that mark
#   mux_start [ARGS...]       /dev/nd0 with two channels, channel 0 over link 1
#                             and channel 1 over link 2 (netns_two_links), on
#                             enbd-server in netns srv with a 128 MiB file;
#                             ARGS go to enbd-guardian
#   mux_fio SLOW-LINK DEPTH   fio (random 16 KiB reads and writes, 8 s, queue
#                             depth DEPTH) with link SLOW-LINK shaped to 4
#                             Mbit/s at both ends: sets SLOW and FAST, the
#                             requests the channel on the slow / the fast link
#                             carried meanwhile, and FAST_PCT, the fast one's share
. "$ENBD_ROOT/tests/vm/lib.sh"

GUARDIAN=$ENBD_ROOT/$ENBD_BUILD/enbd-guardian
GUARDIAN_LOG=$ENBD_TEST_TMP/guardian.log
GUARDIAN_PID=""
: >"$GUARDIAN_LOG"

_guardian_dump_log() {
	echo "--- enbd-guardian log ---" >&2
	cat "$GUARDIAN_LOG" >&2
	echo "--- /proc/nbdinfo ---" >&2
	cat /proc/nbdinfo >&2 2>/dev/null || true
}
on_exit _guardian_dump_log
# Token files of a test must not outlive it.
on_exit rm -rf /run/enbd

start_guardian() {
	[ -x "$GUARDIAN" ] || die "$GUARDIAN not built"
	"$GUARDIAN" -f ${GUARDIAN_X:+-x "$GUARDIAN_X"} "$@" </dev/null >>"$GUARDIAN_LOG" 2>&1 &
	GUARDIAN_PID=$!
	on_exit kill_and_wait "$GUARDIAN_PID" USR2
	log "started enbd-guardian -f $* (pid $GUARDIAN_PID)"
}

stop_guardian() {
	local rc=0
	kill_and_wait "$GUARDIAN_PID" "${1:-TERM}" 40 || rc=$?
	return "$rc"
}

nbd_line() {
	local line
	line=$(grep -m1 "^\[$1\] $2" /proc/nbdinfo) || return 1
	echo "${line#*"$2"}"
}

nbd_total() {
	local v
	v=$(nbd_line "$1" "$2") || return 1
	read -r v _ <<<"$v"
	echo "$v"
}

nbd_slot() {
	local v
	v=$(nbd_line "$1" "$2") || return 1
	v=$(grep -o '([^)]*)' <<<"$v" | sed -n "$(($3 + 1))s/[()]//gp")
	[ -n "$v" ] || return 1
	echo "$v"
}

slot_pid_is() {
	[ "$(nbd_slot "$1" Pids: "$2" 2>/dev/null)" = "$3" ]
}

slot_pid_not() {
	local p
	p=$(nbd_slot "$1" Pids: "$2" 2>/dev/null) || return 1
	[ "$p" != 0 ] && [ "$p" != "$3" ]
}

guardian_logged() {
	grep -Eq "$1" "$GUARDIAN_LOG"
}

stamp_ms() {
	local t=${1#*T}
	t=${t%Z}
	awk -v t="$t" 'BEGIN { split(t, a, ":"); printf "%d\n", ((a[1] * 60 + a[2]) * 60 + a[3]) * 1000 }'
}

glog_ms() {
	local line
	line=$(grep -Em1 "$1" "$GUARDIAN_LOG") || return 1
	stamp_ms "${line%% *}"
}

# slots_attached N COUNT: COUNT channels of device N are up
slots_attached() {
	local v
	v=$(nbd_total "$1" Sockets: 2>/dev/null) || return 1
	[ "$v" -ge "$2" ]
}

mux_start() {
	require_cmd tc fio
	netns_two_links srv
	truncate -s 128M "$ENBD_TEST_TMP/disk.img"
	start_enbd_server --netns srv 0 "$ENBD_TEST_TMP/disk.img"
	start_guardian "$@" --client "/dev/nd0 10.1.0.2,10.2.0.2 $SERVER_PORT -n 2 -b 10.1.0.1 -b 10.2.0.1"
	wait_for_disk /dev/nd0
	wait_for -t 30 slots_attached 0 2 || die "the two channels did not attach"
}

_mux_shape() { # add|del LINK: tbf at both ends of the link
	if [ "$1" = add ]; then
		tc qdisc add dev "nic$2" root tbf rate 4mbit burst 16kb latency 400ms || die "tc tbf"
		tc -n srv qdisc add dev "nic$2" root tbf rate 4mbit burst 16kb latency 400ms || die "tc tbf"
	else
		tc qdisc del dev "nic$2" root
		tc -n srv qdisc del dev "nic$2" root
	fi
}

mux_fio() {
	local slow=$1 fast=$((3 - $1)) s0 f0
	_mux_shape add "$slow"
	s0=$(nbd_slot 0 Requested: $((slow - 1)))
	f0=$(nbd_slot 0 Requested: $((fast - 1)))
	fio --name=mux --filename=/dev/nd0 --rw=randrw --bs=16k --direct=1 --ioengine=libaio \
		--iodepth="$2" --size=96M --time_based --runtime=8 \
		--output="$ENBD_TEST_TMP/fio.$slow.$2.out" ||
		die "fio failed: $(cat "$ENBD_TEST_TMP/fio.$slow.$2.out")"
	_mux_shape del "$slow"
	SLOW=$(($(nbd_slot 0 Requested: $((slow - 1))) - s0))
	FAST=$(($(nbd_slot 0 Requested: $((fast - 1))) - f0))
	FAST_PCT=$((100 * FAST / (FAST + SLOW)))
	log "figure: $ENBD_TEST_NAME: queue depth $2, link $slow slow: channel $((slow - 1)) (slow) carried $SLOW requests, channel $((fast - 1)) (fast) $FAST ($FAST_PCT %)"
}

# glog_mark TEXT: a line "STAMP test: TEXT" in the guardian's log, stamped
# like the daemons' lines, for glog_ms_after
glog_mark() {
	echo "$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ) test: $1" >>"$GUARDIAN_LOG"
}

# glog_ms_after MARK REGEX N: the time stamp (ms since midnight) of the Nth
# guardian log line matching REGEX after the line "test: MARK"
glog_ms_after() {
	local line
	line=$(awk -v m="test: $1" -v re="$2" -v n="$3" '
		index($0, m) { seen = 1; next }
		seen && $0 ~ re && ++k == n { print; exit }' "$GUARDIAN_LOG")
	[ -n "$line" ] || return 1
	stamp_ms "${line%% *}"
}
