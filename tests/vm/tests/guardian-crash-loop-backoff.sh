#!/bin/bash
# A channel daemon that cannot start (its server is not there: it exits 1)
# is restarted again and again by enbd-guardian with growing intervals:
# 250, 500, 1000, 2000, 4000 ms, each logged with the exit status and kept.
# Once the server is back, the next restart serves the device; a daemon
# that then lived longer than 10 s and dies is restarted after 250 ms again.
# timeout: 180
. "$ENBD_ROOT/tests/vm/guardian-lib.sh"

load_enbd
# A port nobody listens on: start a server, note its port, stop it.
start_enbd_server
port=$SERVER_PORT
kill_and_wait "$SERVER_PID" KILL || true

start_guardian --client "/dev/nd0 127.0.0.1 $port"
wait_for -t 40 guardian_logged "restart in 4000 ms" || die "no restart announced after 4000 ms"

# The lost/restarted lines in order: "LOST <ms> <delay>" and "START <ms>".
events=$ENBD_TEST_TMP/events
while read -r stamp rest; do
	case $rest in
	*"lost child: pid "*", exit status 1, "*"restart in "*)
		delay=${rest##*restart in }
		echo "LOST $(stamp_ms "$stamp") ${delay% ms}" ;;
	*"lost child: "*) die "unexpected loss: $rest" ;;
	*"channel 0: restarted, pid"*) echo "START $(stamp_ms "$stamp")" ;;
	esac
done <"$GUARDIAN_LOG" >"$events"
cat "$events" >&2

expect=(250 500 1000 2000 4000)
i=0 lost_at=""
while read -r what at delay; do
	if [ "$what" = LOST ]; then
		[ "$i" -lt ${#expect[@]} ] || break
		[ "$delay" = "${expect[i]}" ] || die "restart $((i + 1)) after $delay ms, expected ${expect[i]}"
		lost_at=$at
		continue
	fi
	[ -n "$lost_at" ] || continue
	gap=$((at - lost_at))
	[ "$gap" -ge $((expect[i] - 5)) ] || die "restart $((i + 1)) came after $gap ms, before its ${expect[i]} ms"
	[ "$gap" -le $((expect[i] + 1500)) ] || die "restart $((i + 1)) came after $gap ms, long after its ${expect[i]} ms"
	log "restart $((i + 1)): announced ${expect[i]} ms, came after $gap ms"
	i=$((i + 1))
	lost_at=""
done <"$events"
[ "$i" -ge 4 ] || die "only $i restarts measured"
grep -qi 'refused' "$GUARDIAN_LOG" || die "the daemons did not say why they failed"

# The server returns on the same port: the next restart serves the device.
start_enbd_server "$port"
wait_for_disk /dev/nd0 30
wait_for -t 10 slots_attached 0 1 || die "the channel did not attach"
pid=$(nbd_slot 0 Pids: 0)
head -c 1M /dev/urandom >"$ENBD_TEST_TMP/data"
dd if="$ENBD_TEST_TMP/data" of=/dev/nd0 bs=64k oflag=direct status=none || die "write failed"

# A daemon that lived over 10 s was healthy: its restart comes after 250 ms.
lived_11s() { [ "$(ps -o etimes= -p "$pid")" -ge 11 ]; }
wait_for -t 20 lived_11s || die "daemon $pid did not live 11 s"
kill -KILL "$pid"
wait_for -t 5 guardian_logged "lost child: pid $pid, signal 9 .* restart in 250 ms" ||
	die "the backoff did not start over after a long life"
wait_for -t 10 slot_pid_not 0 0 "$pid" || die "no new daemon"
cmp -n 1M "$ENBD_TEST_TMP/data" /dev/nd0 || die "data differs"
