#!/bin/sh
# NBD error replies reach the device as the matching negative errno (EIO,
# ENOSPC), on the request they belong to, and the connection carries on.
. "$(dirname "$0")/client-lib.sh"

start_nbdkit --filter=error memory 64M error-rate=5% error=EIO
run_selftest -X 5 -n 3000 -p "$NBDKIT_PORT" localhost
expect_pass
[ "$(st errors)" -gt 0 ] || fail "no errors injected"
[ "$(st attaches)" -eq 1 ] || fail "errors broke the connection"

start_nbdkit --filter=error memory 64M error-rate=5% error=ENOSPC error-pread-rate=0
run_selftest -X 28 -n 3000 -p "$NBDKIT_PORT" localhost
expect_pass
[ "$(st errors)" -gt 0 ] || fail "no errors injected"
exit 0
