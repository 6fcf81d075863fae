#!/bin/bash
# expect: FAIL
# timeout: 60
# A task blocked in D state longer than hung_task_timeout_secs must be seen:
# writes to a suspended device-mapper device block until it is resumed.
. "$ENBD_ROOT/tests/vm/lib.sh"
require_cmd dmsetup
modprobe brd rd_nr=1 rd_size=1024
wait_for test -b /dev/ram0
dmsetup create selfcheck-hung --table "0 2048 linear /dev/ram0 0"
on_exit dmsetup remove selfcheck-hung
dmsetup suspend selfcheck-hung
sysctl -q -w kernel.hung_task_timeout_secs=1
dd if=/dev/zero of=/dev/dm-0 bs=4k count=1 conv=fsync status=none &
dd_pid=$!
hung_reported() { dmesg | grep -q 'blocked for more than'; }
wait_for -t 30 hung_reported || log "no hung task report"
dmsetup resume selfcheck-hung
wait "$dd_pid"
