#!/bin/sh
# timeout: 60
# --sock: an owner-only control socket whose "status" line (and --json)
# reports the pid, clients and bytes served, and why a mirror failed; a
# second server cannot take a socket that is in use, a stale one is
# replaced, and it is removed on exit.
. "$(dirname "$0")/server-lib.sh"
need_python_nbd
SOCK=$T/ctl.sock
truncate -s 4M "$T/disk.img"
start_server --sock "$SOCK" "$T/disk.img"
[ -S "$SOCK" ] || fail "no socket at $SOCK"
[ "$(stat -c %a "$SOCK")" = 600 ] || fail "socket mode $(stat -c %a "$SOCK"), not 600"
[ "$(status_field pid)" = "$SERVER_PID" ] || fail "status pid: $(control status)"
[ "$(status_field has_control)" = true ] || fail "has_control: $(control status)"
[ "$(status_field is_mirroring)" = false ] || fail "is_mirroring: $(control status)"
[ "$(status_field clients)" = 0 ] || fail "clients before any: $(control status)"

# a client that wrote 64 KiB and read 4 KiB, held open while we look
py "$URI" "$T/hold" <<'PY' &
import nbd, os, sys, time
h = nbd.NBD()
h.connect_uri(sys.argv[1])
h.pwrite(b"x" * 65536, 0)
h.pread(4096, 0)
open(sys.argv[2] + ".ready", "w").close()
while not os.path.exists(sys.argv[2]):
    time.sleep(0.02)
h.shutdown()
PY
CLIENT=$!
wait_until 10 test -e "$T/hold.ready" || fail "the client did not connect"
[ "$(status_field clients)" = 1 ] || fail "clients with one: $(control status)"
[ "$(status_field bytes_written)" = 65536 ] || fail "bytes_written: $(control status)"
[ "$(status_field bytes_read)" = 4096 ] || fail "bytes_read: $(control status)"
control status --json >"$T/status.json"
py "$SERVER_PID" "$T/status.json" <<'PY' || fail "status --json: $(cat "$T/status.json")"
import json, sys
s = json.load(open(sys.argv[2]))
assert s["pid"] == int(sys.argv[1]) and s["clients"] == 1, s
assert s["bytes_written"] == 65536 and s["is_mirroring"] is False, s
assert s["has_control"] is True and s["migration"] == "idle", s
PY
touch "$T/hold"
wait $CLIENT

# a failed mirror's reason, quoted in both forms whatever the host typed
control mirror 'no"such\host.invalid' 10809 >"$T/out" || fail "mirror: $(cat "$T/out")"
wait_until 30 status_has "$SOCK" migration=failed || fail "no failure: $(control status)"
control status --json >"$T/status.json"
py "$T/status.json" <<'PY' || fail "status --json after a failed mirror: $(cat "$T/status.json")"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["migration"] == "failed" and "no?such?host.invalid" in s["migration_error"], s
assert s["has_control"] is True and s["is_mirroring"] is False, s
PY

if control frobnicate >"$T/out"; then
	fail "an unknown command succeeded: $(cat "$T/out")"
fi
grep -q "^error: unknown command" "$T/out" || fail "unknown command: $(cat "$T/out")"

# a second server may not take the live socket
start_server_expect_failure --sock "$SOCK" --memory 1M
grep -q "another server answers there" "$SERVER_LOG" || fail "no refusal: $(cat "$SERVER_LOG")"
stop_server
[ ! -e "$SOCK" ] || fail "the socket was left behind"

# a stale socket (its server gone) is replaced
py "$SOCK" <<'PY'
import socket, sys
socket.socket(socket.AF_UNIX).bind(sys.argv[1])
PY
start_server --sock "$SOCK" --memory 1M
[ "$(status_field pid)" = "$SERVER_PID" ] || fail "not answering on a replaced stale socket"
stop_server
