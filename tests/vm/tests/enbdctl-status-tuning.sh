#!/bin/bash
# enbdctl against a live device: `status --json` (parsed by python3) shows
# nd0 as /proc/nbdinfo and sysfs do (open, serving, size, token, two
# channels attached with the guardian's daemons' pids, the closed devices);
# `policy` with the guardian's token file changes aging and outage (seen in
# /proc/nbdinfo), with a wrong token it is refused and counted; `option`
# changes readahead (read_ahead_kb) and keepalive; `eject` shuts nd0 down:
# the daemons exit 3 and the guardian exits 0.
# timeout: 120
. "$ENBD_ROOT/tests/vm/guardian-lib.sh"
CTL=$ENBD_ROOT/$ENBD_BUILD/enbdctl
[ -x "$CTL" ] || die "$CTL not built"
require_cmd python3

load_enbd ndevs=3
start_enbd_server
start_guardian --client "/dev/nd0 127.0.0.1 $SERVER_PORT -n 2"
wait_for_disk /dev/nd0
wait_for -t 30 slots_attached 0 2 || die "the two channels did not attach"

"$CTL" status --json >"$ENBD_TEST_TMP/status.json" || die "enbdctl status --json failed"
pids="$(nbd_slot 0 Pids: 0) $(nbd_slot 0 Pids: 1)"
bytes=$(($(cat /sys/block/nd0/size) * 512))
python3 - "$ENBD_TEST_TMP/status.json" "$pids" "$bytes" <<'EOT' || die "status --json does not match the device: $(cat "$ENBD_TEST_TMP/status.json")"
import json, sys
j = json.load(open(sys.argv[1]))
pids = [int(p) for p in sys.argv[2].split()]
devs = j["devices"]
assert [d["index"] for d in devs] == [0, 1, 2], devs
assert [d["open"] for d in devs] == [True, False, False], devs
d = devs[0]
assert d["device"] == "/dev/nd0" and d["state"] == "serving", d
assert d["size"] == int(sys.argv[3]) and d["size"] > 0, (d["size"], sys.argv[3])
assert d["token"] is True and d["read_only"] is False and d["attached"] == 2, d
assert sorted(c["pid"] for c in d["channels"]) == sorted(pids), (d["channels"], pids)
assert all(c["attached"] for c in d["channels"]), d["channels"]
assert d["totals"]["requested"] == sum(c["requested"] for c in d["channels"]), d
assert j["options"]["keepalive_s"] == 10, j["options"]
EOT
log "status --json matches nd0: pids $pids, $bytes bytes"
"$CTL" status >&2 || die "enbdctl status failed"

"$CTL" policy /dev/nd0 --aging 7 --outage fail:1500 || die "enbdctl policy failed"
grep -q '^\[0\] Policy: *aging 7000ms, keepalive [0-9]*s, readahead [0-9]*KiB, outage fail after 1500ms' /proc/nbdinfo ||
	die "policy not applied: $(nbd_line 0 Policy:)"
"$CTL" policy nd0 --aging 250ms --outage wait || die "enbdctl policy (ms, wait) failed"
grep -q '^\[0\] Policy: *aging 250ms, keepalive [0-9]*s, readahead [0-9]*KiB, outage wait' /proc/nbdinfo ||
	die "policy not applied: $(nbd_line 0 Policy:)"
log "policy: $(nbd_line 0 Policy:)"

must_fail "$CTL" policy 0 --aging 5 -t 0x1 2>"$ENBD_TEST_TMP/err"
grep -q 'Permission denied' "$ENBD_TEST_TMP/err" || die "wrong token: $(cat "$ENBD_TEST_TMP/err")"
grep -q '^\[0\] Journal:.* 1 bad tokens' /proc/nbdinfo || die "the wrong token was not counted: $(nbd_line 0 Journal:)"
must_fail "$CTL" policy nd0 --outage sometimes 2>/dev/null

"$CTL" option readahead 1024 || die "enbdctl option readahead failed"
[ "$(cat /sys/block/nd0/queue/read_ahead_kb)" = 1024 ] || die "read_ahead_kb: $(cat /sys/block/nd0/queue/read_ahead_kb)"
"$CTL" option keepalive 3 || die "enbdctl option keepalive failed"
grep -q '^Options:.*keepalive 3s, readahead 1024KiB' /proc/nbdinfo || die "options: $(head -n 1 /proc/nbdinfo)"
[ "$("$CTL" status --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["options"]["readahead_kb"])')" = 1024 ] ||
	die "status --json does not show readahead 1024"
must_fail "$CTL" option ndevs 5 2>/dev/null

"$CTL" watch -n 2 -i 0.2 nd0 >"$ENBD_TEST_TMP/watch.out" || die "enbdctl watch failed"
grep -q 'requests/s' "$ENBD_TEST_TMP/watch.out" || die "watch shows no rates: $(cat "$ENBD_TEST_TMP/watch.out")"

"$CTL" eject /dev/nd0 || die "enbdctl eject failed"
wait_for -t 20 proc_gone "$GUARDIAN_PID" || die "the guardian did not exit after the eject"
wait "$GUARDIAN_PID" || die "the guardian exited with status $? after the eject"
guardian_logged 'exit status 3' || die "the daemons did not exit 3"
log "eject: the daemons exited 3, the guardian 0"
