#!/bin/sh
# timeout: 120
# The libFuzzer target for enbd-server's handshake and request parsing runs
# for a few seconds from the seed corpus without finding a crash, leak,
# hang or undefined behaviour (daemon/server/fuzz/run-fuzz.sh for longer).
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
rc=0
"$TOP/daemon/server/fuzz/run-fuzz.sh" "${ENBD_FUZZ_SECONDS:-10}" || rc=$?
[ $rc -eq 0 ] || echo "FAIL server-fuzz-brief: run-fuzz.sh exited $rc" >&2
exit $rc
