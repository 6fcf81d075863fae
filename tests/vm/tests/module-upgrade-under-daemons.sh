#!/bin/bash
# Replacing the module under running daemons is refused, not a crash: with
# a guardian's two channels and fio writing and verifying on /dev/nd0,
# `rmmod enbd' and `modprobe -r enbd' fail with "in use" (the open control
# files and the open disk hold the module's reference count), nothing is
# logged by the kernel, fio goes on without an error.  With fio done,
# still refused while the daemons run.  Then the documented upgrade
# (README, enbd(4)): SIGUSR2 to the guardian (it exits 0), `modprobe -r
# enbd', load the new build (here the same enbd.ko, with another option to
# show a fresh load), a guardian started again: its daemons attach, and
# the device holds the data written before, byte for byte.
# timeout: 240
# modprobe: enbd
. "$ENBD_ROOT/tests/vm/guardian-lib.sh"
require_cmd fio jq sha256sum

install_enbd_module
modprobe enbd keepalive=5 || die "modprobe enbd failed"
on_exit unload_enbd
start_enbd_server
client="/dev/nd0 127.0.0.1 $SERVER_PORT -n 2"
start_guardian --client "$client"
wait_for_disk /dev/nd0
wait_for -t 20 slots_attached 0 2 || die "the two channels did not attach"

fio_verify_start /dev/nd0 16M 60
requested_over() { [ "$(nbd_total 0 Requested:)" -gt "$1" ]; }
wait_for -t 30 requested_over 50 || die "no I/O reached the device"
for cmd in "rmmod enbd" "modprobe -r enbd"; do
	out=$($cmd 2>&1) && die "$cmd succeeded under running daemons and fio"
	grep -q "in use" <<<"$out" || die "$cmd: '$out' (expected: in use)"
	log "$cmd under fio: $out"
done
grep -q '^enbd ' /proc/modules || die "enbd is gone"
refs=$(cat /sys/module/enbd/refcnt)
[ "$refs" -ge 3 ] || die "module reference count $refs under 2 daemons and fio (expected >= 3)"
log "module reference count under 2 daemons and fio: $refs"
before=$(nbd_total 0 Requested:)
wait_for -t 30 requested_over $((before + 50)) || die "I/O stopped after the rmmod attempts"
fio_verify_stop || die "fio failed: $(cat "$FIO_OUT")"
[ "$(nbd_total 0 Errored:)" = 0 ] || die "requests errored: $(nbd_line 0 Errored:)"

out=$(rmmod enbd 2>&1) && die "rmmod succeeded while the daemons run"
log "rmmod with the daemons alone: $out (reference count $(cat /sys/module/enbd/refcnt))"
sum_before=$(dd if=/dev/nd0 bs=1M count=16 iflag=direct status=none | sha256sum)

# The upgrade.
stop_guardian USR2 || die "the guardian exited with status $? on SIGUSR2"
modprobe -r enbd || die "modprobe -r enbd after SIGUSR2 failed"
log "modprobe -r enbd after SIGUSR2: unloaded"
modprobe enbd keepalive=7 || die "modprobe of the new module failed"
grep -q 'keepalive 7s' /proc/nbdinfo || die "not a fresh load: $(head -n 1 /proc/nbdinfo)"
start_guardian --client "$client"
wait_for_disk /dev/nd0
wait_for -t 20 slots_attached 0 2 || die "the new guardian's daemons did not attach"
sum_after=$(dd if=/dev/nd0 bs=1M count=16 iflag=direct status=none | sha256sum)
[ "$sum_after" = "$sum_before" ] || die "the data changed across the upgrade"
log "after the upgrade the device holds the same 16 MiB (sha256 ${sum_after%% *})"
stop_guardian USR2 || die "the second guardian exited with status $? on SIGUSR2"
