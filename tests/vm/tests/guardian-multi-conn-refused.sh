#!/bin/bash
# enbd-guardian with a device of two channels against writable qemu-nbd
# (no CAN_MULTI_CONN): it passes --channels 2, every daemon refuses the
# server and exits 1 before serving the device (the guardian logs the losses
# and keeps retrying with backoff), nothing is attached or configured.  With
# --force-multi-conn in the device's line, against nbdkit with
# multi-conn-mode=disable (several connections, no CAN_MULTI_CONN), the
# daemons warn, both attach and the device is served.
# timeout: 200
. "$ENBD_ROOT/tests/vm/guardian-lib.sh"
require_cmd qemu-nbd nbdkit

load_enbd
truncate -s 64M "$ENBD_TEST_TMP/disk.img"
port=$((20000 + RANDOM % 20000))
qemu-nbd -f raw -t -b 127.0.0.1 -p "$port" "$ENBD_TEST_TMP/disk.img" </dev/null >&2 &
qemu_pid=$!
on_exit kill_and_wait "$qemu_pid"
wait_for -t 30 "$ENBD_CLIENT" --probe -q -p "$port" 127.0.0.1 >/dev/null 2>&1 ||
	die "qemu-nbd did not come up"

start_guardian --client "/dev/nd0 127.0.0.1 $port -n 2"
refused_twice() {
	[ "$(grep -c 'lost child: pid [0-9]*, exit status 1, .*: /dev/nd0 channel [01], restart in' "$GUARDIAN_LOG")" -ge 4 ]
}
wait_for -t 60 refused_twice || die "the daemons were not refused twice each"
[ "$(grep -c 'error: 127.0.0.1 port [0-9]*: export .* does not advertise NBD_FLAG_CAN_MULTI_CONN, so 2 channels' "$GUARDIAN_LOG")" -ge 4 ] ||
	die "the daemons did not say why they gave up"
guardian_logged 'serving /dev/nd0' && die "a daemon served the device"
[ "$(cat /sys/block/nd0/size)" = 0 ] || die "the device was configured"
! nbd_line 0 Sockets: >/dev/null || [ "$(nbd_total 0 Sockets:)" = 0 ] ||
	die "channels attached: $(nbd_line 0 Sockets:)"
stop_guardian || die "enbd-guardian exited with status $? on SIGTERM"

: >"$GUARDIAN_LOG"
start_nbdkit --filter=multi-conn memory 64M multi-conn-mode=disable >/dev/null
start_guardian --client "/dev/nd0 127.0.0.1 $NBDKIT_PORT -n 2 --force-multi-conn"
wait_for_disk /dev/nd0
wait_for -t 20 slots_attached 0 2 || die "the two channels did not attach: $(nbd_line 0 Sockets:)"
[ "$(grep -c 'warning: .*does not advertise NBD_FLAG_CAN_MULTI_CONN; --force-multi-conn: going on with 2 channels' "$GUARDIAN_LOG")" = 2 ] ||
	die "not one warning per daemon"
guardian_logged 'lost child' && die "a daemon died"
dd if=/dev/urandom of="$ENBD_TEST_TMP/data" bs=1M count=4 status=none
dd if="$ENBD_TEST_TMP/data" of=/dev/nd0 bs=1M oflag=direct status=none || die "write failed"
echo 3 >/proc/sys/vm/drop_caches
cmp -n 4M "$ENBD_TEST_TMP/data" /dev/nd0 || die "data differs"
kill_and_wait "$GUARDIAN_PID" USR2 40 || die "enbd-guardian exited with status $? on SIGUSR2"
unload_enbd || die "rmmod enbd failed"
