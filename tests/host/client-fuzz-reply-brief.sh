#!/bin/sh
# timeout: 120
# The libFuzzer target for enbd-client's reply parsing (a hostile server's
# answers in transmission) runs for a few seconds from the seed corpus
# without finding a crash, leak, hang, undefined behaviour or a completion
# the kernel would reject (tools/run-fuzz client-reply for longer).
# sanitizers: no (the fuzz target is built with ASan and UBSan itself)
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
rc=0
"$TOP/tools/run-fuzz" client-reply "${ENBD_FUZZ_SECONDS:-10}" || rc=$?
[ $rc -eq 0 ] || [ $rc -eq 77 ] || echo "FAIL client-fuzz-reply-brief: run-fuzz exited $rc" >&2
exit $rc
