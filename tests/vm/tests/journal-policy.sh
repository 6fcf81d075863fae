#!/bin/bash
# Request aging resubmits reads at once and writes only after their channel
# lets go; the outage policy waits or fails as set; slots can be taken over.
# timeout: 150
. "$ENBD_ROOT/tests/vm/lib.sh"

prog=$ENBD_ROOT/$ENBD_BUILD/journal-policy
load_enbd partscan=0
# If a step fails, I/O may be left waiting for a channel: fail it so the
# module can be unloaded.
on_exit "$prog" --shutdown 2
"$prog" 2 || die "journal-policy reported failures"
grep -A30 '^Device 2:' /proc/nbdinfo >&2 || true
