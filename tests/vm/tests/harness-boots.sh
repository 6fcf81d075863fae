#!/bin/bash
# timeout: 60
# The VM harness itself: root in the VM, the Debian kernel we meant to boot,
# this checkout visible (read-only) at the same path, a writable root file
# system, the devices and mounts tests rely on.
. "$ENBD_ROOT/tests/vm/lib.sh"

[ "$(id -u)" = 0 ] || die "not root: $(id)"
[ "${ENBD_VM:-}" = 1 ] || die "ENBD_VM is not set: not run by the VM harness?"
grep -q "^Linux version $ENBD_KVER " /proc/version || die "unexpected kernel: $(cat /proc/version)"
grep -qi debian /proc/version || die "not a Debian kernel: $(cat /proc/version)"
[ "$(uname -r)" = "$("$ENBD_ROOT/tools/kernel-version")" ] ||
	die "booted $(uname -r), tools/kernel-version says $("$ENBD_ROOT/tools/kernel-version")"
[ "$(pwd -P)" = "$ENBD_ROOT" ] || die "cwd is $(pwd -P), not $ENBD_ROOT"
[ -f "$ENBD_ROOT/Makefile" ] || die "the repository is not visible at $ENBD_ROOT"
[ -f "$ENBD_ROOT/include/uapi/enbd.h" ] || die "the repository is incomplete at $ENBD_ROOT"

# Mounts: fstype of each mount point (the last mount on a path wins).
declare -A fstype=()
while read -r _ mnt type _; do
	fstype[$mnt]=$type
done </proc/mounts
# The root is a tmpfs overlay over the host's read-only root.
[ "${fstype[/]}" = overlay ] || die "/ is ${fstype[/]}, not overlay"
echo written >/var/tmp/harness-boots
on_exit rm -f /var/tmp/harness-boots
[ "$(cat /var/tmp/harness-boots)" = written ] || die "/var/tmp is not writable"
# ... except the checkout: read-only and uncached (sees rebuilt files).
[ "${fstype[$ENBD_ROOT]:-}" = 9p ] || die "$ENBD_ROOT is not its own 9p mount"
must_fail touch "$ENBD_ROOT/harness-boots.$$" 2>/dev/null
echo scratch >"$ENBD_TEST_TMP/x"
[ "$TMPDIR" = "$ENBD_TEST_TMP" ] || die "TMPDIR is not ENBD_TEST_TMP"

# Fresh kernel file systems and the mounts the guest init promises.
for m in /proc:proc /sys:sysfs /dev:devtmpfs /dev/pts:devpts /tmp:tmpfs /run:tmpfs \
	/run/enbd-out:9p /sys/fs/cgroup:cgroup2 /sys/kernel/debug:debugfs; do
	[ "${fstype[${m%%:*}]:-}" = "${m#*:}" ] || die "${m%%:*} is not ${m#*:}"
done
read -r pid1 </proc/1/comm
[ "$pid1" = bash ] || [ "$pid1" = guest-runner ] || die "PID 1 is $pid1"
[ -c /dev/kmsg ] || die "no /dev/kmsg"
ip -o link show lo | grep -q 'UP' || die "lo is down"
[ "$(sysctl -n kernel.hung_task_timeout_secs)" -le 60 ] || die "hung task timeout not set"

# Host packages are usable as they are.
for c in nbdkit fio mdadm ip mkfs.ext4 modprobe; do
	command -v "$c" >/dev/null || die "$c missing in the guest"
done
modprobe brd rd_nr=1 rd_size=1024 || die "modprobe brd failed"
wait_for -t 10 test -b /dev/ram0 || die "no /dev/ram0"
log "kernel $(uname -r), $(nproc) CPUs, $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) MiB"
