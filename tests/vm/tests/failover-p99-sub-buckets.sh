#!/bin/bash
# The detector's p99 (and with it its threshold, 2 x p99) follows the
# latencies within a sub-bucket: 16 reads held about 300 ms each read as a
# p99 of 288-352 ms (threshold about 640 ms), where log2 buckets put it on
# 512 ms (threshold 1024 ms), so the threshold jumped between 500 and
# 1024 ms with the host's load.  Driven through /dev/enbd-control
# (tests/progs/failover-detector.c p99-sub-buckets).
# timeout: 60
. "$ENBD_ROOT/tests/vm/lib.sh"

prog=$ENBD_ROOT/$ENBD_BUILD/failover-detector
load_enbd partscan=0	# the program is the daemon: no partition-table reads for it
on_exit "$prog" --shutdown 2
"$prog" p99-sub-buckets 2 || die "failover-detector p99-sub-buckets reported failures"
grep '^\[2\] Detector:' /proc/nbdinfo >&2
