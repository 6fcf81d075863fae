#!/bin/bash
# selfcheck: slow (costs a reboot)
# expect: FAIL
# Leaves a process blocked in D state (a write to a suspended device-mapper
# device): the harness cannot kill it, fails the test and reboots the VM for
# the next one (12-fresh-boot checks).
. "$ENBD_ROOT/tests/vm/lib.sh"
require_cmd dmsetup
modprobe brd rd_nr=1 rd_size=1024
wait_for test -b /dev/ram0
dmsetup create selfcheck-stuck --table "0 2048 linear /dev/ram0 0"
dmsetup suspend selfcheck-stuck
mkdir -p "$ENBD_TEST_OUT"
cat /proc/sys/kernel/random/boot_id >"$ENBD_TEST_OUT/boot_id"
dd if=/dev/zero of=/dev/dm-0 bs=4k count=1 oflag=sync status=none </dev/null &
in_d_state() { [ "$(awk '{print $3}' "/proc/$1/stat")" = D ]; }
wait_for in_d_state $! || die "dd did not block"
