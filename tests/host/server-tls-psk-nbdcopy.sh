#!/bin/sh
# timeout: 90
# Under --tls=require with a PSK file, nbdinfo and nbdcopy connect as the
# file's identity (nbds://alice@...?tls-psk-file=) and random data copied in
# over TLS comes back out equal; the key is in no log line and no argv.
# After the handshake lib/tls-record.c carried the records, both ways.
. "$(dirname "$0")/server-lib.sh"
. "$(dirname "$0")/tls-lib.sh"
need nbdinfo nbdcopy
make_psk
head -c 24M /dev/urandom >"$T/src"
start_server --tls=require --tls-psk "$T/psk/keys.psk" --memory 24M -v
tls_uris
nbdinfo --size "$PSK_URI" >"$T/size" || fail "nbdinfo over TLS-PSK failed"
[ "$(cat "$T/size")" = $((24 << 20)) ] || fail "nbdinfo: size $(cat "$T/size")"
nbdcopy --connections=2 "$T/src" "$PSK_URI" || fail "nbdcopy in failed"
nbdcopy --connections=1 "$PSK_URI" "$T/out" || fail "nbdcopy out failed"
cmp "$T/src" "$T/out" || fail "data read back differs"
grep -q "127.0.0.1:[0-9]*: TLS: TLSv1.3 .*, PSK identity alice" "$SERVER_LOG" ||
	fail "no TLS log line"
key=$(cut -d: -f2 "$T/psk/keys.psk")
! grep -q "$key" "$SERVER_LOG" /proc/"$SERVER_PID"/cmdline || fail "the key leaked"
stop_server
grep -q "TLS records carried in userspace: both" "$SERVER_LOG" ||
	fail "the records stayed OpenSSL's: $(grep 'userspace' "$SERVER_LOG")"
