#!/bin/sh
# TLS options that do not fit together are usage errors (exit 2) before
# any connection: --tls require without credentials, both X.509 and PSK,
# credentials or --tls-hostname without --tls, --tls-username without
# --tls-psk, an unknown mode; credentials that cannot be loaded (no such
# file, a PSK line that is not identity:hexkey, an identity the file does
# not have, a client certificate without its key) exit 1 with an error:
# line that names the file and never shows the key.
. "$(dirname "$0")/client-lib.sh"
. "$(dirname "$0")/tls-lib.sh"

make_pki
make_psk
usage_error() {
	run_probe "$@" localhost
	[ $RC -eq 2 ] || fail "--probe $*: exit status $RC (expected 2): $(cat "$ERR")"
}
usage_error --tls require
usage_error --tls maybe --tls-psk "$T/psk/keys.psk"
usage_error --tls require --tls-psk "$T/psk/keys.psk" --tls-certificates "$T/pki/client"
usage_error --tls-psk "$T/psk/keys.psk"
usage_error --tls off --tls-certificates "$T/pki/client"
usage_error --tls-hostname localhost
usage_error --tls on --tls-certificates "$T/pki/client" --tls-username alice

probe_refused "TLS: $T/nope.psk: No such file" --tls require --tls-psk "$T/nope.psk" localhost
key=$(cut -d: -f2 "$T/psk/keys.psk")
echo "alice-$key" >"$T/bad.psk"
probe_refused "TLS: $T/bad.psk line 1: expected identity:hexkey" --tls require --tls-psk "$T/bad.psk" localhost
probe_refused "TLS: $T/psk/keys.psk: no key for the identity given" \
	--tls require --tls-psk "$T/psk/keys.psk" --tls-username bob localhost
mkdir "$T/halfclient"
cp "$T/pki/client/ca-cert.pem" "$T/pki/client/client-cert.pem" "$T/halfclient/"
probe_refused "a client certificate needs both client-cert.pem and client-key.pem" \
	--tls require --tls-certificates "$T/halfclient" localhost
! grep -q "$key" "$T"/probe.*.log || fail "the key in a message: $(grep "$key" "$T"/probe.*.log)"
exit 0
