#!/bin/bash
# The kernel's own nbd driver over TLS: Debian's nbd-client (GnuTLS) with
# -cacertfile, -certfile, -keyfile and -tlshostname attaches /dev/nbd0 to
# enbd-server --tls require --tls-verify-peer with X.509 certificates of
# one CA (tests/host/tls-lib.sh's make_pki).  nbd-client's proxy encrypts
# what the kernel sends; 8 MiB of random data written with O_DIRECT read
# back the same after the caches are dropped; the server logged the TLS
# session and the client's certificate; `nbd-client -d` disconnects.
# A client without the CA's certificate is refused.
# timeout: 120
. "$ENBD_ROOT/tests/vm/lib.sh"
require_cmd nbd-client openssl cmp
need() { require_cmd "$@"; }
fail() { die "$@"; }
T=$ENBD_TEST_TMP
. "$ENBD_ROOT/tests/host/tls-lib.sh"

modprobe nbd nbds_max=1 || skip "no nbd module"
on_exit modprobe -r nbd
wait_for -t 10 test -b /dev/nbd0 || die "no /dev/nbd0 after modprobe nbd"

make_pki
img=$T/disk.img
truncate -s 64M "$img"
# Crypto under TCG is slow: on a busy host the handshake took 7-10 s.
start_enbd_server 0 -a 127.0.0.1 --name disk --tls require --handshake-timeout 120 \
	--tls-certificates "$T/pki/server" --tls-verify-peer "$img"
srv_log=$SERVER_LOG port=$SERVER_PORT
on_exit tail -n 20 "$srv_log"

C=$T/pki/client
# Another CA's client certificate: the server refuses the handshake.
R=$T/pki/rogue-client
must_fail nbd-client 127.0.0.1 "$port" /dev/nbd0 -N disk -b 4096 -tlshostname localhost \
	-cacertfile "$R/ca-cert.pem" -certfile "$R/client-cert.pem" -keyfile "$R/client-key.pem" >&2
[ "$(cat /sys/block/nbd0/size)" -eq 0 ] || die "/dev/nbd0 attached with a rogue certificate"

on_exit nbd-client -d /dev/nbd0
nbd-client 127.0.0.1 "$port" /dev/nbd0 -N disk -b 4096 -tlshostname localhost \
	-cacertfile "$C/ca-cert.pem" -certfile "$C/client-cert.pem" -keyfile "$C/client-key.pem" >&2 ||
	die "nbd-client failed"
wait_for_disk /dev/nbd0
[ "$(blockdev --getsize64 /dev/nbd0)" -eq $((64 << 20)) ] || die "wrong size"
grep -q ': TLS: TLSv1' "$srv_log" || die "the server logged no TLS session: $(cat "$srv_log")"

head -c 8M /dev/urandom >"$T/data"
dd if="$T/data" of=/dev/nbd0 bs=1M oflag=direct status=none || die "write failed"
echo 3 >/proc/sys/vm/drop_caches
cmp -n 8M "$T/data" /dev/nbd0 || die "data read through /dev/nbd0 differs"
cmp -n 8M "$T/data" "$img" || die "data in the served file differs"

nbd-client -d /dev/nbd0 >&2 || die "nbd-client -d failed"
nbd_gone() { [ "$(cat /sys/block/nbd0/size)" -eq 0 ]; }
wait_for -t 30 nbd_gone || die "/dev/nbd0 still has a size after nbd-client -d"
log "kernel nbd over TLS (X.509, client certificate) on enbd-server passed"
