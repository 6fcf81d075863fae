#!/bin/bash
# The faults c and e of the matrix (fault-kill-channel-daemons,
# fault-server-frozen) on a device whose two channels speak TLS with a PSK
# (tests/vm/tls-lib.sh), under fio --verify=crc32c on /dev/nd0:
#   - kill -9 of the daemon of channel 0: the guardian starts a new one in
#     its slot, which attaches through a TLS handshake of its own;
#   - the server frozen (SIGSTOP) until the kernel has given up both
#     channels (aging 3 s) and 3 s more, then resumed: both daemons
#     reconnect through TLS and the claims are resubmitted.
# fio sees no error and every block verifies, no request errored, no I/O
# error in the kernel log, and the key is shown nowhere.
# timeout: 150
. "$ENBD_ROOT/tests/vm/tls-lib.sh"
require_cmd fio jq

tls_psk_device --aging 3 --outage fail:45000
reconnects0=$(nbd_total 0 Reconnects:) resubmitted0=$(nbd_total 0 Resubmitted:)
kmsg_mark
fio_verify_start /dev/nd0 32M 600 --iodepth=8
requested_over() { [ "$(nbd_total 0 Requested:)" -gt "$1" ] || proc_gone "$FIO_PID"; }
io_flows() {
	wait_for -t 60 requested_over "$(($(nbd_total 0 Requested:) + 100))" ||
		die "no I/O reaches nd0: $(cat /proc/nbdinfo; cat /sys/block/nd0/inflight; cat /proc/"$FIO_PID"/task/*/wchan; cat "$FIO_OUT")"
	proc_gone "$FIO_PID" && die "fio ended: $(cat "$FIO_OUT")"
	log "I/O flows"
}
io_flows

n=$(tls_lines)
old=$(nbd_slot 0 Pids: 0)
kill -KILL "$old"
log "killed the daemon of channel 0 (pid $old)"
replaced() { slot_pid_not 0 0 "$old" && slots_attached 0 2; }
wait_for -t 30 replaced || die "channel 0 was not replaced: $(nbd_line 0 Pids:)"
[ "$(tls_lines)" -gt "$n" ] || die "the new daemon made no TLS handshake: $(grep 'TLS:' "$GUARDIAN_LOG")"
log "channel 0 replaced through TLS: pid $(nbd_slot 0 Pids: 0)"
io_flows

n=$(tls_lines)
reconnects=$(nbd_total 0 Reconnects:)
kill -STOP "$SERVER_PID"
thaw() { kill -CONT "$SERVER_PID" 2>/dev/null || true; }
on_exit thaw
t0=$SECONDS
log "server frozen"
no_channel() { [ "$(nbd_total 0 Sockets:)" = 0 ]; }
wait_for -t 20 no_channel || die "the channels were not given up: $(nbd_line 0 Sockets:)"
nap 3
kill -CONT "$SERVER_PID"
log "server resumed after $((SECONDS - t0)) s"
both_reconnected() {
	[ "$(nbd_total 0 Reconnects:)" -ge $((reconnects + 2)) ] && slots_attached 0 2
}
wait_for -t 40 both_reconnected || die "the channels did not reconnect: $(nbd_line 0 Reconnects:)"
[ "$(tls_lines)" -ge $((n + 2)) ] || die "not two TLS reconnects: $(grep 'TLS:' "$GUARDIAN_LOG")"
[ "$(nbd_total 0 Resubmitted:)" -gt "$resubmitted0" ] || die "nothing resubmitted"
log "both channels reconnected through TLS"
io_flows

fio_verify_stop || die "fio failed: $(cat "$FIO_OUT")"
log "figure: $ENBD_TEST_NAME: longest I/O stall $FIO_MAX_MS ms ($FIO_WRITES writes, $FIO_READS verified reads), reconnects $(($(nbd_total 0 Reconnects:) - reconnects0))"
[ "$(nbd_total 0 Errored:)" = 0 ] || die "requests errored: $(nbd_line 0 Errored:)"
bad=$(kernel_log_since_mark | grep -E 'I/O error|failing I/O|no channel for') && die "kernel log: $bad"
tls_key_not_shown
log "TLS channels: daemon killed, server frozen, every block verified, no key shown"
