#!/bin/sh
# timeout: 90
# Under --tls-verify-peer the client's own handshake records (Certificate,
# CertificateVerify) come before its Finished: the records counted for the
# hand-over to lib/tls-record.c are still right, so data copied in and out
# with a client certificate by nbdcopy and by qemu-img (both GnuTLS) comes
# back equal, every connection carried in userspace both ways.
. "$(dirname "$0")/server-lib.sh"
. "$(dirname "$0")/tls-lib.sh"
need nbdcopy qemu-img
make_pki
head -c 8M /dev/urandom >"$T/src"
start_server --tls=require --tls-certificates "$T/pki/server" --tls-verify-peer --memory 8M -v
tls_uris
nbdcopy --connections=1 "$T/src" "$X509_URI" || fail "nbdcopy in failed"
nbdcopy --connections=2 "$X509_URI" "$T/out" || fail "nbdcopy out failed"
cmp "$T/src" "$T/out" || fail "data read back by nbdcopy differs"
rm -f "$T/out"
qemu-img convert --object "$(qemu_x509)" --image-opts \
	"driver=nbd,server.type=inet,server.host=localhost,server.port=$PORT,tls-creds=tls0" \
	-O raw "$T/out" || fail "qemu-img convert out failed"
cmp "$T/src" "$T/out" || fail "data read back by qemu-img differs"
[ "$(grep -c 'TLS: TLSv1.3 .*, client certificate CN=alice' "$SERVER_LOG")" -ge 4 ] ||
	fail "fewer than 4 connections with alice's certificate: $(grep 'TLS:' "$SERVER_LOG")"
stop_server
all_records_userspace "$SERVER_LOG"
exit 0
