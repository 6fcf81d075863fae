#!/bin/sh
# timeout: 60
# Bad command lines and unusable exports are refused at start-up with a
# message and a non-zero exit, before anything listens.
. "$(dirname "$0")/server-lib.sh"
truncate -s 1M "$T/a"
expect_refusal() {
	msg=$1
	shift
	start_server_expect_failure "$@"
	grep -qi "$msg" "$SERVER_LOG" || fail "enbd-server $*: no \"$msg\" in: $(cat "$SERVER_LOG")"
}
expect_refusal "nothing to serve"
expect_refusal "cannot open" "$T/missing"
expect_refusal "need --linear or --stripe" "$T/a" "$T/a"
expect_refusal "bad --allow" --allow 300.1.1.1 "$T/a"
expect_refusal "bad --allow" --allow 10.0.0.0/33 "$T/a"
expect_refusal "bad size" --memory 12Q
expect_refusal "larger than 2^63-1" --memory 8E
expect_refusal "larger than 2^63-1" -e x=linear:memory:4E,memory:4E
expect_refusal "given twice" -e x=memory:1M -e x=memory:2M
expect_refusal "expected NAME=SPEC" -e justaname
expect_refusal "bad stripe chunk" -e x=stripe:0:$T/a,$T/a
expect_refusal "neither a regular file nor a block device" -r "$T"
expect_refusal "is a directory" "$T"
expect_refusal "bad --threads" -t 0 "$T/a"
