#!/bin/sh
# More than one channel only where the server advertises
# NBD_FLAG_CAN_MULTI_CONN: `--probe -n N` (and --channels N, what
# enbd-guardian passes) is refused with exit 1 and a clear message by a
# server that does not (writable qemu-nbd, nbdkit with multi-conn-mode=disable),
# accepted with a warning under --force-multi-conn, accepted silently by
# nbdkit memory and enbd-server; a single channel never checks.  Option
# errors of -n, -b and --channels are usage errors (2), and without the
# module `-n 3` reports it once, before starting any channel.
. "$(dirname "$0")/client-lib.sh"

# refused ARGS...: --probe ARGS exits 1 with the CAN_MULTI_CONN message
refused() {
	run_probe "$@"
	[ $RC -eq 1 ] || fail "--probe $*: exit status $RC (expected 1): $(cat "$ERR")"
	grep -q "error: .*does not advertise NBD_FLAG_CAN_MULTI_CONN, so [0-9]* channels (connections) are not safe.*--force-multi-conn" "$ERR" ||
		fail "--probe $*: no clear refusal: $(cat "$ERR")"
	[ ! -s "$OUT" ] || fail "--probe $*: printed the export although it refused it: $(cat "$OUT")"
}

# accepted WARN ARGS...: --probe ARGS exits 0, with the warning if WARN is 1
accepted() {
	want=$1
	shift
	run_probe "$@"
	[ $RC -eq 0 ] || fail "--probe $*: exit status $RC: $(cat "$ERR")"
	grep -q '^size: ' "$OUT" || fail "--probe $*: no export printed"
	if grep -q 'warning: .*does not advertise NBD_FLAG_CAN_MULTI_CONN.*--force-multi-conn' "$ERR"; then
		[ "$want" = 1 ] || fail "--probe $*: warned: $(cat "$ERR")"
	else
		[ "$want" = 0 ] || fail "--probe $*: no warning: $(cat "$ERR")"
	fi
}

ran=0
if command -v qemu-nbd >/dev/null; then
	truncate -s 16M "$T/disk.img"
	port=$(rand_port)
	qemu-nbd -f raw -t -p "$port" "$T/disk.img" 2>"$T/qemu-nbd.log" &
	BG_PIDS="$BG_PIDS $!"
	wait_until 30 sh -c "'$CLIENT' --probe -q -p $port localhost >/dev/null 2>&1" ||
		fail "qemu-nbd did not come up"
	refused -p "$port" -n 2 localhost
	refused -p "$port" --channels 4 localhost
	refused -p "$port" -b 127.0.0.1 -b 127.0.0.1 localhost
	accepted 1 -p "$port" -n 2 --force-multi-conn localhost
	accepted 0 -p "$port" localhost
	accepted 0 -p "$port" -n 1 --force-multi-conn localhost
	ran=$((ran + 1))
fi

if command -v nbdkit >/dev/null; then
	start_nbdkit memory 16M
	accepted 0 -p "$NBDKIT_PORT" -n 16 localhost
	grep -q '^flags: .*multi-conn' "$OUT" || fail "nbdkit memory: no multi-conn flag: $(cat "$OUT")"
	start_nbdkit --filter=multi-conn memory 16M multi-conn-mode=disable
	refused -p "$NBDKIT_PORT" -n 2 localhost
	accepted 1 -p "$NBDKIT_PORT" --channels 2 --force-multi-conn localhost
	ran=$((ran + 1))
fi

if [ -x "$ENBD_BUILD/enbd-server" ]; then
	"$ENBD_BUILD/enbd-server" -p 0 --port-file "$T/enbd-server.port" --memory 16M \
		2>"$T/enbd-server.log" &
	BG_PIDS="$BG_PIDS $!"
	wait_until 30 test -s "$T/enbd-server.port" || fail "enbd-server did not start"
	accepted 0 -p "$(cat "$T/enbd-server.port")" -n 3 localhost
	ran=$((ran + 1))
fi
[ $ran -gt 0 ] || skip "none of qemu-nbd, nbdkit, enbd-server is available"

# usage ARGS...: enbd-client ARGS exits 2 with MESSAGE on stderr
usage() {
	msg=$1
	shift
	rc=0
	"$CLIENT" "$@" >/dev/null 2>"$T/usage.err" || rc=$?
	[ $rc -eq 2 ] && grep -qF -- "$msg" "$T/usage.err" ||
		fail "enbd-client $*: exit status $rc, '$(cat "$T/usage.err")' (expected 2, '$msg')"
}
usage '-n must be 1..16' -n 0 localhost /dev/nd0
usage '-n must be 1..16' -n 17 localhost /dev/nd0
usage '-n must be 1..16' -n 2x localhost /dev/nd0
usage '--channels must be 1..16' --channels 0 localhost /dev/nd0
usage 'more -b addresses (2) than channels (1)' -n 1 -b 127.0.0.1 -b 127.0.0.2 localhost /dev/nd0
usage '--channels 2 is fewer than the 3 channels of -n' -n 3 --channels 2 localhost /dev/nd0
usage '--slot takes one channel slot: not with -n 2' -n 2 --slot 1 localhost /dev/nd0

# No module here: one error from the supervisor, no channel started.
if [ ! -e /dev/enbd-control ]; then
	rc=0
	"$CLIENT" -n 3 -p 1 localhost /dev/nd0 >/dev/null 2>"$T/nomod.err" || rc=$?
	[ $rc -eq 1 ] || fail "-n 3 without the module: exit status $rc"
	[ "$(grep -c 'error: enbd module not loaded' "$T/nomod.err")" = 1 ] ||
		fail "-n 3 without the module: $(cat "$T/nomod.err")"
	grep -q 'channel [0-9]: pid' "$T/nomod.err" && fail "-n 3 without the module started channels"
fi
exit 0
