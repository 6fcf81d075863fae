#!/bin/sh
# Through TLS too, a channel allocates nothing while it carries requests:
# once the handshake is done, lib/tls-record.c seals and opens the records
# in buffers of its own (OpenSSL 3.0's record layer allocated 40 bytes per
# record).  The malloc shim (client_malloc_log.c) arms at the log line
# "serving ..." that starts the transmission (TLS makes no sendmsg(), which
# arms it otherwise); 3000 requests of every type at queue depth 128
# through TLS-PSK to nbdkit must log no allocation.
. "$(dirname "$0")/client-lib.sh"
. "$(dirname "$0")/tls-lib.sh"

make_psk
start_nbdkit --tls=require --tls-psk="$T/psk/keys.psk" memory 64M
export ENBD_MALLOC_ARM_LOG="serving "
expect_no_mallocs -n 3000 -T require -k "$T/psk/keys.psk" -p "$NBDKIT_PORT" localhost
grep -q 'info: TLS: TLSv1.3' "$LOG" || fail "no TLS 1.3: $(grep -i tls "$LOG")"
exit 0
