#!/bin/sh
# enbd-client --tls require against qemu-nbd with --tls-creds: X.509
# (tls-creds-x509, the server's certificate checked against the CA and
# "localhost") and PSK (tls-creds-psk, keys.psk); the transmission through
# TLS (the simulated device, every read checked), carried by
# lib/tls-record.c both ways.
. "$(dirname "$0")/client-lib.sh"
. "$(dirname "$0")/tls-lib.sh"

make_pki
make_psk
truncate -s 64M "$T/x509.img" "$T/psk.img"
start_qemu_nbd -f raw -x disk \
	--object "tls-creds-x509,id=tls0,endpoint=server,dir=$T/pki/server" --tls-creds tls0 \
	"$T/x509.img"
run_selftest -v -z -n 2000 -T require -C "$T/pki/client" -e disk -p "$QEMU_NBD_PORT" localhost
expect_pass
grep -q 'info: TLS: TLSv1.3 ' "$LOG" || fail "X.509: no TLS 1.3: $(grep -i tls "$LOG")"
all_records_userspace "$LOG"

start_qemu_nbd -f raw -x disk \
	--object "tls-creds-psk,id=tls0,endpoint=server,dir=$T/psk" --tls-creds tls0 "$T/psk.img"
run_selftest -v -z -n 2000 -T require -k "$T/psk/keys.psk" -e disk -p "$QEMU_NBD_PORT" localhost
expect_pass
grep -q 'info: TLS: TLSv1.3 .*PSK identity alice' "$LOG" || fail "PSK: no TLS-PSK: $(grep -i tls "$LOG")"
all_records_userspace "$LOG"
exit 0
