#!/bin/sh
# enbd-client --tls require with X.509 against nbdkit --tls=require
# --tls-verify-peer: the server's certificate verified against the CA and
# its name (localhost), our client certificate (client-cert.pem) accepted by
# nbdkit; TLS 1.3; the transmission through TLS (the simulated device, every
# read checked, 64 requests in flight, payloads up to 512 KiB), carried by
# lib/tls-record.c both ways.
. "$(dirname "$0")/client-lib.sh"
. "$(dirname "$0")/tls-lib.sh"

make_pki
start_nbdkit --tls=require --tls-certificates="$T/pki/server" --tls-verify-peer memory 64M
run_selftest -v -z -n 3000 -B 32 -T require -C "$T/pki/client" -p "$NBDKIT_PORT" localhost
expect_pass
grep -q 'info: TLS: TLSv1.3 ' "$LOG" || fail "no TLS 1.3: $(grep -i tls "$LOG")"
all_records_userspace "$LOG"
[ "$(st attaches)" -eq 1 ] || fail "reconnected: $(grep '^selftest:' "$LOG")"
exit 0
