#!/bin/sh
# timeout: 90
# Under --tls=require with X.509 certificates, nbdinfo and nbdcopy (libnbd,
# GnuTLS) connect with nbds:// URIs, and random data copied in over TLS
# comes back out equal, over one connection and over four.
. "$(dirname "$0")/server-lib.sh"
. "$(dirname "$0")/tls-lib.sh"
need nbdinfo nbdcopy
make_pki
head -c 24M /dev/urandom >"$T/src"
truncate -s 24M "$T/disk.img"
start_server --tls=require --tls-certificates "$T/pki/server" "$T/disk.img"
tls_uris
nbdinfo --size "$X509_URI" >"$T/size" || fail "nbdinfo over TLS failed"
[ "$(cat "$T/size")" = $((24 << 20)) ] || fail "nbdinfo: size $(cat "$T/size")"
nbdcopy --connections=1 "$T/src" "$X509_URI" || fail "nbdcopy in failed"
nbdcopy --connections=4 "$X509_URI" "$T/out" || fail "nbdcopy out failed"
cmp "$T/src" "$T/out" || fail "data read back differs"
cmp "$T/src" "$T/disk.img" || fail "data in the served file differs"
grep -q "127.0.0.1:[0-9]*: TLS: TLSv1.3 " "$SERVER_LOG" || fail "no TLS log line"
stop_server
