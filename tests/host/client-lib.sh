# Shared by tests/host/client-*.sh (sourced, not run).
#
#   start_nbdkit ARGS...      nbdkit -f ARGS on a free port: NBDKIT_PORT, NBDKIT_PID
#   start_fake SIZE MODE [N]  tests/host/client_fake_server.py: FAKE_PORT, FAKE_PID
#   start_qemu_nbd ARGS...    qemu-nbd -t ARGS on a free port: QEMU_NBD_PORT
#   probe_refused PATTERN ARGS...  --probe ARGS exits 1 with an error: line
#                             matching PATTERN (grep -E) and prints no export
#   run_probe ARGS...         enbd-client --probe ARGS: stdout in $OUT, stderr in $ERR,
#                             exit status in $RC
#   run_selftest ARGS...      enbd-client-selftest ARGS in the foreground: log in $LOG,
#                             exit status in $RC; st KEY prints a counter of its result
#   bg_selftest ARGS...       the same in the background: SELFTEST_PID; then
#                             wait_selftest
#   wait_logged SECS REGEX [N]  until its $LOG has N (1) lines matching REGEX;
#                             1 after SECS, or at once if it ended first
#   expect_no_mallocs ARGS... enbd-client-selftest -I ARGS under the malloc shim
#                             (client_malloc_log.c): no allocation logged while the
#                             workload ran; then stopped, and it passed
# and from lib.sh: fail, skip, need, wait_until, $T (scratch directory),
# $BG_PIDS (stopped on exit), ENBD_BUILD (build, or build-san for the
# ASan/UBSan binaries).

. "$(dirname "$0")/lib.sh"
CLIENT=$ENBD_BUILD/enbd-client
SELFTEST=$ENBD_BUILD/enbd-client-selftest
FAKE_SERVER=$TOP/tests/host/client_fake_server.py

[ -x "$CLIENT" ] && [ -x "$SELFTEST" ] ||
	fail "$CLIENT or $SELFTEST not built (run make, or make SAN=1 with ENBD_BUILD=build-san)"

LOG="" OUT="" ERR="" RC=0 N=0

# rand_port: a random port number in 20000..32767, below Linux's ephemeral
# range (32768..60999), so no outgoing connection of this or any other test
# holds it (POSIX sh has no $RANDOM)
rand_port() {
	echo $((20000 + $(od -An -N2 -tu2 /dev/urandom) % 12768))
}

start_nbdkit() {
	local port pidfile log i
	need nbdkit
	for i in 1 2 3 4 5 6 7 8 9 10; do
		port=$(rand_port)
		pidfile=$T/nbdkit-$port.pid
		log=$T/nbdkit-$port.log
		nbdkit -f -p "$port" -P "$pidfile" "$@" </dev/null >"$log" 2>&1 &
		NBDKIT_PID=$!
		BG_PIDS="$BG_PIDS $NBDKIT_PID"
		if wait_until 30 test -s "$pidfile" -o ! -d "/proc/$NBDKIT_PID"; then
			if [ -s "$pidfile" ] && kill -0 "$NBDKIT_PID" 2>/dev/null; then
				NBDKIT_PORT=$port
				NBDKIT_LOG=$log
				return 0
			fi
		fi
		wait "$NBDKIT_PID" 2>/dev/null || true
		grep -q 'in use' "$log" && continue
		cat "$log" >&2
		fail "nbdkit $* did not start"
	done
	fail "no free port for nbdkit"
}

# restart_nbdkit ARGS...: nbdkit again on the same port (after it was killed)
restart_nbdkit() {
	local pidfile=$T/nbdkit-$NBDKIT_PORT.pid i
	rm -f "$pidfile"
	for i in 1 2 3 4 5 6 7 8 9 10; do
		nbdkit -f -p "$NBDKIT_PORT" -P "$pidfile" "$@" </dev/null >>"$NBDKIT_LOG" 2>&1 &
		NBDKIT_PID=$!
		BG_PIDS="$BG_PIDS $NBDKIT_PID"
		wait_until 30 test -s "$pidfile" -o ! -d "/proc/$NBDKIT_PID" || true
		[ -s "$pidfile" ] && kill -0 "$NBDKIT_PID" 2>/dev/null && return 0
		wait "$NBDKIT_PID" 2>/dev/null || true
		sleep 0.5	# the port may still be held by the old listener
	done
	fail "nbdkit $* did not restart on port $NBDKIT_PORT"
}

start_qemu_nbd() {
	local i log
	need qemu-nbd
	for i in 1 2 3 4 5 6 7 8 9 10; do
		QEMU_NBD_PORT=$(rand_port)
		log=$T/qemu-nbd-$QEMU_NBD_PORT.log
		qemu-nbd -t -p "$QEMU_NBD_PORT" "$@" </dev/null >"$log" 2>&1 &
		BG_PIDS="$BG_PIDS $!"
		wait_until 30 sh -c "grep -q 'in use' '$log' || ss -Hltn 'sport = :$QEMU_NBD_PORT' | grep -q ." ||
			fail "qemu-nbd $* did not start: $(cat "$log")"
		grep -q 'in use' "$log" || return 0
	done
	fail "no free port for qemu-nbd"
}

probe_refused() {
	local pattern=$1
	shift
	run_probe "$@"
	[ $RC -eq 1 ] || fail "--probe $*: exit status $RC (expected 1): $(cat "$ERR")"
	grep -Eq "error: .*$pattern" "$ERR" || fail "--probe $*: no error: line matching '$pattern': $(cat "$ERR")"
	[ ! -s "$OUT" ] || fail "--probe $*: printed the export although it was refused: $(cat "$OUT")"
}

start_fake() {
	local portfile=$T/fake.$N.port
	N=$((N + 1))
	[ -x "$PYTHON" ] || skip "$PYTHON is not installed"
	"$PYTHON" "$FAKE_SERVER" "$portfile" "$@" 2>>"$T/fake.log" &
	FAKE_PID=$!
	BG_PIDS="$BG_PIDS $FAKE_PID"
	wait_until 30 test -s "$portfile" || fail "fake server $* did not start"
	FAKE_PORT=$(cat "$portfile")
}

run_probe() {
	OUT=$T/probe.$N.out
	ERR=$T/probe.$N.log
	N=$((N + 1))
	RC=0
	"$CLIENT" --probe "$@" >"$OUT" 2>"$ERR" || RC=$?
	[ $RC -ne 66 ] || fail "sanitizer report from enbd-client --probe $*: $(cat "$ERR")"
}

run_selftest() {
	LOG=$T/selftest.$N.log
	N=$((N + 1))
	RC=0
	"$SELFTEST" "$@" >"$LOG" 2>&1 || RC=$?
	[ $RC -ne 66 ] || fail "sanitizer report from the selftest: $(tail -n 30 "$LOG")"
}

bg_selftest() {
	LOG=$T/selftest.$N.log
	N=$((N + 1))
	: >"$LOG"	# there to grep before the background shell opens it
	"$SELFTEST" "$@" >"$LOG" 2>&1 &
	SELFTEST_PID=$!
}

_logged_or_gone() { # N REGEX
	[ "$(grep -c -- "$2" "$LOG")" -ge "$1" ] || ! kill -0 "$SELFTEST_PID" 2>/dev/null
}
wait_logged() {
	wait_until "$1" _logged_or_gone "${3:-1}" "$2" || true
	[ "$(grep -c -- "$2" "$LOG")" -ge "${3:-1}" ]
}

wait_selftest() {
	RC=0
	wait "$SELFTEST_PID" || RC=$?
	[ $RC -ne 66 ] || fail "sanitizer report from the selftest: $(tail -n 30 "$LOG")"
}

# st KEY: a counter from the selftest's result line ("selftest: k=v ... PASS")
st() {
	sed -n "s/^selftest: .*\\b$1=\\([0-9]*\\).*/\\1/p" "$LOG" | tail -n 1
}

# expect_pass: the selftest passed and said so
expect_pass() {
	[ $RC -eq 0 ] && grep -q '^selftest: .* PASS$' "$LOG" ||
		fail "selftest failed (exit $RC): $(grep -E '^selftest:|error' "$LOG" | tail -n 5)"
}

expect_no_mallocs() {
	need cc
	case $ENBD_BUILD in *san*) skip "AddressSanitizer replaces malloc: the shim sees nothing" ;; esac
	cc -shared -fPIC -o "$T/malloc-log.so" "$TOP/tests/host/client_malloc_log.c" -ldl ||
		fail "cannot build the malloc shim"
	LOG=$T/selftest.log
	ENBD_MALLOC_LOG=$T/mallocs LD_PRELOAD=$T/malloc-log.so "$SELFTEST" -I "$@" >"$LOG" 2>&1 &
	SELFTEST_PID=$!
	BG_PIDS="$SELFTEST_PID $BG_PIDS"	# stopped before the server, which may wait for it
	wait_until 120 grep -q 'idle until SIGTERM' "$LOG" ||
		fail "the workload did not complete: $(tail -n 5 "$LOG")"
	[ -e "$T/mallocs" ] || fail "the shim was not loaded"
	[ ! -s "$T/mallocs" ] ||
		fail "$(wc -l <"$T/mallocs") allocations during transmission: $(sort "$T/mallocs" | uniq -c | head)"
	kill -TERM "$SELFTEST_PID"
	wait_selftest
	expect_pass
}
