#!/bin/bash
# SIGTERM to enbd-guardian while fio writes: every channel daemon finishes
# its requests in flight, disconnects and exits 0, the guardian exits 0 and
# keeps the token file; the device keeps its token and the rest of the
# workload waits.  A new guardian, daemonized (-l, -P), takes the saved
# token, its daemons re-attach in the same slots (counted as restarts, no
# bad token), the workload completes and verifies.
# timeout: 240
. "$ENBD_ROOT/tests/vm/guardian-lib.sh"
require_cmd fio

load_enbd
start_enbd_server
client="/dev/nd0 127.0.0.1 $SERVER_PORT -n 2"
start_guardian --client "$client"
wait_for_disk /dev/nd0
wait_for -t 20 slots_attached 0 2 || die "the two channels did not attach"
token=$(cat /run/enbd/nd0.token)

fio --name=orderly --filename=/dev/nd0 --rw=write --bs=64k --size=96M --direct=1 \
	--ioengine=libaio --iodepth=8 --verify=crc32c --verify_fatal=1 --rate=8m \
	--output="$ENBD_TEST_TMP/fio.out" &
fio_pid=$!
on_exit kill_and_wait "$fio_pid" KILL 3
requested_over() { [ "$(nbd_total 0 Requested:)" -gt "$1" ]; }
wait_for -t 30 requested_over 100 || die "no I/O reached the device"

stop_guardian TERM || die "enbd-guardian exited with status $?"
guardian_logged 'SIGTERM: stopping 2 channel daemons' || die "no orderly stop logged"
[ "$(grep -c 'stopped: exit status 0' "$GUARDIAN_LOG")" = 2 ] || die "not both daemons exited 0"
guardian_logged 'SIGKILL' && die "the guardian had to kill a daemon"
grep -q "waiting for [0-9]* requests in flight\|requests (at most" "$GUARDIAN_LOG" ||
	die "the daemons did not finish their work"
[ "$(nbd_total 0 Errored:)" = 0 ] || die "requests errored: $(nbd_line 0 Errored:)"
[ "$(nbd_total 0 Sockets:)" = 0 ] || die "channels still attached: $(nbd_line 0 Sockets:)"
nbd_line 0 State: | grep -q 'token set' || die "the device lost its token: $(nbd_line 0 State:)"
[ "$(cat /run/enbd/nd0.token)" = "$token" ] || die "the token file changed or is gone"
proc_gone "$fio_pid" && die "fio finished before the stop: the workload is too short"

# A new guardian, as a daemon.
glog=$ENBD_TEST_TMP/guardian2.log
pidf=$ENBD_TEST_TMP/guardian2.pid
# Start-up messages go to the terminal, the rest to the log.
"$GUARDIAN" -l "$glog" -P "$pidf" ${GUARDIAN_X:+-x "$GUARDIAN_X"} --client "$client" </dev/null \
	2>"$ENBD_TEST_TMP/start.err" || die "enbd-guardian did not start as a daemon: $(cat "$ENBD_TEST_TMP/start.err")"
cat "$ENBD_TEST_TMP/start.err" >&2
[ -s "$pidf" ] || die "no pid file"
read -r gpid <"$pidf"
on_exit kill_and_wait "$gpid" USR2
proc_gone "$gpid" && die "the daemonized guardian is gone: $(cat "$glog")"
[ "$(ps -o sid= -p "$gpid" | tr -d ' ')" = "$gpid" ] || die "the guardian did not detach into its own session"
grep -q 'using the session token saved in /run/enbd/nd0.token' "$ENBD_TEST_TMP/start.err" || die "the saved token was not used"
wait_for -t 20 slots_attached 0 2 || die "the new daemons did not attach: $(cat "$glog")"
[ "$(nbd_slot 0 Restarts: 0)" = 1 ] && [ "$(nbd_slot 0 Restarts: 1)" = 1 ] ||
	die "restarts: $(nbd_line 0 Restarts:) (expected 1 per slot)"
nbd_line 0 Journal: | grep -q ' 0 bad tokens' || die "$(nbd_line 0 Journal:)"

wait "$fio_pid" || die "fio failed: $(cat "$ENBD_TEST_TMP/fio.out")"
fio_ok "$ENBD_TEST_TMP/fio.out"

kill_and_wait "$gpid" TERM || true
grep -q 'exiting' "$glog" || die "the daemonized guardian did not exit in order: $(cat "$glog")"
[ -e "$pidf" ] && die "the pid file is still there"
[ -e /run/enbd/nd0.token ] || die "SIGTERM removed the token file"
cat "$glog" >&2
