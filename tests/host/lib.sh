# The frame every host test shares (sourced by server-lib.sh and
# client-lib.sh; POSIX sh).
#
#   TOP, ENBD_BUILD        the checkout; the build directory, absolute
#                          (ENBD_BUILD=build-san: the ASan/UBSan binaries)
#   TEST_NAME, PYTHON      the test's name; Debian's python3 (PATH puts
#                          /usr/bin first: python3-libnbd, nbdsh)
#   fail MSG / skip MSG    end the test (exit 1 / exit 77)
#   need PROGRAM...        skip unless every PROGRAM is installed
#   wait_until SECS CMD... poll CMD (every 20 ms) until it succeeds; 1 on timeout
#   $T                     a scratch directory removed on exit
#   $BG_PIDS               add background processes here: on exit each still
#                          running gets SIGTERM and is waited for
# When a test fails, the last lines of every $T/*.log are shown.
# Exit codes: 0 pass, 77 skip, anything else fail.

set -eu
# Sourced once, however many *-lib.sh a test combines.
[ -z "${_ENBD_LIB_SOURCED:-}" ] || return 0
_ENBD_LIB_SOURCED=1

TOP=$(cd "$(dirname "$0")/../.." && pwd)
ENBD_BUILD=${ENBD_BUILD:-build}
case $ENBD_BUILD in /*) ;; *) ENBD_BUILD=$TOP/$ENBD_BUILD ;; esac
TEST_NAME=$(basename "$0" .sh)
export PATH=/usr/bin:/usr/sbin:/bin:/sbin:$PATH
PYTHON=/usr/bin/python3
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:exitcode=66}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:exitcode=66}

fail() {
	echo "FAIL $TEST_NAME: $*" >&2
	exit 1
}
skip() {
	echo "SKIP $TEST_NAME: $*" >&2
	exit 77
}
need() {
	for p in "$@"; do
		command -v "$p" >/dev/null 2>&1 || skip "$p is not installed"
	done
}

wait_until() {
	_n=$(($1 * 50))
	shift
	while ! "$@"; do
		_n=$((_n - 1))
		[ $_n -gt 0 ] || return 1
		sleep 0.02
	done
}

T=$(mktemp -d "${TMPDIR:-/tmp}/enbd-$TEST_NAME.XXXXXX")
BG_PIDS=""

_lib_cleanup() {
	rc=$?
	set +e
	for pid in $BG_PIDS; do
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
		fi
	done
	if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
		for f in "$T"/*.log; do
			[ -s "$f" ] || continue
			echo "--- $f (last lines)" >&2
			tail -n 30 "$f" >&2
		done
	fi
	rm -rf "$T"
	exit $rc
}
trap _lib_cleanup EXIT
trap 'exit 130' INT TERM
