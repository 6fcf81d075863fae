#!/bin/sh
# timeout: 120
# The libFuzzer target for enbd-client's reply parsing (a hostile server's
# answers in transmission) runs for a few seconds from the seed corpus
# without finding a crash, leak, hang, undefined behaviour or a completion
# the kernel would reject (daemon/client/fuzz/fuzz-reply.sh for longer).
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
rc=0
"$TOP/daemon/client/fuzz/fuzz-reply.sh" "${ENBD_FUZZ_SECONDS:-10}" || rc=$?
[ $rc -eq 0 ] || [ $rc -eq 77 ] || echo "FAIL client-fuzz-reply-brief: fuzz-reply.sh exited $rc" >&2
exit $rc
