#!/bin/sh
# --probe against qemu-nbd and nbd-server (which answers NBD_OPT_INFO with
# size 0: the size that counts comes with NBD_OPT_GO) and enbd-server: sizes,
# block sizes, unknown exports.
. "$(dirname "$0")/client-lib.sh"

truncate -s 100M "$T/disk.img"
ran=0

if command -v qemu-nbd >/dev/null; then
	port=$(rand_port)
	qemu-nbd -f raw -p "$port" -x qx -t "$T/disk.img" 2>"$T/qemu-nbd.log" &
	BG_PIDS="$BG_PIDS $!"
	wait_until 30 sh -c "'$CLIENT' --probe -q -p $port -e qx localhost >/dev/null 2>&1" ||
		fail "qemu-nbd did not come up"
	run_probe -p "$port" -e qx localhost
	[ $RC -eq 0 ] || fail "qemu-nbd probe: $(cat "$ERR")"
	grep -qx 'size: 104857600' "$OUT" || fail "qemu-nbd size: $(cat "$OUT")"
	grep -q '^block-size: 1 4096 ' "$OUT" || fail "qemu-nbd block size: $(cat "$OUT")"
	run_probe -p "$port" -e nope localhost
	[ $RC -eq 1 ] && grep -q "no export named 'nope'" "$ERR" || fail "qemu-nbd unknown export: $(cat "$ERR")"
	ran=$((ran + 1))
fi

if command -v nbd-server >/dev/null; then
	port=$(rand_port)
	cat >"$T/nbd-server.conf" <<CONF
[generic]
port = $port
allowlist = true
[exp1]
exportname = $T/disk.img
CONF
	nbd-server -C "$T/nbd-server.conf" -p "$T/nbd-server.pid" 2>"$T/nbd-server.log" ||
		fail "nbd-server did not start"
	wait_until 10 test -s "$T/nbd-server.pid" || fail "nbd-server wrote no pid file"
	BG_PIDS="$BG_PIDS $(cat "$T/nbd-server.pid")"
	wait_until 30 sh -c "'$CLIENT' --probe -q -p $port -e exp1 localhost >/dev/null 2>&1" ||
		fail "nbd-server did not come up"
	run_probe -p "$port" -e exp1 localhost
	[ $RC -eq 0 ] || fail "nbd-server probe: $(cat "$ERR")"
	grep -qx 'size: 104857600' "$OUT" || fail "nbd-server size: $(cat "$OUT")"
	grep -q 'handshake: fixed-newstyle .*go' "$OUT" || fail "nbd-server handshake: $(cat "$OUT")"
	run_probe -p "$port" -e nope localhost
	[ $RC -eq 1 ] && grep -q "no export named 'nope'" "$ERR" || fail "nbd-server unknown export: $(cat "$ERR")"
	ran=$((ran + 1))
fi

# The project's own server, when built.
if [ -x "$ENBD_BUILD/enbd-server" ]; then
	"$ENBD_BUILD/enbd-server" -p 0 --port-file "$T/enbd-server.port" -n main \
		-e "other=memory:1M" "$T/disk.img" 2>"$T/enbd-server.log" &
	BG_PIDS="$BG_PIDS $!"
	wait_until 30 test -s "$T/enbd-server.port" || fail "enbd-server did not start"
	port=$(cat "$T/enbd-server.port")
	run_probe -p "$port" -e main localhost
	[ $RC -eq 0 ] || fail "enbd-server probe: $(cat "$ERR")"
	grep -qx 'size: 104857600' "$OUT" || fail "enbd-server size: $(cat "$OUT")"
	run_probe -p "$port" -e other localhost
	grep -qx 'size: 1048576' "$OUT" || fail "enbd-server second export: $(cat "$OUT") $(cat "$ERR")"
	run_probe -p "$port" -e nope localhost
	[ $RC -eq 1 ] && grep -q "no export named 'nope'" "$ERR" || fail "enbd-server unknown export: $(cat "$ERR")"
	ran=$((ran + 1))
fi

[ $ran -gt 0 ] || skip "neither qemu-nbd nor nbd-server is installed"
exit 0
