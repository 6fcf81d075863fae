#!/bin/sh
# The channel against qemu-nbd, nbd-server and enbd-server with the
# simulated device (reads and writes, every read checked); at the end the
# server's backing file must equal the shadow copy byte for byte.
. "$(dirname "$0")/client-lib.sh"

ran=0
check_dump() { # NAME IMAGE
	cmp -s "$T/$1.dump" "$2" || fail "$1: the backing file differs from what was written"
}

if command -v qemu-nbd >/dev/null; then
	truncate -s 64M "$T/q.img"
	port=$(rand_port)
	qemu-nbd -f raw -p "$port" -x q -t "$T/q.img" 2>"$T/qemu-nbd.log" &
	BG_PIDS="$BG_PIDS $!"
	wait_until 30 sh -c "'$CLIENT' --probe -q -p $port -e q localhost >/dev/null 2>&1" ||
		fail "qemu-nbd did not come up"
	run_selftest -z -w -n 4000 -o "$T/qemu.dump" -e q -p "$port" localhost
	expect_pass
	check_dump qemu "$T/q.img"
	run_selftest -n 4000 -e q -p "$port" localhost	# flush, trim, zeroes too
	expect_pass
	ran=$((ran + 1))
fi

if command -v nbd-server >/dev/null; then
	truncate -s 64M "$T/n.img"
	port=$(rand_port)
	cat >"$T/nbd-server.conf" <<CONF
[generic]
port = $port
allowlist = true
[e]
exportname = $T/n.img
flush = true
fua = true
trim = true
CONF
	nbd-server -C "$T/nbd-server.conf" -p "$T/nbd-server.pid" 2>"$T/nbd-server.log" ||
		fail "nbd-server did not start"
	wait_until 10 test -s "$T/nbd-server.pid" || fail "nbd-server wrote no pid file"
	BG_PIDS="$BG_PIDS $(cat "$T/nbd-server.pid")"
	wait_until 30 sh -c "'$CLIENT' --probe -q -p $port -e e localhost >/dev/null 2>&1" ||
		fail "nbd-server did not come up"
	run_selftest -z -w -n 4000 -o "$T/nbd-server.dump" -e e -p "$port" localhost
	expect_pass
	check_dump nbd-server "$T/n.img"
	ran=$((ran + 1))
fi

if [ -x "$ENBD_BUILD/enbd-server" ]; then
	truncate -s 64M "$T/e.img"
	"$ENBD_BUILD/enbd-server" -p 0 --port-file "$T/enbd-server.port" "$T/e.img" \
		2>"$T/enbd-server.log" &
	BG_PIDS="$BG_PIDS $!"
	wait_until 30 test -s "$T/enbd-server.port" || fail "enbd-server did not start"
	port=$(cat "$T/enbd-server.port")
	run_selftest -z -w -n 4000 -o "$T/enbd-server.dump" -p "$port" localhost
	expect_pass
	check_dump enbd-server "$T/e.img"
	run_selftest -n 4000 -p "$port" localhost
	expect_pass
	ran=$((ran + 1))
fi
[ $ran -gt 0 ] || skip "no qemu-nbd, nbd-server or enbd-server"
exit 0
