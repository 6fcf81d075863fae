#!/bin/bash
# /dev/nd0 comes without an I/O scheduler ("none": sorting requests for a
# server that orders its own I/O buys nothing) and without the block layer's
# default segment limits (128 segments of 64 KiB: its payloads are copied,
# never DMA'd), so that only max_hw_sectors (ENBD_MAX_IO_BYTES, 512 KiB)
# bounds a request.
# timeout: 120
. "$ENBD_ROOT/tests/vm/guardian-lib.sh"

load_enbd
start_enbd_server
start_enbd_client -q -p "$SERVER_PORT" 127.0.0.1 /dev/nd0
wait_for_disk /dev/nd0
q=/sys/block/nd0/queue
sched=$(cat $q/scheduler)
log "scheduler: $sched; max_segments $(cat $q/max_segments), max_segment_size $(cat $q/max_segment_size), max_hw_sectors_kb $(cat $q/max_hw_sectors_kb)"
[[ $sched = *"[none]"* ]] || die "scheduler $sched, not none"
[ "$(cat $q/max_segments)" -ge 65535 ] || die "max_segments $(cat $q/max_segments)"
[ "$(cat $q/max_segment_size)" -ge $((1 << 31)) ] || die "max_segment_size $(cat $q/max_segment_size)"
[ "$(cat $q/max_hw_sectors_kb)" = 512 ] || die "max_hw_sectors_kb $(cat $q/max_hw_sectors_kb), not 512"

