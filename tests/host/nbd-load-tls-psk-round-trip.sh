#!/bin/sh
# timeout: 90
# tools/nbd-load (the client of tools/bench-tls -c enbd) through enbd-server
# under --tls=require with a PSK file: what it writes in 1 MiB requests it
# reads back over TLS 1.3 in 4 KiB requests, 32 in flight, and --verify
# finds every sector where it wrote it (on a fresh export, it does not); a
# wrong key ends in exit 1 and an error: line saying the TLS handshake
# failed, nothing on stdout.
. "$(dirname "$0")/server-lib.sh"
. "$(dirname "$0")/tls-lib.sh"
LOAD=$ENBD_BUILD/nbd-load
[ -x "$LOAD" ] || fail "$LOAD not built (run make)"
make_psk

start_server --tls=require --tls-psk "$T/psk/keys.psk" --memory 8M
load() { # PSK-FILE ARGS...
	psk=$1
	shift
	"$LOAD" -p "$PORT" -s 8 --tls require --tls-psk "$psk" "$@" >"$T/out" 2>"$T/err"
}

load "$T/psk/keys.psk" --verify -r 4K localhost read &&
	fail "--verify passed on a fresh (zero) export: $(cat "$T/out")"
grep -q 'error: data read at offset 0 is not what nbd-load writes there' "$T/err" ||
	fail "--verify on a fresh export: $(cat "$T/err")"

load "$T/psk/keys.psk" localhost write || fail "write: $(cat "$T/err")"
grep -q '^wrote 8388608 bytes in [0-9.]* s: [0-9.]* MiB/s, CPU [0-9.]* s' "$T/out" ||
	fail "write printed: $(cat "$T/out")"
grep -q 'info: TLS: TLSv1.3 .*, PSK identity alice' "$T/err" || fail "no TLS: $(cat "$T/err")"
load "$T/psk/keys.psk" --verify -r 4K -n 32 localhost read || fail "read: $(cat "$T/err")"
grep -q '^read 8388608 bytes in ' "$T/out" || fail "read printed: $(cat "$T/out")"

load "$T/wrong.psk" localhost write && fail "a wrong key was accepted"
[ $? -eq 1 ] || fail "a wrong key: exit status not 1"
grep -q 'error: TLS handshake failed: .*(wrong PSK, or an identity the server does not know?)' \
	"$T/err" || fail "a wrong key: $(cat "$T/err")"
[ ! -s "$T/out" ] || fail "a wrong key printed: $(cat "$T/out")"
stop_server
