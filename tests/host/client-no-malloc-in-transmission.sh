#!/bin/sh
# A channel allocates nothing while it carries requests (issue 9, item 8):
# its request buffers are preallocated by xmit_init, before mlockall, so
# writeback under memory pressure never waits for the daemon's own
# allocations.  An LD_PRELOAD shim (client_malloc_log.c) logs every
# allocation after the first request went out; 3000 requests of every type
# at queue depth 128 against nbdkit must log none.  The ASan build has its
# own malloc, which the shim cannot see: plain build only.
. "$(dirname "$0")/client-lib.sh"
need cc
case $ENBD_BUILD in *san*) skip "AddressSanitizer replaces malloc: the shim sees nothing" ;; esac

cc -shared -fPIC -o "$T/malloc-log.so" "$TOP/tests/host/client_malloc_log.c" -ldl ||
	fail "cannot build the malloc shim"
start_nbdkit memory 64M
LOG=$T/selftest.log
ENBD_MALLOC_LOG=$T/mallocs LD_PRELOAD=$T/malloc-log.so \
	"$SELFTEST" -n 3000 -I -p "$NBDKIT_PORT" localhost >"$LOG" 2>&1 &
SELFTEST_PID=$!
BG_PIDS="$SELFTEST_PID $BG_PIDS"	# stopped before nbdkit, which waits for it
wait_until 120 grep -q 'idle until SIGTERM' "$LOG" ||
	fail "the workload did not complete: $(tail -n 5 "$LOG")"
[ -e "$T/mallocs" ] || fail "the shim was not loaded"
[ ! -s "$T/mallocs" ] ||
	fail "$(wc -l <"$T/mallocs") allocations during transmission: $(sort "$T/mallocs" | uniq -c | head)"
kill -TERM "$SELFTEST_PID"
wait_selftest
expect_pass
exit 0
