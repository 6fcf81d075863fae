# Shared by tests/host/server-*.sh (sourced, not run).
#
#   start_server ARGS...   start enbd-server on a free port; sets PORT, URI,
#                          SERVER_PID, SERVER_LOG (several may run at once)
#   stop_server [PID]      SIGTERM, wait, fail on a bad exit or sanitizer report
#   py ARGS / nbdsh_run    Python (server_raw.py, libnbd) and nbdsh scripts
#   server_hwm_kib [PID]   the server's peak resident memory (VmHWM), KiB
#   loop_attach FILE       a loop device over FILE (LOOP, LOOP_NAME), detached on exit
# and from lib.sh: fail, skip, need, wait_until, $T (scratch directory),
# ENBD_BUILD (build, or build-san for the ASan/UBSan binaries).

. "$(dirname "$0")/lib.sh"
SERVER=$ENBD_BUILD/enbd-server
export PYTHONPATH=$TOP/tests/host${PYTHONPATH:+:$PYTHONPATH}	# server_raw.py

need_python_nbd() {
	$PYTHON -c 'import nbd' 2>/dev/null || skip "python3-libnbd is not installed"
}

[ -x "$SERVER" ] || fail "$SERVER not built (run make, or make SAN=1 with ENBD_BUILD=build-san)"
SERVER_N=0

# start_server ARGS...: start and wait until it listens (it writes the
# port file only once its socket accepts connections).
_listening_or_gone() {
	[ -s "$portfile" ] || ! kill -0 "$SERVER_PID" 2>/dev/null
}
start_server() {
	SERVER_N=$((SERVER_N + 1))
	SERVER_LOG=$T/server.$SERVER_N.log
	portfile=$T/port.$SERVER_N
	"$SERVER" -p 0 --port-file "$portfile" "$@" 2>"$SERVER_LOG" &
	SERVER_PID=$!
	BG_PIDS="$BG_PIDS $SERVER_PID"
	wait_until 10 _listening_or_gone || fail "enbd-server $* did not listen within 10 s"
	if [ ! -s "$portfile" ]; then
		cat "$SERVER_LOG" >&2
		fail "enbd-server $* did not start"
	fi
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

# server_hwm_kib [PID]: the server's peak resident memory (VmHWM), in KiB.
server_hwm_kib() {
	awk '/^VmHWM:/ { print $2 }' "/proc/${1:-$SERVER_PID}/status"
}

# loop_attach FILE: attach FILE to a free loop device, set LOOP (and
# LOOP_NAME, e.g. loop3); skips the test where loop devices cannot be
# used.  Every device attached is detached on exit.
LOOPS=""
loop_attach() {
	command -v losetup >/dev/null 2>&1 || skip "losetup is not installed"
	LOOP=$(losetup -f --show "$1" 2>/dev/null) || skip "cannot attach a loop device here"
	LOOP_NAME=$(basename "$LOOP")
	LOOPS="$LOOPS $LOOP"
	trap _loop_cleanup EXIT
}
_loop_cleanup() {
	rc=$?
	set +e
	for l in $LOOPS; do
		losetup -d "$l" 2>/dev/null
	done
	(exit $rc)
	_lib_cleanup
}

# loop_discards: discard requests the device $LOOP_NAME completed.
loop_discards() {
	awk '{ print $12 }' "/sys/block/$LOOP_NAME/stat"
}

# control ARGS...: enbd-server control --sock $SOCK ARGS... (the reply on stdout).
control() {
	"$SERVER" control --sock "$SOCK" "$@"
}

# status_field KEY: KEY's value in the "status" line of the server at $SOCK.
status_field() {
	control status | tr ' ' '\n' | sed -n "s/^$1=//p"
}

# start_destination FILE ARGS...: an enbd-server --listen for FILE with its
# control socket at $SOCK.dest; sets DEST_PORT, DEST_PID, DEST_LOG.
start_destination() {
	_file=$1
	shift
	start_server --listen --sock "$SOCK.dest" "$@" "$_file"
	DEST_PORT=$PORT DEST_PID=$SERVER_PID DEST_LOG=$SERVER_LOG
}

# allocated FILE: bytes the file system allocated to FILE.
allocated() {
	echo $(($(stat -c '%b * %B' "$1")))
}

# make_half_full FILE SIZE_MIB: a sparse file with random data in its first half.
make_half_full() {
	truncate -s "$2M" "$1"
	head -c "$(($2 / 2))M" /dev/urandom | dd of="$1" bs=1M conv=notrunc status=none
}

# mirror_copied: bytes the mirror of the server at $SOCK has done.
mirror_copied() {
	status_field migration_copied
}

# mirror_copied_over BYTES: true once the mirror has done more (wait_until).
mirror_copied_over() {
	[ "$(mirror_copied)" -gt "$1" ]
}

# status_has SOCKET TEXT: the status line of the server at SOCKET has TEXT.
status_has() {
	"$SERVER" control --sock "$1" status | grep -q -- "$2"
}

# check_serves URI: a write and a read back on URI work.
check_serves() {
	py "$1" <<'PY' || fail "the source no longer serves"
import nbd, sys
h = nbd.NBD()
h.connect_uri(sys.argv[1])
h.pwrite(b"still here" * 400, 8192)
assert h.pread(4000, 8192) == b"still here" * 400
h.shutdown()
PY
}
