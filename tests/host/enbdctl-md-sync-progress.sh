#!/bin/sh
# enbdctl shows what is built on a device and how far a long md operation
# has got: with a sysfs where md0 (raid1, a check at 25 %, degraded by one)
# and dm-3 hold nd1, `status` prints them under nd1, `status --json` has
# them under "holders" (the sync in KiB, null once md is idle), and `watch`
# into a file prints one status after another without terminal escapes.
# Needs no module (ENBD_NBDINFO, ENBD_SYSFS).
. "$(dirname "$0")/lib.sh"
CTL=$ENBD_BUILD/enbdctl
[ -x "$CTL" ] || fail "$CTL not built"

cat >"$T/nbdinfo" <<'EOT'
Options:	keepalive 5s, readahead 512KiB, aging 30s
Device 0:	Closed
Device 1:	Open
[1] State:      serving, rw, token set
[1] Queued:     0 current/0 real/16 max
[1] Blocksize:  512
[1] Size:       50331648
[1] Policy:     aging 30000ms, keepalive 5s, outage wait
[1] Sockets:    2	(*)	(+)
[1] Requested:  10	(6)	(4)
EOT
sys=$T/sys
mkdir -p "$sys/block/nd1/holders/md0" "$sys/block/nd1/holders/dm-3" "$sys/block/md0/md" "$sys/block/dm-3"
echo raid1 >"$sys/block/md0/md/level"
echo 1 >"$sys/block/md0/md/degraded"
echo check >"$sys/block/md0/md/sync_action"
echo "24576 / 98304" >"$sys/block/md0/md/sync_completed"
echo 2048 >"$sys/block/md0/md/sync_speed"
export ENBD_NBDINFO="$T/nbdinfo" ENBD_SYSFS="$sys"

"$CTL" status >"$T/status" || fail "enbdctl status failed"
grep -qx '  held by md0: raid1, check 25.0% (12288 of 49152 KiB), 2048 KiB/s, degraded (1 missing)' "$T/status" ||
	fail "no md0 progress line: $(cat "$T/status")"
grep -qx '  held by dm-3' "$T/status" || fail "no dm-3 line: $(cat "$T/status")"

"$CTL" status --json >"$T/status.json" || fail "enbdctl status --json failed"
"$PYTHON" - "$T/status.json" <<'EOT' || fail "holders in the JSON: $(cat "$T/status.json")"
import json, sys
d = json.load(open(sys.argv[1]))["devices"][1]
assert d["holders"] == [
    {"name": "dm-3"},
    {"name": "md0", "level": "raid1", "degraded": 1, "sync_action": "check",
     "sync": {"done_kib": 12288, "total_kib": 49152, "kib_per_s": 2048}}], d["holders"]
EOT

echo idle >"$sys/block/md0/md/sync_action"
echo none >"$sys/block/md0/md/sync_completed"
echo 0 >"$sys/block/md0/md/degraded"
"$CTL" status --json nd1 >"$T/idle.json" || fail "enbdctl status --json nd1 failed"
"$PYTHON" -c '
import json, sys
h = json.load(open(sys.argv[1]))["devices"][0]["holders"][1]
assert h["sync_action"] == "idle" and h["sync"] is None and h["degraded"] == 0, h' "$T/idle.json" ||
	fail "idle md0 in the JSON: $(cat "$T/idle.json")"
"$CTL" status nd1 | grep -qx '  held by md0: raid1, idle' || fail "idle md0: $("$CTL" status nd1)"

"$CTL" top -i 0.1 -n 2 nd1 >"$T/watch" || fail "enbdctl top failed"
[ "$(grep -c '^  held by md0: raid1, idle$' "$T/watch")" = 2 ] || fail "watch into a file: $(cat "$T/watch")"
if grep -q "$(printf '\033')" "$T/watch"; then
	fail "watch into a file writes terminal escapes"
fi
echo "PASS $TEST_NAME"
