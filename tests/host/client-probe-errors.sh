#!/bin/sh
# Clear one-line errors and exit status 1: server unreachable, local address
# not ours (-b), unknown
# export (NBD_REP_ERR_UNKNOWN, and a server that just closes after
# NBD_OPT_EXPORT_NAME), TLS required, oldstyle server, not an NBD server.
. "$(dirname "$0")/client-lib.sh"

one_error() { # PATTERN: exit status 1 and exactly one line, matching PATTERN
	[ $RC -eq 1 ] || fail "exit status $RC, expected 1: $(cat "$ERR")"
	[ "$(grep -c . "$ERR")" -eq 1 ] || fail "expected one line: $(cat "$ERR")"
	grep -q "error: .*$1" "$ERR" || fail "expected '$1': $(cat "$ERR")"
	[ ! -s "$OUT" ] || fail "output on failure: $(cat "$OUT")"
}

# Nothing listens on a port we just had and gave up.
start_nbdkit memory 1M
port=$NBDKIT_PORT
kill "$NBDKIT_PID"; wait "$NBDKIT_PID" 2>/dev/null || true
run_probe -p "$port" 127.0.0.1
one_error "cannot connect to 127.0.0.1 port $port: Connection refused"
run_probe -p 10809 no-such-host.invalid
one_error "cannot resolve no-such-host.invalid"
run_probe -b 192.0.2.1 -p "$port" 127.0.0.1	# TEST-NET-1: not ours
one_error "cannot bind to 192.0.2.1: Cannot assign requested address"

start_nbdkit --filter=exportname memory 1M exportname-strict=true exportname=disk
run_probe -p "$NBDKIT_PORT" -e disk localhost
[ $RC -eq 0 ] || fail "known export refused: $(cat "$ERR")"
run_probe -p "$NBDKIT_PORT" -e nope localhost
one_error "localhost port $NBDKIT_PORT: server has no export named 'nope'"
run_probe -p "$NBDKIT_PORT" localhost
one_error "server has no default export (use -e NAME)"

# Fixed newstyle off: NBD_OPT_EXPORT_NAME, where the server can only hang up.
start_nbdkit --mask-handshake=0 --filter=exportname memory 1M exportname-strict=true exportname=disk
run_probe -p "$NBDKIT_PORT" -e nope localhost
one_error "server closed the connection: no export named 'nope'"

start_nbdkit -o memory 1M
run_probe -p "$NBDKIT_PORT" localhost
one_error "oldstyle NBD handshake, which is not supported"

start_fake 1048576 tls
run_probe -p "$FAKE_PORT" localhost
one_error "server requires TLS"

start_fake 1048576 garbage
run_probe -p "$FAKE_PORT" localhost
one_error "not an NBD server"

# Usage errors exit 2.
RC=0; "$CLIENT" >/dev/null 2>&1 || RC=$?
[ $RC -eq 2 ] || fail "no arguments: exit $RC"
RC=0; "$CLIENT" -t notanumber host /dev/nd0 >/dev/null 2>&1 || RC=$?
[ $RC -eq 2 ] || fail "bad token: exit $RC"
exit 0
