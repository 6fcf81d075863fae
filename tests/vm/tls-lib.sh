# shellcheck shell=bash disable=SC2034 # globals set here are for the tests
# A device over TLS, for tests/vm/tests/client-tls-*.sh, on top of
# guardian-lib.sh:
#
#   tls_psk_device [OPTIONS...]  /dev/nd0 with two channels that speak TLS
#                             with a PSK (identity alice, a random key in
#                             $TLS_KEY, file $TLS_PSK), channel i over link
#                             i+1 (netns_two_links srv), from enbd-guardian
#                             (OPTIONS on its client line) to enbd-server
#                             --tls require in netns srv on a 64 MiB file
#                             (TLS_SERVER_ARGS, port TLS_PORT); returns once
#                             both channels are attached through TLS
#   tls_lines                 how many TLS handshakes the channels logged
#   tls_key_not_shown         the key is in no command line, log or /proc/nbdinfo
. "$ENBD_ROOT/tests/vm/guardian-lib.sh"
require_cmd od

TLS_PSK=$ENBD_TEST_TMP/keys.psk
TLS_KEY="" TLS_PORT="" TLS_SERVER_ARGS=()

tls_lines() {
	grep -c 'enbd-client.*info: TLS: TLSv1.3 .*PSK identity alice' "$GUARDIAN_LOG" || true
}

tls_psk_device() {
	TLS_KEY=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
	echo "alice:$TLS_KEY" >"$TLS_PSK"
	chmod 600 "$TLS_PSK"
	load_enbd
	# kTLS: loaded on first use, which under TCG can take longer than a
	# handshake deadline; loaded here, the first connections need not retry.
	modprobe tls 2>/dev/null || true
	netns_two_links srv
	truncate -s 64M "$ENBD_TEST_TMP/disk.img"
	TLS_SERVER_ARGS=(--tls require --tls-psk "$TLS_PSK" "$ENBD_TEST_TMP/disk.img")
	start_enbd_server --netns srv 0 "${TLS_SERVER_ARGS[@]}"
	TLS_PORT=$SERVER_PORT
	start_guardian --client "/dev/nd0 10.1.0.2,10.2.0.2 $TLS_PORT -n 2 -b 10.1.0.1 -b 10.2.0.1 $* --tls require --tls-psk $TLS_PSK"
	wait_for_disk /dev/nd0
	wait_for -t 60 slots_attached 0 2 || die "the two channels did not attach"
	[ "$(tls_lines)" -ge 2 ] || die "not two TLS channels: $(grep 'TLS:' "$GUARDIAN_LOG")"
}

tls_key_not_shown() {
	local f
	ps -eo args >"$ENBD_TEST_TMP/ps.out"
	for f in /proc/nbdinfo "$ENBD_TEST_TMP/ps.out" "$GUARDIAN_LOG" "$ENBD_TEST_TMP"/server.*.log; do
		! grep -qF -- "$TLS_KEY" "$f" || die "the key in $f"
	done
	grep -q -- "--tls-psk $TLS_PSK" "$ENBD_TEST_TMP/ps.out" || die "no TLS daemon in ps"
}
