# TLS fixtures for tests/host/server-tls-*.sh (sourced after server-lib.sh).
#
#   make_pki       a CA and, in $T/pki, the directories nbdkit, qemu and
#                  libnbd read (ca-cert.pem plus ROLE-cert.pem, ROLE-key.pem):
#                    server/        for enbd-server --tls-certificates
#                    client/        a client certificate (CN=alice) of the CA
#                    rogue-client/  trusts the CA, certificate of another CA
#                    untrusting/    trusts only the other CA
#   make_psk       $T/psk/keys.psk (alice, a random key; the file name qemu
#                  expects) and $T/wrong.psk (alice, another key)
#   tls_uris       sets X509_URI and PSK_URI (nbds:// for libnbd) for the
#                  server started last
#   qemu_x509 [DIR] / qemu_psk  --object arguments for qemu-img, id "tls0"
#   all_records_userspace LOG  every TLS 1.3 connection of LOG handed over
#                  to lib/tls-record.c both ways
#   traced_reads NAME COMMAND...  COMMAND under strace, its reads in
#                  $T/NAME.strace; saw_hello_retry NAME  they held a
#                  HelloRetryRequest

need openssl

# new_key_and_cert DIR ROLE CN CA_DIR EXTENSIONS: an EC key and a
# certificate signed by the CA in CA_DIR.
new_key_and_cert() {
	openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$1/$2-key.pem" -out "$1/$2.csr" -subj "/CN=$3" 2>/dev/null
	printf '%s\n' "$5" >"$1/$2.ext"
	openssl x509 -req -in "$1/$2.csr" -CA "$4/ca-cert.pem" -CAkey "$4/ca-key.pem" \
		-CAcreateserial -days 2 -extfile "$1/$2.ext" -out "$1/$2-cert.pem" 2>/dev/null
	rm -f "$1/$2.csr" "$1/$2.ext"
}

new_ca() {
	mkdir -p "$1"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$1/ca-key.pem" -out "$1/ca-cert.pem" -days 2 -subj "/CN=$2" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}

make_pki() {
	P=$T/pki
	new_ca "$P/ca" "enbd test CA"
	new_ca "$P/rogue-ca" "rogue CA"
	mkdir -p "$P/server" "$P/client" "$P/rogue-client" "$P/untrusting"
	new_key_and_cert "$P/server" server localhost "$P/ca" \
		"$(printf '%s\n' "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
			"keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth")"
	client_ext=$(printf '%s\n' "keyUsage=critical,digitalSignature" \
		"extendedKeyUsage=clientAuth")
	new_key_and_cert "$P/client" client alice "$P/ca" "$client_ext"
	new_key_and_cert "$P/rogue-client" client alice "$P/rogue-ca" "$client_ext"
	cp "$P/ca/ca-cert.pem" "$P/server/"
	cp "$P/ca/ca-cert.pem" "$P/client/"
	cp "$P/ca/ca-cert.pem" "$P/rogue-client/"
	cp "$P/rogue-ca/ca-cert.pem" "$P/untrusting/"
	[ -s "$P/server/server-cert.pem" ] && [ -s "$P/client/client-cert.pem" ] &&
		[ -s "$P/rogue-client/client-cert.pem" ] || fail "openssl could not make the certificates"
}

make_psk() {
	mkdir -p "$T/psk"
	echo "alice:$(openssl rand -hex 32)" >"$T/psk/keys.psk"
	echo "alice:$(openssl rand -hex 32)" >"$T/wrong.psk"
	chmod 600 "$T/psk/keys.psk" "$T/wrong.psk"
}

# URIs for the server started last: X.509 with the client/ directory (which
# also holds a client certificate), PSK as alice.
tls_uris() {
	X509_URI="nbds://localhost:$PORT/?tls-certificates=$T/pki/client"
	PSK_URI="nbds://alice@localhost:$PORT/?tls-psk-file=$T/psk/keys.psk"
}

qemu_x509() { # [DIR]
	echo "tls-creds-x509,id=tls0,endpoint=client,dir=${1:-$T/pki/client}"
}
qemu_psk() {
	echo "tls-creds-psk,id=tls0,endpoint=client,dir=$T/psk,username=alice"
}

# all_records_userspace LOG: every TLS 1.3 connection in LOG (a server's or
# a selftest's, run with -v; the server's once the connections ended) was
# handed over to lib/tls-record.c both ways.
all_records_userspace() {
	local tls both
	tls=$(grep -c ': TLS: TLSv1.3 ' "$1")
	both=$(grep -c 'TLS records carried in userspace: both' "$1")
	[ "$tls" -gt 0 ] && [ "$both" -eq "$tls" ] ||
		fail "$both of $tls TLS 1.3 connections carried in userspace both ways: $(grep -e 'userspace' -e ': TLS: ' "$1" | tail -n 6)"
}

# traced_reads NAME COMMAND...: COMMAND under strace, its reads (hex escaped)
# in $T/NAME.strace.  LeakSanitizer cannot run under ptrace.
traced_reads() {
	local name=$1
	shift
	env ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 \
		strace -f -x -s 128 -e trace=read,recvfrom,recvmsg -o "$T/$name.strace" "$@"
}

# saw_hello_retry NAME: traced_reads NAME read a HelloRetryRequest, whose
# random is SHA-256("HelloRetryRequest") (RFC 8446 4.1.3).
saw_hello_retry() {
	grep -q '\\xcf\\x21\\xad\\x74\\xe5\\x9a\\x61\\x11\\xbe\\x1d\\x8c\\x02\\x1e\\x65\\xb8\\x91' "$T/$1.strace"
}
