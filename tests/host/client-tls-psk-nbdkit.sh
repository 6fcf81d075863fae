#!/bin/sh
# enbd-client --tls require with a PSK file (identity:hexkey) against
# nbdkit --tls=require --tls-psk: the identity picked with --tls-username
# from a file holding two; the transmission through TLS (the simulated
# device, every read checked), carried by lib/tls-record.c both ways.
. "$(dirname "$0")/client-lib.sh"
. "$(dirname "$0")/tls-lib.sh"

make_psk
{ echo "bob:$(openssl rand -hex 32)"; cat "$T/psk/keys.psk"; } >"$T/two.psk"
start_nbdkit --tls=require --tls-psk="$T/psk/keys.psk" memory 64M
run_selftest -v -z -n 3000 -T require -k "$T/two.psk" -U alice -p "$NBDKIT_PORT" localhost
expect_pass
grep -q 'info: TLS: TLSv1.3 .*PSK identity alice' "$LOG" || fail "no TLS-PSK as alice: $(grep -i tls "$LOG")"
all_records_userspace "$LOG"
exit 0
