#!/bin/sh
# timeout: 120
# The libFuzzer target for enbd-client's handshake parsing (a hostile
# server) runs for a few seconds from the seed corpus without finding a
# crash, leak, hang or undefined behaviour
# (tools/run-fuzz client-handshake for longer).
# sanitizers: no (the fuzz target is built with ASan and UBSan itself)
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
rc=0
"$TOP/tools/run-fuzz" client-handshake "${ENBD_FUZZ_SECONDS:-10}" || rc=$?
[ $rc -eq 0 ] || [ $rc -eq 77 ] || echo "FAIL client-fuzz-handshake-brief: run-fuzz exited $rc" >&2
exit $rc
