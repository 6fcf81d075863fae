#!/bin/bash
# Two guardians started at once for one device while its token file is
# being removed: guardian B opens /run/enbd/nd0.token and is stopped there
# (strace sends it SIGSTOP right after the open, before its flock); the
# file is removed, as a guardian whose device was shut down removes it;
# guardian C makes a new token file and locks it; B goes on.  B's lock is
# then on the removed file: B must see that it is not the file at the path
# any more, open it again and find it locked by C ("guarded by another
# enbd-guardian", exit 1), never reaching the kernel.  Only C guards the
# device; no bad token is counted.
# timeout: 120
. "$ENBD_ROOT/tests/vm/guardian-lib.sh"
require_cmd strace

load_enbd
start_enbd_server
client="/dev/nd0 127.0.0.1 $SERVER_PORT"
tokfile=/run/enbd/nd0.token
mkdir -p -m 0700 /run/enbd
(umask 077 && echo 0x00000000c0ffee01 >"$tokfile")

blog=$ENBD_TEST_TMP/guardian-b.log
strace -qq -o "$ENBD_TEST_TMP/strace.log" -P "$tokfile" -e trace=openat \
	-e inject=openat:signal=SIGSTOP:when=1 \
	"$GUARDIAN" -f --client "$client" </dev/null >"$blog" 2>&1 &
tracer=$!
on_exit kill_and_wait "$tracer" KILL 10
# b_stopped_with_token: a process stopped with the token file open: B, its pid
b_stopped_with_token() {
	local fd stat
	fd=$(find /proc/[0-9]*/fd -lname "$tokfile" 2>/dev/null | head -n 1)
	[ -n "$fd" ] || return 1
	B=${fd#/proc/}
	B=${B%%/*}
	read -r stat <"/proc/$B/stat" || return 1
	stat=${stat##*) }
	[ "${stat%% *}" = t ] || [ "${stat%% *}" = T ]
}
wait_for -t 30 b_stopped_with_token || die "guardian B did not stop with $tokfile open: $(cat "$blog")"
on_exit kill_and_wait "$B" USR2
log "guardian B (pid $B) stopped with $tokfile open, before its flock"

rm "$tokfile"
start_guardian --client "$client"
wait_for -t 20 guardian_logged "new session token saved in $tokfile" || die "guardian C made no token"
kill -CONT "$B"
wait_for -t 20 slots_attached 0 1 || die "guardian C's daemon did not attach"

wait_for -t 20 proc_gone "$B" || die "guardian B guards the device too: $(cat "$blog")"
cat "$blog" >&2
grep -q "/dev/nd0 is guarded by another enbd-guardian" "$blog" ||
	die "guardian B was not refused by the lock"
proc_gone "$GUARDIAN_PID" && die "guardian C is gone"
nbd_line 0 Journal: | grep -q ' 0 bad tokens' || die "a token was refused: $(nbd_line 0 Journal:)"
grep -q "^0x" "$tokfile" && ! grep -q c0ffee01 "$tokfile" || die "$tokfile is not guardian C's"
