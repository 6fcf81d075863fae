#!/bin/sh
# -b takes an interface name as well as a local address (SO_BINDTODEVICE):
# bound to lo, a connection to 127.0.0.1 works; bound to any other
# interface it cannot reach 127.0.0.1 (unreachable, or no answer within the
# 10 s connect timeout), which shows the binding is applied.  A name that
# is neither an address nor an interface is refused.
# timeout: 60
. "$(dirname "$0")/client-lib.sh"

start_nbdkit memory 1M
run_probe -b lo -p "$NBDKIT_PORT" 127.0.0.1
[ $RC -eq 0 ] || fail "probe -b lo failed: $(cat "$ERR")"
grep -qx 'size: 1048576' "$OUT" || fail "probe -b lo: $(cat "$OUT")"

run_probe -b no-such-if0 -p "$NBDKIT_PORT" 127.0.0.1
[ $RC -eq 1 ] && grep -q 'error: cannot bind to no-such-if0' "$ERR" ||
	fail "-b no-such-if0: exit status $RC, $(cat "$ERR")"

other=""
for dev in /sys/class/net/*; do
	dev=${dev##*/}
	[ "$dev" = lo ] || { other=$dev; break; }
done
[ -n "$other" ] || skip "no network interface but lo"
run_probe -b "$other" -p "$NBDKIT_PORT" 127.0.0.1
[ $RC -eq 1 ] && grep -q "error: cannot connect to 127.0.0.1 port $NBDKIT_PORT" "$ERR" ||
	fail "-b $other reached 127.0.0.1: the interface binding was not applied ($RC: $(cat "$ERR"))"
exit 0
