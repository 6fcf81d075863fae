#!/bin/sh
# enbdctl status reads /proc/nbdinfo tolerantly: from a sample with every
# kind of line, one counter the tool does not know ("Newthing") and a line
# it cannot parse, `status --json` is valid JSON with the values of the
# sample (the unknown counter included, per slot and in total) and the
# closed devices; the table shows the same.  Needs no module (ENBD_NBDINFO).
. "$(dirname "$0")/lib.sh"
CTL=$ENBD_BUILD/enbdctl
[ -x "$CTL" ] || fail "$CTL not built"

cat >"$T/nbdinfo" <<'EOT'
Options:	keepalive 5s, readahead 512KiB, aging 30s
Device 0:	Closed
Device 1:	Open
[1] State:      waiting for a channel, ro, token set, last error -5
[1] Queued:     3 current/1 real/16 max
[1] Blocksize:  4096
[1] Size:       67108864
[1] Blocks:     16384
[1] Features:   flush fua trim write-zeroes
[1] Policy:     aging 3000ms, keepalive 7s, readahead 256KiB, outage fail after 45000ms (no channel for 1200ms)
[1] Sockets:    1	(*)	(-)
[1] Requested:  2146	(1375)	(771)
[1] Errored:    0	(0)	(0)
[1] Newthing:   7	(3)	(4)
[1] Pids:       	(166)	(0)
[1] Journal:    2150 claims, 1 discarded, 5 resubmitted, 2 bad tokens
[1] Unparsable line, no number: x (y)
Device 2-3:	Closed
EOT

ENBD_NBDINFO=$T/nbdinfo "$CTL" status --json >"$T/out.json" || fail "status --json failed"
"$PYTHON" - "$T/out.json" <<'EOT' || fail "JSON differs from the sample: $(cat "$T/out.json")"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["options"] == {"keepalive_s": 5, "readahead_kb": 512, "aging_s": 30}, j["options"]
devs = j["devices"]
assert [d["index"] for d in devs] == [0, 1, 2, 3], devs
assert [d["open"] for d in devs] == [False, True, False, False]
assert devs[2] == {"index": 2, "device": "/dev/nd2", "open": False}
d = devs[1]
want = {"device": "/dev/nd1", "state": "waiting for a channel", "read_only": True,
        "token": True, "last_error": -5, "size": 67108864, "block_size": 4096,
        "features": ["flush", "fua", "trim", "write-zeroes"], "queued": 3, "claimed": 1,
        "max_outstanding": 16, "aging_ms": 3000, "outage": "fail", "outage_ms": 45000,
        "outage_for_ms": 1200, "keepalive_s": 7, "readahead_kb": 256, "attached": 1,
        "journal": {"claims": 2150, "discarded": 1, "resubmitted": 5, "bad_tokens": 2},
        "totals": {"requested": 2146, "errored": 0, "newthing": 7}}
for k, v in want.items():
    assert d[k] == v, (k, d[k], v)
ch = d["channels"]
assert len(ch) == 2, ch
assert ch[0] == {"slot": 0, "mark": "*", "attached": True, "pid": 166,
                 "requested": 1375, "errored": 0, "newthing": 3}, ch[0]
assert ch[1]["mark"] == "-" and ch[1]["attached"] is False and ch[1]["pid"] == 0, ch[1]
assert ch[1]["newthing"] == 4, ch[1]
EOT

ENBD_NBDINFO=$T/nbdinfo "$CTL" status --json nd1 >"$T/one.json" || fail "status --json nd1 failed"
"$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1]))["devices"]; assert [x["index"] for x in d] == [1], d' \
	"$T/one.json" || fail "status --json nd1 shows other devices: $(cat "$T/one.json")"

ENBD_NBDINFO=$T/nbdinfo "$CTL" status >"$T/out.txt" || fail "status failed"
grep -q '^/dev/nd1: waiting for a channel, ro, token set, last error -5; 64.0 MiB, block 4096; flush fua trim write-zeroes$' "$T/out.txt" ||
	fail "status header: $(cat "$T/out.txt")"
grep -Eq '^  0 +\* +166 +1375 +0 +3$' "$T/out.txt" || fail "slot 0 row: $(cat "$T/out.txt")"
grep -q '^closed: nd0 nd2-nd3$' "$T/out.txt" || fail "closed devices: $(cat "$T/out.txt")"

echo "not nbdinfo" >"$T/bad"
if ENBD_NBDINFO=$T/bad "$CTL" status >/dev/null 2>"$T/err"; then
	fail "a file that is not /proc/nbdinfo was accepted"
fi
grep -q '^enbdctl: error: cannot read /proc/nbdinfo' "$T/err" || fail "no error line: $(cat "$T/err")"
echo "PASS $TEST_NAME"
