#!/bin/bash
# Hostile calls on /dev/enbd-control get their errno, lose no request, and a
# double completion is discarded and counted in /proc/nbdinfo.
# timeout: 120
. "$ENBD_ROOT/tests/vm/lib.sh"

load_enbd partscan=0
"$ENBD_ROOT/$ENBD_BUILD/ioctl-hostile" 1 || die "ioctl-hostile reported failures"
unload_enbd
