#!/bin/sh
# The server's certificate is verified: one signed by a CA we do not trust
# (--tls-certificates of a directory whose ca-cert.pem is another CA), or
# one that does not name the host we connect to (--tls-hostname), is refused
# with exit 1 and an error: line that says why; --tls-hostname with the
# name the certificate has is accepted.
. "$(dirname "$0")/client-lib.sh"
. "$(dirname "$0")/tls-lib.sh"

make_pki
start_nbdkit --tls=require --tls-certificates="$T/pki/server" memory 64M
probe_refused "TLS handshake failed: server certificate rejected: (self-signed certificate in certificate chain|unable to get local issuer certificate)" \
	--tls require --tls-certificates "$T/pki/untrusting" -p "$NBDKIT_PORT" localhost
probe_refused "TLS handshake failed: server certificate rejected: hostname mismatch" \
	--tls require --tls-certificates "$T/pki/client" --tls-hostname enbd.example \
	-p "$NBDKIT_PORT" localhost
probe_refused "TLS handshake failed: server certificate rejected: IP address mismatch" \
	--tls require --tls-certificates "$T/pki/client" -p "$NBDKIT_PORT" 127.0.0.2
run_probe --tls require --tls-certificates "$T/pki/client" --tls-hostname localhost \
	-p "$NBDKIT_PORT" 127.0.0.1
[ $RC -eq 0 ] && grep -q '^size: 67108864$' "$OUT" || fail "--tls-hostname localhost refused: $(cat "$ERR")"
grep -q '^tls: TLSv1.3 .*, full handshake$' "$OUT" || fail "--probe does not say TLS: $(cat "$OUT")"
exit 0
