#!/bin/sh
# Build the enbd-client reply-parsing libFuzzer target and run it.
#   daemon/client/fuzz/fuzz-reply.sh [SECONDS] [--keep]
#   ENBD_FUZZ_RUNS=N daemon/client/fuzz/fuzz-reply.sh   (N executions instead)
# SECONDS defaults to 60.  The seed corpus (fuzz-reply-corpus) is only
# read; new inputs go to a scratch directory, kept with --keep (its path is
# printed) so interesting ones can be added with libFuzzer's -merge=1.
# Crashes are written to build/fuzz/artifacts/.  Exit status: 0 when
# nothing was found, 77 when clang/libFuzzer are missing, 1 otherwise.
set -eu
TOP=$(cd "$(dirname "$0")/../../.." && pwd)
SECONDS_TO_RUN=${1:-60}
KEEP=${2:-}
BUILD=${ENBD_FUZZ_BUILD:-build/fuzz}
FUZZER=$TOP/$BUILD/enbd-client-fuzz-reply

command -v clang >/dev/null 2>&1 || { echo "fuzz-reply: clang is not installed" >&2; exit 77; }
echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }' |
	clang -fsanitize=fuzzer -x c -o /dev/null - 2>/dev/null ||
	{ echo "fuzz-reply: clang has no libFuzzer (libclang-rt-*-dev)" >&2; exit 77; }
make -s -C "$TOP" BUILD="$BUILD" client-fuzz-reply >&2

work=$(mktemp -d "${TMPDIR:-/tmp}/enbd-fuzz-reply.XXXXXX")
[ -n "$KEEP" ] || trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$TOP/$BUILD/artifacts"
if [ -n "${ENBD_FUZZ_RUNS:-}" ]; then
	limit="-runs=$ENBD_FUZZ_RUNS"
else
	limit="-max_total_time=$SECONDS_TO_RUN"
fi
"$FUZZER" "$limit" -timeout=10 -max_len=8192 -print_final_stats=1 \
	-artifact_prefix="$TOP/$BUILD/artifacts/fuzz-reply-" \
	"$work/corpus" "$TOP/daemon/client/fuzz/fuzz-reply-corpus" 2>"$work/log" || {
	tail -n 60 "$work/log" >&2
	echo "fuzz-reply: the fuzzer found a problem; see $TOP/$BUILD/artifacts/" >&2
	exit 1
}
grep -E "^stat::number_of_executed_units|^stat::average_exec_per_sec|^stat::new_units_added|cov:" \
	"$work/log" | tail -n 4 >&2
[ -z "$KEEP" ] || echo "fuzz-reply: new inputs kept in $work/corpus" >&2
