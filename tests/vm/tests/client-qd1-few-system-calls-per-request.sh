#!/bin/bash
# A request at queue depth 1 costs enbd-client's channel process few system
# calls: 2000 random 4 KiB reads, one at a time, through one channel to
# enbd-server, with fewer than MAX_SYSCALLS_PER_REQUEST system calls of the
# channel per request (strace -c).  What one needs: poll, the fetch ioctl,
# sendmsg, poll, recv, the completing ioctl.  It made 15: a recv that only
# found EAGAIN, and eight reads of CLOCK_MONOTONIC, each a system call where
# the vDSO cannot read the clocksource (hpet: this VM under TCG).
# timeout: 180
. "$ENBD_ROOT/tests/vm/guardian-lib.sh"

MAX_SYSCALLS_PER_REQUEST=9
READS=2000

require_cmd strace jq
load_enbd
start_enbd_server
start_enbd_client -q -n 1 -p "$SERVER_PORT" 127.0.0.1 /dev/nd0
wait_for_disk /dev/nd0
wait_for -t 30 slots_attached 0 1 || die "the channel did not attach: $(nbd_line 0 Sockets:)"
pid=$(nbd_slot 0 Pids: 0)

req0=$(nbd_total 0 Requested:)
syscalls_count_start "$pid"
(cd "$ENBD_TEST_TMP" && exec fio --name=qd1 --filename=/dev/nd0 --size=64M --rw=randread \
	--bs=4k --iodepth=1 --direct=1 --ioengine=libaio --number_ios="$READS" --norandommap \
	--output-format=json --output=fio.json </dev/null) ||
	die "fio failed: $(cat "$ENBD_TEST_TMP/fio.json")"
calls=$(syscalls_count_stop total)
requests=$(($(nbd_total 0 Requested:) - req0))

ios=$(jq -r '.jobs[0].read.total_ios' "$ENBD_TEST_TMP/fio.json")
log "fio: $ios reads; $requests requests; $calls system calls of the channel"
[ "$ios" -ge "$READS" ] && [ "$requests" -ge "$READS" ] ||
	die "fio read $ios times, the channel carried $requests requests"
[ "$calls" -gt 0 ] || die "strace counted no system calls: $(cat "$ENBD_TEST_TMP/syscalls.txt")"
per=$(awk -v c="$calls" -v r="$requests" 'BEGIN { printf "%.2f", c / r }')
log "$per system calls of the channel per request"
awk -v p="$per" -v m="$MAX_SYSCALLS_PER_REQUEST" 'BEGIN { exit !(p < m) }' ||
	die "$per system calls per request at queue depth 1, not fewer than $MAX_SYSCALLS_PER_REQUEST"
