#!/bin/bash
# keepalive and readahead are visible in sysfs, readahead reaches every
# device's read_ahead_kb, and both can be changed while the module is loaded.
# timeout: 60
. "$ENBD_ROOT/tests/vm/lib.sh"

params=/sys/module/enbd/parameters
load_enbd keepalive=7 readahead=512 ndevs=3

[ "$(cat $params/keepalive)" = 7 ] || die "keepalive is $(cat $params/keepalive), not 7"
[ "$(cat $params/readahead)" = 512 ] || die "readahead is $(cat $params/readahead), not 512"
[ "$(cat $params/ndevs)" = 3 ] || die "ndevs is $(cat $params/ndevs), not 3"
[ -b /dev/nd2 ] && [ ! -e /dev/nd3 ] || die "ndevs=3 did not create exactly nd0..nd2"
for dev in nd0 nd1 nd2; do
	ra=$(cat /sys/block/$dev/queue/read_ahead_kb)
	[ "$ra" = 512 ] || die "$dev read_ahead_kb is $ra, not 512"
done

echo 1024 > $params/readahead
ra=$(cat /sys/block/nd1/queue/read_ahead_kb)
[ "$ra" = 1024 ] || die "after writing 1024, nd1 read_ahead_kb is $ra"
echo 3 > $params/keepalive
[ "$(cat $params/keepalive)" = 3 ] || die "keepalive did not change at runtime"

# Out-of-range values are refused and change nothing.
must_fail sh -c "echo 99999999 > $params/readahead" 2>/dev/null
must_fail sh -c "echo -1 > $params/keepalive" 2>/dev/null
[ "$(cat $params/readahead)" = 1024 ] || die "a refused value changed readahead"
grep -q '^Options:.*keepalive 3s, readahead 1024KiB' /proc/nbdinfo ||
	die "/proc/nbdinfo does not show the options: $(head -1 /proc/nbdinfo)"
grep -q '^Device 0-2:.*Closed' /proc/nbdinfo || die "/proc/nbdinfo does not summarise closed devices"

unload_enbd
insmod "$ENBD_MODULE" ndevs=0 2>/dev/null && { rmmod enbd; die "ndevs=0 was accepted"; }
log "ok"
