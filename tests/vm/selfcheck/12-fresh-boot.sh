#!/bin/bash
# selfcheck: slow (needs 11-unkillable)
# expect: PASS
. "$ENBD_ROOT/tests/vm/lib.sh"
old=$(cat "${ENBD_TEST_OUT%/*}/11-unkillable.d/boot_id")
[ "$(cat /proc/sys/kernel/random/boot_id)" != "$old" ] || die "not rebooted after 11-unkillable"
[ ! -e /dev/dm-0 ] || die "the stuck device is still there"
