#!/bin/bash
# /proc/nbdinfo counters move by exactly what a known workload asks for.
# timeout: 120
. "$ENBD_ROOT/tests/vm/lib.sh"

# total NAME: the device total of the "[0] NAME:" line
total() {
	sed -n "s/^\[0\] $1: *\([0-9]*\).*/\1/p" /proc/nbdinfo
}

expect_delta() { # NAME BEFORE DELTA
	local now
	now=$(total "$1")
	[ "$now" -eq $(($2 + $3)) ] || die "$1 moved from $2 to $now, expected +$3"
}

load_enbd
start_nbdkit memory 64M >/dev/null
start_enbd_client -p "$NBDKIT_PORT" 127.0.0.1 /dev/nd0
wait_for_disk /dev/nd0
grep -q '^Device 0:.*Open' /proc/nbdinfo || die "device 0 not shown as open"
grep -q '^\[0\] Size: *67108864$' /proc/nbdinfo || die "size is not 64 MiB"
grep -q '^\[0\] Blocks: *131072$' /proc/nbdinfo || die "wrong block count"
grep -q '^\[0\] Sockets: *1.(\(+\|\*\))$' /proc/nbdinfo || die "one live socket expected"
grep -q '^Device 1-3:.*Closed' /proc/nbdinfo || die "devices 1-3 not summarised as closed"

req=$(total Requested) done=$(total Despatched) bytes=$(total Bytes)
# 10 direct 4 KiB reads: exactly 10 requests, 40960 bytes.
dd if=/dev/nd0 of=/dev/null bs=4k count=10 iflag=direct status=none
expect_delta Requested "$req" 10
expect_delta Despatched "$done" 10
expect_delta Bytes "$bytes" 40960

# 5 direct 64 KiB writes: 5 more requests, 327680 more bytes.
req=$(total Requested) bytes=$(total Bytes)
dd if=/dev/zero of=/dev/nd0 bs=64k count=5 oflag=direct status=none
expect_delta Requested "$req" 5
expect_delta Bytes "$bytes" 327680

# A discard is one request and carries no payload.
req=$(total Requested) bytes=$(total Bytes)
# -f: no signature probe (which would read)
blkdiscard -f -o 0 -l 1048576 /dev/nd0
expect_delta Requested "$req" 1
expect_delta Bytes "$bytes" 0

[ "$(total Errored)" -eq 0 ] || die "errors counted"
[ "$(total Pending)" -eq 0 ] || die "requests still pending"
grep -q '^\[0\] Queued: *0 current/0 real/[1-9][0-9]* max$' /proc/nbdinfo ||
	die "queue not idle: $(grep Queued /proc/nbdinfo)"
cat /proc/nbdinfo >&2
