#!/bin/bash
# expect: PASS
# Leaves a process, a mount, a module, a loop device and a network namespace
# behind; the harness must clean them up (10-leftovers-gone checks).
setsid sleep 1000 </dev/null >/dev/null 2>&1 &
mkdir -p /mnt/selfcheck
mount -t tmpfs selfcheck /mnt/selfcheck
modprobe brd rd_nr=1 rd_size=1024
truncate -s 1M /var/tmp/selfcheck.img
losetup -f /var/tmp/selfcheck.img
ip netns add selfcheck
