#!/bin/sh
# timeout: 120
# The libFuzzer target for lib/tls-record.c's receiving side (well-encrypted
# records of any content an authenticated TLS 1.3 peer may send after the
# handshake) runs for a few seconds from the seed corpus without a crash,
# leak, hang, undefined behaviour, wrong data or a refusal missed or made
# wrongly (tools/run-fuzz tls-record for longer).
# sanitizers: no (the fuzz target is built with ASan and UBSan itself)
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
rc=0
"$TOP/tools/run-fuzz" tls-record "${ENBD_FUZZ_SECONDS:-10}" || rc=$?
[ $rc -eq 0 ] || [ $rc -eq 77 ] || echo "FAIL tls-record-fuzz-brief: run-fuzz exited $rc" >&2
exit $rc
