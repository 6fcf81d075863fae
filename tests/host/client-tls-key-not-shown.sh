#!/bin/sh
# No key material in argv or a log: a channel (the simulated device) and
# enbd-server with the same PSK file, both at their most verbose, and a
# failed handshake with a wrong key; while they run, `ps' shows only the
# file's name; no log line holds either hex key.  (/proc/nbdinfo is the
# module's and never sees TLS: the VM's TLS test greps it.)
. "$(dirname "$0")/client-lib.sh"
. "$(dirname "$0")/server-lib.sh"
. "$(dirname "$0")/tls-lib.sh"

make_psk
key=$(cut -d: -f2 "$T/psk/keys.psk")
wrong=$(cut -d: -f2 "$T/wrong.psk")
start_server -v -v --tls require --tls-psk "$T/psk/keys.psk" --memory 64M
bg_selftest -v -v -n 0 -T require -k "$T/psk/keys.psk" -p "$PORT" localhost
wait_logged 30 'serving the simulated device' || fail "not served: $(cat "$LOG")"
ps -eo args >"$T/ps.out"
grep -q -- "-k $T/psk/keys.psk" "$T/ps.out" || fail "the selftest is not in ps"
run_probe -v -v --tls require --tls-psk "$T/wrong.psk" -p "$PORT" localhost
[ $RC -eq 1 ] || fail "the wrong key was accepted: $(cat "$ERR")"
kill "$SELFTEST_PID"
wait_selftest
stop_server
for k in "$key" "$wrong"; do
	if grep -l "$k" "$T/ps.out" "$LOG" "$ERR" "$SERVER_LOG"; then
		fail "a key in ps or a log"
	fi
done
exit 0
