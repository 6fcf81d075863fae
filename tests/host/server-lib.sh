# Shared by tests/host/server-*.sh (sourced, not run).
#
#   start_server ARGS...   start enbd-server on a free port; sets PORT, URI,
#                          SERVER_PID, SERVER_LOG (several may run at once)
#   stop_server [PID]      SIGTERM, wait, fail on a bad exit or sanitizer report
#   fail MSG / skip MSG    end the test (exit 1 / exit 77)
#   need PROGRAM...        skip unless every PROGRAM is installed
#   $T                     a scratch directory removed on exit
#
# ENBD_BUILD chooses the build directory (build, or build-san for the
# ASan/UBSan binaries).  Exit codes: 0 pass, 77 skip, anything else fail.

set -eu

TOP=$(cd "$(dirname "$0")/../.." && pwd)
ENBD_BUILD=${ENBD_BUILD:-build}
case $ENBD_BUILD in /*) ;; *) ENBD_BUILD=$TOP/$ENBD_BUILD ;; esac
SERVER=$ENBD_BUILD/enbd-server
TEST_NAME=$(basename "$0" .sh)
# Debian's python3 (python3-libnbd) and nbdsh, not another python on PATH.
export PATH=/usr/bin:/usr/sbin:/bin:/sbin:$PATH
PYTHON=/usr/bin/python3
export PYTHONPATH=$TOP/tests/host${PYTHONPATH:+:$PYTHONPATH}	# server_raw.py
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=66}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:exitcode=66}

fail() { echo "FAIL $TEST_NAME: $*" >&2; exit 1; }
skip() { echo "SKIP $TEST_NAME: $*" >&2; exit 77; }
need() {
	for p in "$@"; do
		command -v "$p" >/dev/null 2>&1 || skip "$p is not installed"
	done
}
need_python_nbd() {
	$PYTHON -c 'import nbd' 2>/dev/null || skip "python3-libnbd is not installed"
}

[ -x "$SERVER" ] || fail "$SERVER not built (run make, or make SAN=1 with ENBD_BUILD=build-san)"

T=$(mktemp -d "${TMPDIR:-/tmp}/enbd-$TEST_NAME.XXXXXX")
SERVER_PIDS=""
SERVER_N=0

# Every server still running is stopped (and checked) on the way out.
cleanup() {
	rc=$?
	set +e
	for pid in $SERVER_PIDS; do
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
		fi
	done
	if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
		for log in "$T"/server.*.log; do
			[ -s "$log" ] || continue
			echo "--- $log (last lines)" >&2
			tail -n 30 "$log" >&2
		done
	fi
	rm -rf "$T"
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start_server ARGS...: start and wait until it listens (it writes the
# port file only once its socket accepts connections).
start_server() {
	SERVER_N=$((SERVER_N + 1))
	SERVER_LOG=$T/server.$SERVER_N.log
	portfile=$T/port.$SERVER_N
	"$SERVER" -p 0 --port-file "$portfile" "$@" 2>"$SERVER_LOG" &
	SERVER_PID=$!
	SERVER_PIDS="$SERVER_PIDS $SERVER_PID"
	i=0
	while [ ! -s "$portfile" ]; do
		kill -0 "$SERVER_PID" 2>/dev/null || {
			cat "$SERVER_LOG" >&2
			fail "enbd-server $* did not start"
		}
		i=$((i + 1))
		[ $i -lt 1000 ] || fail "enbd-server $* did not listen within 10 s"
		sleep 0.01
	done
	PORT=$(cat "$portfile")
	URI=nbd://localhost:$PORT
}

# start_server_expect_failure ARGS...: the server must refuse to start.
start_server_expect_failure() {
	SERVER_N=$((SERVER_N + 1))
	SERVER_LOG=$T/server.$SERVER_N.log
	if "$SERVER" -p 0 "$@" 2>"$SERVER_LOG"; then
		fail "enbd-server $* started"
	fi
}

# A sanitizer report in a server log fails the test.
check_log() {
	if grep -E "ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|ThreadSanitizer" "$1" >&2
	then
		fail "sanitizer report in $1"
	fi
}

# stop_server [PID]: clean shutdown must exit 0 with nothing leaked.
stop_server() {
	pid=${1:-$SERVER_PID}
	kill -TERM "$pid" 2>/dev/null || fail "server $pid is not running"
	rc=0
	wait "$pid" || rc=$?
	[ $rc -eq 0 ] || fail "server $pid exited with status $rc"
	for log in "$T"/server.*.log; do
		check_log "$log"
	done
}

# Assert the server is still alive.
server_alive() {
	kill -0 "${1:-$SERVER_PID}" 2>/dev/null || fail "the server died"
}

# Run a Python script with libnbd: py SCRIPT ARGS...  (script on stdin)
py() {
	$PYTHON - "$@"
}

# nbdsh_run URI: run the Python script on stdin in nbdsh, with the handle h
# connected to URI and base:allocation requested.
nbdsh_run() {
	need nbdsh
	script=$(cat)
	nbdsh --base-allocation -u "$1" -c "$script"
}
