#!/bin/sh
# timeout: 60
# Random data copied in with nbdcopy over four connections (multi-conn, many
# requests in flight each) comes back out equal, from a memory export.
. "$(dirname "$0")/server-lib.sh"
need nbdcopy
head -c 64M /dev/urandom >"$T/src"
start_server --memory 64M
nbdcopy --connections=4 --requests=32 "$T/src" "$URI" || fail "nbdcopy in failed"
nbdcopy --connections=4 --requests=32 "$URI" "$T/out" || fail "nbdcopy out failed"
cmp "$T/src" "$T/out" || fail "data read back differs"
stop_server
