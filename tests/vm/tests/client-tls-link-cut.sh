#!/bin/bash
# A device whose two channels speak TLS survives a link cut and a server
# restart.  enbd-guardian runs them from a client line with --tls require
# --tls-psk to enbd-server --tls require --tls-psk in namespace srv,
# channel i over link i+1:
#   - link 1 goes down while 2 MiB are written: the channel on it is given
#     up (aging 3 s) and link 2 carries the writes; link 1 back, the same
#     daemon reconnects through TLS;
#   - the server is killed and started again on the same file and port:
#     both channels reconnect through TLS;
#   - everything written reads back the same, no daemon was restarted, and
#     the hex key is in no command line, log or /proc/nbdinfo.
# (Resumption is the host's client-tls-reconnect-resumes: PSK needs none.)
# timeout: 120
. "$ENBD_ROOT/tests/vm/guardian-lib.sh"
require_cmd cmp od
T=$ENBD_TEST_TMP
key=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
echo "alice:$key" >"$T/keys.psk"
chmod 600 "$T/keys.psk"

load_enbd
# kTLS: loaded on first use, which under TCG can take longer than a
# handshake deadline; loaded here, the first connections need not retry.
modprobe tls 2>/dev/null || true
netns_two_links srv
truncate -s 64M "$T/disk.img"
server_args=(--tls require --tls-psk "$T/keys.psk" "$T/disk.img")
start_enbd_server --netns srv 0 "${server_args[@]}"
port=$SERVER_PORT
start_guardian --client "/dev/nd0 10.1.0.2,10.2.0.2 $port -n 2 -b 10.1.0.1 -b 10.2.0.1 --aging 3 --tls require --tls-psk $T/keys.psk"
wait_for_disk /dev/nd0
wait_for -t 60 slots_attached 0 2 || die "the two channels did not attach"
tls_lines() { grep -c 'enbd-client.*info: TLS: TLSv1.3 .*PSK identity alice' "$GUARDIAN_LOG" || true; }
[ "$(tls_lines)" -ge 2 ] || die "not two TLS channels: $(grep 'TLS:' "$GUARDIAN_LOG")"
# Should the first connections still outlast a handshake deadline under
# TCG, a daemon restarted then is no fault here.
restarts=$(nbd_total 0 Restarts:)

head -c 4M /dev/urandom >"$T/data"
dd if="$T/data" of=/dev/nd0 bs=1M count=2 oflag=direct status=none || die "write failed"
n=$(tls_lines)
link_down 1
dd if="$T/data" of=/dev/nd0 bs=1M skip=2 seek=2 count=2 oflag=direct status=none ||
	die "write with link 1 down failed"
link_up 1
reconnected() { # SLOT COUNT
	[ "$(nbd_slot 0 Reconnects: "$1")" -ge "$2" ] && slots_attached 0 2
}
wait_for -t 30 reconnected 0 1 || die "the channel on link 1 did not reconnect: $(nbd_line 0 Reconnects:)"
[ "$(tls_lines)" -gt "$n" ] || die "no TLS on the reconnect: $(grep 'TLS:' "$GUARDIAN_LOG")"
log "link 1 cut: the channel reconnected through TLS"

n=$(tls_lines)
kill_and_wait "$SERVER_PID" KILL || true
start_enbd_server --netns srv "$port" "${server_args[@]}"
wait_for -t 30 reconnected 1 1 || die "the channel on link 2 did not reconnect: $(nbd_line 0 Reconnects:)"
wait_for -t 30 reconnected 0 2 || die "the channel on link 1 did not reconnect: $(nbd_line 0 Reconnects:)"
[ "$(tls_lines)" -ge $((n + 2)) ] || die "not two TLS reconnects: $(grep 'TLS:' "$GUARDIAN_LOG")"
log "server restarted: both channels reconnected through TLS"

echo 3 >/proc/sys/vm/drop_caches
cmp -n 4M "$T/data" /dev/nd0 || die "data differs"
[ "$(nbd_total 0 Restarts:)" = "$restarts" ] || die "a daemon was restarted: $(nbd_line 0 Restarts:)"
ps -eo args >"$T/ps.out"
for f in /proc/nbdinfo "$T/ps.out" "$GUARDIAN_LOG" "$SERVER_LOG"; do
	! grep -qF -- "$key" "$f" || die "the key in $f"
done
grep -q -- "--tls-psk $T/keys.psk" "$T/ps.out" || die "no TLS daemon in ps"
log "TLS channels: link cut, server restart, data intact, no key shown"
