#!/bin/sh
# timeout: 90
# qemu-img (GnuTLS) reads and writes an enbd-server under --tls=require,
# with tls-creds-x509 and with tls-creds-psk; after every handshake the
# server carried the records in userspace (lib/tls-record.c), both ways.
. "$(dirname "$0")/server-lib.sh"
. "$(dirname "$0")/tls-lib.sh"
need qemu-img
make_pki
make_psk
head -c 8M /dev/urandom >"$T/src"

# image_opts: qemu-img --image-opts for the server started last
image_opts() {
	echo "driver=nbd,server.type=inet,server.host=localhost,server.port=$PORT,tls-creds=tls0"
}
for creds in x509 psk; do
	if [ $creds = x509 ]; then
		start_server --tls=require --tls-certificates "$T/pki/server" --memory 8M -v
		obj=$(qemu_x509)
	else
		start_server --tls=require --tls-psk "$T/psk/keys.psk" --memory 8M -v
		obj=$(qemu_psk)
	fi
	qemu-img info --object "$obj" --image-opts "$(image_opts)" >"$T/info.$creds" ||
		fail "qemu-img info with $creds failed"
	grep -q "virtual size: 8 MiB" "$T/info.$creds" || fail "qemu-img info with $creds: wrong size"
	qemu-img convert -n --object "$obj" -f raw "$T/src" --target-image-opts "$(image_opts)" ||
		fail "qemu-img convert in with $creds failed"
	rm -f "$T/out"
	qemu-img convert --object "$obj" --image-opts "$(image_opts)" -O raw "$T/out" ||
		fail "qemu-img convert out with $creds failed"
	cmp "$T/src" "$T/out" || fail "data read back with $creds differs"
	stop_server
	all_records_userspace "$SERVER_LOG"
done
