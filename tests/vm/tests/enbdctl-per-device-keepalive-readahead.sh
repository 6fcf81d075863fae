#!/bin/bash
# Keep-alive and read-ahead per device at run time: with the module's
# keepalive=0 (no probes) and readahead=128, `enbdctl policy nd0
# --keepalive 1 --readahead 2048` changes nd0 only (its Policy: line,
# enbd/keepalive and queue/read_ahead_kb in sysfs; nd1 keeps the module's);
# nd0's running daemon starts probing (Keepalives: counts, nd1's stays 0);
# the read-ahead outlives a daemon killed with -9 and its successor, and an
# eject followed by a new session (a fresh CONFIGURE); --keepalive 0
# returns nd0 to the module's option.
# timeout: 90
. "$ENBD_ROOT/tests/vm/guardian-lib.sh"
CTL=$ENBD_ROOT/$ENBD_BUILD/enbdctl
[ -x "$CTL" ] || die "$CTL not built"

load_enbd ndevs=2 keepalive=0 readahead=128 partscan=0
start_enbd_server
start_enbd_client -p "$SERVER_PORT" 127.0.0.1 /dev/nd0
client0=$ENBD_CLIENT_PID
start_enbd_client -p "$SERVER_PORT" 127.0.0.1 /dev/nd1
wait_for_disk /dev/nd0
wait_for_disk /dev/nd1

sys() { cat "/sys/block/nd$1/$2"; }
keepalives() { nbd_total "$1" Keepalives:; }
keepalives_over() { [ "$(keepalives "$1")" -gt "$2" ]; }
readahead_is() { [ "$(sys 0 queue/read_ahead_kb)" = "$1" ]; }

"$CTL" policy nd0 --keepalive 1 --readahead 2048 || die "enbdctl policy --keepalive --readahead failed"
nbd_line 0 Policy: | grep -q 'keepalive 1s, readahead 2048KiB,' || die "nd0: $(nbd_line 0 Policy:)"
nbd_line 1 Policy: | grep -q 'keepalive 0s, readahead 128KiB,' || die "nd1: $(nbd_line 1 Policy:)"
[ "$(sys 0 enbd/keepalive) $(sys 1 enbd/keepalive)" = "1 0" ] ||
	die "enbd/keepalive: nd0 $(sys 0 enbd/keepalive), nd1 $(sys 1 enbd/keepalive)"
[ "$(sys 0 queue/read_ahead_kb) $(sys 1 queue/read_ahead_kb)" = "2048 128" ] ||
	die "read_ahead_kb: nd0 $(sys 0 queue/read_ahead_kb), nd1 $(sys 1 queue/read_ahead_kb)"
"$CTL" status --json nd0 | grep -q '"keepalive_s": 1, "readahead_kb": 2048,' ||
	die "status --json nd0: $("$CTL" status --json nd0)"
"$CTL" status --json nd1 | grep -q '"keepalive_s": 0, "readahead_kb": 128,' ||
	die "status --json nd1: $("$CTL" status --json nd1)"

# The running daemon of nd0 follows without a restart; nd1's never probes.
k=$(keepalives 0)
wait_for -t 20 keepalives_over 0 $((k + 1)) || die "nd0's daemon does not probe: $(nbd_line 0 Keepalives:)"
[ "$(keepalives 1)" = 0 ] || die "nd1's daemon probes with keepalive=0: $(nbd_line 1 Keepalives:)"
log "keep-alives answered: nd0 $(keepalives 0), nd1 $(keepalives 1)"

# A daemon killed and its successor: the read-ahead stays.
kill -9 "$client0"
wait "$client0" 2>/dev/null || true
wait_for -t 10 proc_gone "$client0" || die "enbd-client $client0 did not die"
start_enbd_client -p "$SERVER_PORT" 127.0.0.1 /dev/nd0
wait_for -t 20 slots_attached 0 1 || die "nd0's new daemon did not attach"
readahead_is 2048 || die "read_ahead_kb after a new daemon: $(sys 0 queue/read_ahead_kb)"

# A new session configures the disk afresh: still the device's read-ahead.
"$CTL" eject nd0 || die "enbdctl eject failed"
wait_for -t 20 proc_gone "$ENBD_CLIENT_PID" || die "the daemon did not exit after the eject"
start_enbd_client -p "$SERVER_PORT" 127.0.0.1 /dev/nd0
wait_for_disk /dev/nd0
readahead_is 2048 || die "read_ahead_kb after a new session: $(sys 0 queue/read_ahead_kb)"
log "read-ahead 2048 KiB kept across a killed daemon and a new session"

"$CTL" policy nd0 --keepalive 0 --readahead 0 || die "enbdctl policy back to the module's failed"
[ "$(sys 0 enbd/keepalive) $(sys 0 queue/read_ahead_kb)" = "0 128" ] ||
	die "nd0 not back to the module's: $(nbd_line 0 Policy:)"
must_fail "$CTL" policy nd0 --keepalive 3601 2>/dev/null
must_fail "$CTL" policy nd0 --readahead 65537 2>/dev/null
