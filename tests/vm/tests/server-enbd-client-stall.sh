#!/bin/bash
# A write caught in a stall is not carried out twice: enbd-server is frozen
# (SIGSTOP) with a write to block X sitting unread in its socket; with
# aging=2 the client gives the connection up (RST), and only when that
# connection is gone does the server thaw.  The server must discard the
# stale copy it still finds in the dead connection's socket (its log says
# so), the client's resubmitted copy completes on the new connection, a
# later write to X lands, and X reads back as that later write.
# timeout: 200
. "$ENBD_ROOT/tests/vm/lib.sh"
require_cmd ss

load_enbd aging=2
on_exit "$ENBD_CLIENT" -q -d /dev/nd0
img=$ENBD_TEST_TMP/disk.img
truncate -s 64M "$img"
start_enbd_server 0 -a 127.0.0.1 "$img"
srv_log=$SERVER_LOG server=$SERVER_PID port=$SERVER_PORT
thaw() { kill -CONT "$server" 2>/dev/null || true; }
on_exit thaw
on_exit tail -n 20 "$srv_log"

log_file=$ENBD_TEST_TMP/client.log
start_enbd_client --log "$log_file" -p "$port" 127.0.0.1 /dev/nd0
client=$ENBD_CLIENT_PID
wait_for_disk /dev/nd0
# the client's port on the first connection (the probe's connection comes first)
first=$(sed -n 's/.*127\.0\.0\.1:\([0-9]*\): serving export.*/\1/p' "$srv_log" | tail -n 1)
[ -n "$first" ] || die "no connection in the server log"

X=$((5 << 20))	# block X at 5 MiB
for p in A B C; do
	head -c 4096 /dev/zero | tr '\0' "$p" >"$ENBD_TEST_TMP/$p"
done
put() { dd if="$ENBD_TEST_TMP/$1" of=/dev/nd0 bs=4096 seek=$((X / 4096)) oflag=direct conv=notrunc status=none; }
put A || die "write A"

kill -STOP "$server"
put B &
writer=$!
# The write sits unread at the server until the client gives the connection up.
wait_for -t 60 grep -q 'the kernel reports this channel stalled' "$log_file" || die "no stall seen"
conn_gone() { [ -z "$(ss -Htn "sport = :$port and dport = :$first")" ]; }
wait_for -t 30 conn_gone || die "the stalled connection was not closed"
thaw

wait_for -t 60 proc_gone "$writer" || die "write B did not finish after the server resumed"
wait "$writer" || die "write B failed"
wait_for -t 30 grep -q 'serving /dev/nd0 again' "$log_file" || die "no reconnect"
put C || die "write C"
# The stale B of the dead connection was discarded, not carried out late.
wait_for -t 30 grep -q "127.0.0.1:$first: connection dropped: [0-9]* requests\? read but not started discarded" \
	"$srv_log" || die "the server did not discard the dead connection's write"
echo 3 >/proc/sys/vm/drop_caches
cmp "$ENBD_TEST_TMP/C" <(dd if=/dev/nd0 bs=4096 skip=$((X / 4096)) count=1 iflag=direct status=none) ||
	die "block X is not the last write"
cmp "$ENBD_TEST_TMP/C" <(dd if="$img" bs=4096 skip=$((X / 4096)) count=1 status=none) ||
	die "the served file does not hold the last write"

kill_and_wait "$client" || die "enbd-client exited with status $?"
kill_and_wait "$server" || die "enbd-server exited with status $?"
grep -E 'discarded|stalled' "$srv_log" "$log_file" >&2
log "the stale write was discarded; the last write won"
