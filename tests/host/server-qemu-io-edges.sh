#!/bin/sh
# timeout: 60
# qemu-io reads and writes at odd offsets and lengths, and at the very end of
# a 2^62-byte sparse memory export.
. "$(dirname "$0")/server-lib.sh"
need qemu-io
start_server --memory 4E
SIZE=4611686018427387904
END3=$((SIZE - 3))
qio() { qemu-io -f raw "$URI" "$@"; }
out=$(qio -c "write -P 0xab 12345 777" -c "write -P 0xcd $END3 3" \
	-c "read -P 0xab 12345 777" -c "read -P 0 12344 1" -c "read -P 0 13122 1" \
	-c "read -P 0xcd $END3 3" -c "read -P 0 $((SIZE - 4096)) 4093" 2>&1) ||
	fail "qemu-io failed: $out"
echo "$out" | grep -q "Pattern verification failed" && fail "pattern mismatch: $out"
[ "$(echo "$out" | grep -c '^read')" = 5 ] || fail "reads missing: $out"
# past the end is refused
out=$(qio -c "read $((SIZE - 1)) 2" 2>&1) || true
echo "$out" | grep -qi "error\|invalid\|out of range" || fail "read past the end accepted: $out"
# only the two written pages take memory
rss=$(awk '/VmRSS/ {print $2}' /proc/$SERVER_PID/status)
[ "$rss" -lt 200000 ] || fail "server RSS $rss kB: the export is not sparse"
stop_server
