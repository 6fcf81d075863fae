#!/bin/bash
# A daemon started against an already configured /dev/nd0 (as the guardian
# restarts one) checks the export against what the device was configured
# with, read back from sysfs: after its predecessor configured nd0 read-write
# with FUA and stopped, a new daemon refuses a server now read-only, then a
# server that no longer offers FUA, with the same error line and exit
# status 1 as after a reconnect; against the unchanged export it serves.
# timeout: 180
. "$ENBD_ROOT/tests/vm/lib.sh"

load_enbd
on_exit "$ENBD_CLIENT" -q -d /dev/nd0
img=$ENBD_TEST_TMP/disk.img
truncate -s 64M "$img"
start_enbd_server 0 "$img"
port=$SERVER_PORT

n=0
client() { # PORT: a new daemon for /dev/nd0 in the background: $client, $client_log
	n=$((n + 1))
	client_log=$ENBD_TEST_TMP/client.$n.log
	"$ENBD_CLIENT" -p "$1" 127.0.0.1 /dev/nd0 </dev/null 2>"$client_log" &
	client=$!
	on_exit kill_and_wait "$client"
}
refused() { # PORT MESSAGE: a new daemon exits 1 with that error
	local rc=0
	client "$1"
	wait_for -t 30 proc_gone "$client" || die "the daemon served a changed export: $(cat "$client_log")"
	wait "$client" || rc=$?
	[ $rc = 1 ] || die "exit $rc, expected 1: $(cat "$client_log")"
	grep -q "error: $2: refusing to serve /dev/nd0 from it" "$client_log" ||
		die "no '$2' error line: $(cat "$client_log")"
	grep -q 'serving /dev/nd0' "$client_log" && die "it served /dev/nd0 first"
	log "refused: $(grep error: "$client_log")"
}

client "$port"
wait_for_disk /dev/nd0
wait_for -t 20 grep -q 'serving /dev/nd0' "$client_log" || die "not served: $(cat "$client_log")"
kill_and_wait "$client" || die "the first daemon exited $? on SIGTERM"
[ "$(cat /sys/block/nd0/size)" -gt 0 ] || die "nd0 lost its configuration"
[ "$(cat /sys/block/nd0/ro)" = 0 ] && [ "$(cat /sys/block/nd0/queue/fua)" = 1 ] ||
	die "nd0 not configured read-write with FUA"

kill_and_wait "$SERVER_PID" KILL || true	# 137: killed, as asked
start_enbd_server "$port" -r "$img"
refused "$port" 'export became read-only'
[ "$(cat /sys/block/nd0/ro)" = 0 ] || die "nd0 became read-only"
kill_and_wait "$SERVER_PID" KILL || true	# 137: killed, as asked

start_nbdkit --filter=fua file "$img" >/dev/null	# fuamode=none (the default): no FUA
refused "$NBDKIT_PORT" 'export no longer supports:.* fua'
kill_and_wait "$NBDKIT_PID"

start_enbd_server "$port" "$img"
client "$port"
wait_for -t 30 grep -q 'serving /dev/nd0' "$client_log" || die "unchanged export not served: $(cat "$client_log")"
dd if=/dev/nd0 of=/dev/null bs=64k count=16 iflag=direct 2>/dev/null || die "nd0 unreadable"
kill_and_wait "$client" || die "exit $? on SIGTERM"
log "a changed export was refused by a fresh daemon; the unchanged one served"
