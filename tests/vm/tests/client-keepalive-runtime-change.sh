#!/bin/bash
# The keepalive option is read at run time: loaded with keepalive=0 an idle
# channel (served by enbd-server) sends no probes; `echo 1 >
# /sys/module/enbd/parameters/keepalive` starts them within a few seconds
# (Keepalives in /proc/nbdinfo rises); `echo 0` stops them again.
# timeout: 120
. "$ENBD_ROOT/tests/vm/lib.sh"
PARAM=/sys/module/enbd/parameters/keepalive

load_enbd keepalive=0
on_exit "$ENBD_CLIENT" -q -d /dev/nd0
truncate -s 64M "$ENBD_TEST_TMP/disk.img"
start_enbd_server 0 -a 127.0.0.1 "$ENBD_TEST_TMP/disk.img"
log_file=$ENBD_TEST_TMP/client.log
start_enbd_client --log "$log_file" -v -p "$SERVER_PORT" 127.0.0.1 /dev/nd0
wait_for_disk /dev/nd0

keepalives() { sed -n 's/^\[0\] Keepalives: *\([0-9]*\).*/\1/p' /proc/nbdinfo; }
at_least() { [ "$(keepalives)" -ge "$1" ]; }
nap 3
[ "$(keepalives)" -eq 0 ] || die "keepalive=0, yet $(keepalives) keep-alives"

echo 1 >"$PARAM"
wait_for -t 6 at_least 2 || die "no keep-alives 6 s after keepalive was set to 1: $(keepalives)"
log "keepalive 1: $(keepalives) keep-alives"

echo 0 >"$PARAM"
nap 1.5		# the channel reads the option once a second; a probe may be out
k=$(keepalives)
nap 4
[ "$(keepalives)" -eq "$k" ] || die "keepalive=0 again, yet keep-alives went from $k to $(keepalives)"
[ "$(grep -c 'keep-alive answered' "$log_file")" -eq "$k" ] || die "client answered and kernel counted differ"
kill_and_wait "$ENBD_CLIENT_PID" || die "client exited with status $?"
log "keepalive 0 -> 1 -> 0 honoured: $k keep-alives"
