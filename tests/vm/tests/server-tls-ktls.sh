#!/bin/bash
# With the kernel's tls module loaded, enbd-server hands TLS to the kernel
# (kTLS, driven by OpenSSL 3): the sending side for TLS 1.3 and, for TLS
# 1.2, the receiving side too (OpenSSL 3.0 offloads receiving for 1.2
# only).  nbdcopy (libnbd, GnuTLS) writes 2 MiB through TLS-PSK to a file
# export served with --splice and reads them back (spliced from the file
# into the socket, which the kernel encrypts), once with TLS 1.3 and once
# held to TLS 1.2 by a GnuTLS priority file; the data must come back
# unchanged with no failed splice, the server's -v log
# must say kernel TLS is on for each side expected (and, with TLS 1.3,
# that lib/tls-record.c received in userspace), and the kernel's own
# counters (/proc/net/tls_stat) must have risen.  Crypto under TCG is
# slow: the sizes are small and the handshake deadline long on purpose.
# timeout: 180
. "$ENBD_ROOT/tests/vm/lib.sh"
require_cmd nbdcopy openssl cmp

modprobe tls 2>/dev/null || skip "no tls module in this kernel"
[ -r /proc/net/tls_stat ] || die "tls loaded but no /proc/net/tls_stat"

T=$ENBD_TEST_TMP
fail() { die "$*"; }
need() { require_cmd "$@"; }
. "$ENBD_ROOT/tests/host/tls-lib.sh"
make_psk
head -c 2M /dev/urandom >"$T/src"
printf '[overrides]\ndisabled-version = tls1.3\n' >"$T/gnutls-tls12.conf"

truncate -s 2M "$T/disk.img"
start_enbd_server 0 -a 127.0.0.1 -v --handshake-timeout 120 --tls=require \
	--tls-psk "$T/psk/keys.psk" --splice "$T/disk.img"
on_exit tail -n 20 "$SERVER_LOG"
URI="nbds://alice@127.0.0.1:$SERVER_PORT/?tls-psk-file=$T/psk/keys.psk"

tls_stat() { # NAME: the counter's value
	awk -v n="$1" '$1 == n { print $2 }' /proc/net/tls_stat
}

# round VERSION RECEIVE USERSPACE [env...]: write, read back, compare; the
# log must show TLS VERSION with kernel TLS sending on, receiving RECEIVE,
# and lib/tls-record.c carrying USERSPACE (none, or receive).
round() {
	local version=$1 receive=$2 userspace=$3 lines tx0 rx0
	shift 3
	lines=$(wc -l <"$SERVER_LOG")
	tx0=$(tls_stat TlsTxSw) rx0=$(tls_stat TlsRxSw)
	env "$@" nbdcopy -S 0 "$T/src" "$URI" || die "$version: nbdcopy to the server failed"
	rm -f "$T/back"
	env "$@" nbdcopy -S 0 "$URI" "$T/back" || die "$version: nbdcopy from the server failed"
	cmp "$T/back" "$T/src" || die "$version: data read back differs"
	# logged as each connection ends, maybe after nbdcopy has
	wait_for -t 30 grep -q "TLS records carried in userspace: $userspace" "$SERVER_LOG" ||
		die "$version: $(grep 'userspace' "$SERVER_LOG" | tail -n 1) (expected $userspace)"
	tail -n +$((lines + 1)) "$SERVER_LOG" >"$T/round.log"
	! grep "spliced read failed" "$T/round.log" || die "$version: splice failed"
	grep -q "TLS: $version " "$T/round.log" ||
		die "$version: not negotiated: $(grep 'TLS:' "$T/round.log" | head -n 1)"
	grep -q "kernel TLS: send on, receive $receive" "$T/round.log" ||
		die "$version: $(grep 'kernel TLS' "$T/round.log" | head -n 1) (expected send on, receive $receive)"
	[ "$(tls_stat TlsTxSw)" -gt "$tx0" ] || die "$version: TlsTxSw did not rise"
	if [ "$receive" = on ]; then
		[ "$(tls_stat TlsRxSw)" -gt "$rx0" ] || die "$version: TlsRxSw did not rise"
	fi
	log "$version: kernel TLS send on, receive $receive; TlsTxSw $tx0 -> $(tls_stat TlsTxSw), TlsRxSw $rx0 -> $(tls_stat TlsRxSw)"
}

round TLSv1.3 off receive
round TLSv1.2 on none GNUTLS_SYSTEM_PRIORITY_FILE="$T/gnutls-tls12.conf"
