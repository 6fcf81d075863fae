#!/bin/bash
# expect: PASS
. "$ENBD_ROOT/tests/vm/lib.sh"
! pgrep -x sleep >/dev/null || die "leftover sleep: $(pgrep -ax sleep)"
! mountpoint -q /mnt/selfcheck || die "leftover mount"
! grep -q '^brd ' /proc/modules || die "leftover module brd"
[ -z "$(losetup -a)" ] || die "leftover loop device: $(losetup -a)"
[ -z "$(ip netns list)" ] || die "leftover netns: $(ip netns list)"
grep -q 'killed leftover processes' "${ENBD_TEST_OUT%/*}/09-leftovers.log" ||
	die "the harness did not log the leftovers"
