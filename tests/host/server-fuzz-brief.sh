#!/bin/sh
# timeout: 120
# The libFuzzer target for enbd-server's handshake and request parsing runs
# for a few seconds from the seed corpus without finding a crash, leak,
# hang or undefined behaviour (tools/run-fuzz server for longer).
# sanitizers: no (the fuzz target is built with ASan and UBSan itself)
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
rc=0
"$TOP/tools/run-fuzz" server "${ENBD_FUZZ_SECONDS:-10}" || rc=$?
[ $rc -eq 0 ] || echo "FAIL server-fuzz-brief: run-fuzz exited $rc" >&2
exit $rc
