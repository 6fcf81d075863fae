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
