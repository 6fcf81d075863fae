#!/bin/sh
# Build the enbd-server libFuzzer target and run it for a bounded time.
#   daemon/server/fuzz/run-fuzz.sh [SECONDS] [--keep]
# SECONDS defaults to 60.  The seed corpus (fuzz/corpus) is only read; new
# inputs go to a scratch directory, kept with --keep (its path is printed)
# so interesting ones can be added to the corpus with libFuzzer's -merge=1.
# Crashes are written to build/fuzz/artifacts/.  Exit status: 0 when
# nothing was found, 77 when clang/libFuzzer are missing, 1 otherwise.
set -eu
TOP=$(cd "$(dirname "$0")/../../.." && pwd)
SECONDS_TO_RUN=${1:-60}
KEEP=${2:-}
# its own build directory: nothing else to rebuild, no stray files to trip on
BUILD=${ENBD_FUZZ_BUILD:-build/fuzz}
FUZZER=$TOP/$BUILD/enbd-server-fuzz

command -v clang >/dev/null 2>&1 || { echo "run-fuzz: clang is not installed" >&2; exit 77; }
echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }' |
	clang -fsanitize=fuzzer -x c -o /dev/null - 2>/dev/null ||
	{ echo "run-fuzz: clang has no libFuzzer (libclang-rt-*-dev)" >&2; exit 77; }
make -s -C "$TOP" BUILD="$BUILD" server-fuzz >&2

work=$(mktemp -d "${TMPDIR:-/tmp}/enbd-fuzz.XXXXXX")
[ -n "$KEEP" ] || trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus" "$TOP/$BUILD/artifacts"
# -rss_limit_mb: the server may legitimately hold a 32 MiB payload per request
"$FUZZER" -max_total_time="$SECONDS_TO_RUN" -timeout=10 -rss_limit_mb=2048 \
	-max_len=8192 -print_final_stats=1 \
	-artifact_prefix="$TOP/$BUILD/artifacts/" \
	"$work/corpus" "$TOP/daemon/server/fuzz/corpus" 2>"$work/log" || {
	tail -n 60 "$work/log" >&2
	echo "run-fuzz: the fuzzer found a problem; see $TOP/$BUILD/artifacts/" >&2
	exit 1
}
grep -E "^stat::number_of_executed_units|^stat::new_units_added|cov:" "$work/log" | tail -n 3 >&2
[ -z "$KEEP" ] || echo "run-fuzz: new inputs kept in $work/corpus" >&2
