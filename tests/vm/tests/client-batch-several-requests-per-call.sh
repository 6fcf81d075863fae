#!/bin/bash
# enbd-client hands the kernel several completions and fetches per ioctl
# (ENBD_IOC_BATCH), and no request is lost or carried out twice.  One
# channel carries fio's 2048 random 4 KiB writes at queue depth 16 and the
# reads that verify them, with fewer than MAX_IOCTLS_PER_REQUEST ioctls of
# the channel process per request (strace -c).  With one completion per
# ENBD_IOC_IO it made at least one per request, plus one for each fetch
# that found the queue empty.  Every request claimed is completed
# successfully, once: Requested = Despatched, nothing Errored, Discarded or
# Resubmitted, and fio verifies every block.
# timeout: 180
. "$ENBD_ROOT/tests/vm/guardian-lib.sh"

MAX_IOCTLS_PER_REQUEST=0.8

require_cmd strace jq
load_enbd
start_enbd_server
start_enbd_client -q -n 1 -p "$SERVER_PORT" 127.0.0.1 /dev/nd0
wait_for_disk /dev/nd0
wait_for -t 30 slots_attached 0 1 || die "the channel did not attach: $(nbd_line 0 Sockets:)"
pid=$(nbd_slot 0 Pids: 0)

counters() {
	local c
	for c in Requested: Despatched: Errored: Discarded: Resubmitted:; do
		nbd_total 0 "$c"
	done | paste -sd' '
}
read -r req0 des0 err0 dis0 res0 <<<"$(counters)"
syscalls_count_start "$pid"
(cd "$ENBD_TEST_TMP" && exec fio --name=batch --filename=/dev/nd0 --size=8M --rw=randwrite \
	--bs=4k --iodepth=16 --direct=1 --ioengine=libaio --verify=crc32c --verify_fatal=1 \
	--do_verify=1 --verify_state_save=0 --output-format=json --output=fio.json </dev/null) ||
	die "fio failed: $(cat "$ENBD_TEST_TMP/fio.json")"
ioctls=$(syscalls_count_stop ioctl)
read -r req1 des1 err1 dis1 res1 <<<"$(counters)"

ios=$(jq -r '.jobs[0] | (.write.total_ios + .read.total_ios)' "$ENBD_TEST_TMP/fio.json")
errs=$(jq -r '.jobs[0].total_err // 0' "$ENBD_TEST_TMP/fio.json")
requests=$((req1 - req0))
log "fio: $ios I/Os, $errs errors; $requests requests, $((des1 - des0)) despatched, $((err1 - err0)) errored, $((dis1 - dis0)) discarded, $((res1 - res0)) resubmitted; $ioctls ioctls"
[ "$errs" = 0 ] && [ "$ios" -ge 4096 ] || die "fio verified $ios I/Os with $errs errors"
[ "$requests" -ge 4096 ] || die "only $requests requests for $ios I/Os"
[ $((des1 - des0)) = "$requests" ] && [ "$err1" = "$err0" ] ||
	die "$requests requests claimed, $((des1 - des0)) despatched, $((err1 - err0)) errored"
[ "$dis1" = "$dis0" ] && [ "$res1" = "$res0" ] ||
	die "$((dis1 - dis0)) completions discarded, $((res1 - res0)) requests resubmitted"
[ "$ioctls" -gt 0 ] || die "strace counted no ioctls: $(cat "$ENBD_TEST_TMP/syscalls.txt")"
per=$(awk -v i="$ioctls" -v r="$requests" 'BEGIN { printf "%.2f", i / r }')
log "$per ioctls of the channel per request"
awk -v p="$per" -v m="$MAX_IOCTLS_PER_REQUEST" 'BEGIN { exit !(p < m) }' ||
	die "$per ioctls per request, not fewer than $MAX_IOCTLS_PER_REQUEST: completions not batched"
