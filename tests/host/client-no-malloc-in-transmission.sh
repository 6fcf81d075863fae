#!/bin/sh
# A channel allocates nothing while it carries requests (issue 9, item 8):
# its request buffers are preallocated by xmit_init, before mlockall, so
# writeback under memory pressure never waits for the daemon's own
# allocations.  An LD_PRELOAD shim (client_malloc_log.c) logs every
# allocation after the first request went out; 3000 requests of every type
# at queue depth 128 against nbdkit must log none.  The ASan build has its
# own malloc, which the shim cannot see: plain build only.
. "$(dirname "$0")/client-lib.sh"

start_nbdkit memory 64M
expect_no_mallocs -n 3000 -p "$NBDKIT_PORT" localhost
exit 0
