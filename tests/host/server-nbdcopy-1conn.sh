#!/bin/sh
# timeout: 60
# Random data copied in with nbdcopy over one connection comes back out equal.
. "$(dirname "$0")/server-lib.sh"
need nbdcopy
head -c 48M /dev/urandom >"$T/src"
truncate -s 48M "$T/disk.img"
start_server "$T/disk.img"
nbdcopy --connections=1 "$T/src" "$URI" || fail "nbdcopy in failed"
nbdcopy --connections=1 "$URI" "$T/out" || fail "nbdcopy out failed"
cmp "$T/src" "$T/out" || fail "data read back differs"
cmp "$T/src" "$T/disk.img" || fail "data in the served file differs"
stop_server
