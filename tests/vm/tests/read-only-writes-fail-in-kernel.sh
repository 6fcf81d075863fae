#!/bin/bash
# A read-only device fails writes, trims and write-zeroes in the module with
# an I/O error, also those the block layer lets through (a device-mapper table
# opened for writing): the daemon is never handed one.
# timeout: 120
. "$ENBD_ROOT/tests/vm/lib.sh"

require_cmd dmsetup
load_enbd
"$ENBD_ROOT/$ENBD_BUILD/read-only" 1 || die "read-only reported failures"
unload_enbd
