#!/bin/bash
# A device whose two channels speak TLS survives a link cut and a server
# restart.  enbd-guardian runs them from a client line with --tls require
# --tls-psk to enbd-server --tls require --tls-psk in namespace srv,
# channel i over link i+1:
#   - link 1 goes down while 2 MiB are written: the channel on it is given
#     up (aging 3 s if it holds a write; its keep-alive, 1 s here, if a light
#     load left it none) and link 2 carries the writes; link 1 back, the
#     same daemon reconnects through TLS;
#   - the server is killed and started again on the same file and port:
#     both channels reconnect through TLS;
#   - everything written reads back the same, no daemon was restarted, and
#     the hex key is in no command line, log or /proc/nbdinfo.
# (Resumption is the host's client-tls-reconnect-resumes: PSK needs none.)
# timeout: 300
. "$ENBD_ROOT/tests/vm/tls-lib.sh"
require_cmd cmp
T=$ENBD_TEST_TMP

tls_psk_device --aging 3
port=$TLS_PORT
# Should the first connections still outlast a handshake deadline under
# TCG, a daemon restarted then is no fault here.
restarts=$(nbd_total 0 Restarts:)

head -c 4M /dev/urandom >"$T/data"
dd if="$T/data" of=/dev/nd0 bs=1M count=2 oflag=direct status=none || die "write failed"
n=$(tls_lines)
# A channel left idle by a light load learns of the cut from its keep-alive.
echo 1 >/sys/module/enbd/parameters/keepalive
on_exit sh -c 'echo 10 >/sys/module/enbd/parameters/keepalive'
link_down 1
dd if="$T/data" of=/dev/nd0 bs=1M skip=2 seek=2 count=2 oflag=direct status=none ||
	die "write with link 1 down failed"
one_attached() { ! slots_attached 0 2; }
wait_for -t 20 one_attached || die "the channel on link 1 did not give up its connection"
link_up 1
reconnected() { # SLOT COUNT
	[ "$(nbd_slot 0 Reconnects: "$1")" -ge "$2" ] && slots_attached 0 2
}
wait_for -t 30 reconnected 0 1 || die "the channel on link 1 did not reconnect: $(nbd_line 0 Reconnects:)"
[ "$(tls_lines)" -gt "$n" ] || die "no TLS on the reconnect: $(grep 'TLS:' "$GUARDIAN_LOG")"
log "link 1 cut: the channel reconnected through TLS"

n=$(tls_lines)
kill_and_wait "$SERVER_PID" KILL || true
start_enbd_server --netns srv "$port" "${TLS_SERVER_ARGS[@]}"
wait_for -t 30 reconnected 1 1 || die "the channel on link 2 did not reconnect: $(nbd_line 0 Reconnects:)"
wait_for -t 30 reconnected 0 2 || die "the channel on link 1 did not reconnect: $(nbd_line 0 Reconnects:)"
[ "$(tls_lines)" -ge $((n + 2)) ] || die "not two TLS reconnects: $(grep 'TLS:' "$GUARDIAN_LOG")"
log "server restarted: both channels reconnected through TLS"

echo 3 >/proc/sys/vm/drop_caches
cmp -n 4M "$T/data" /dev/nd0 || die "data differs"
[ "$(nbd_total 0 Restarts:)" = "$restarts" ] || die "a daemon was restarted: $(nbd_line 0 Restarts:)"
tls_key_not_shown
log "TLS channels: link cut, server restart, data intact, no key shown"
