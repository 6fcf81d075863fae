#!/bin/sh
# timeout: 60
# --allow lets in clients inside the listed networks (IPv4 through the
# dual-stack socket, and IPv6), also together with --default-deny.
. "$(dirname "$0")/server-lib.sh"
need nbdinfo
start_server --memory 1M --allow 10.1.2.3 --allow 127.0.0.0/8 --allow ::1
nbdinfo --size nbd://127.0.0.1:$PORT >/dev/null || fail "127.0.0.1 refused by --allow 127.0.0.0/8"
if py <<'PY'
import socket
socket.socket(socket.AF_INET6).bind(("::1", 0))
PY
then
	nbdinfo --size "nbd://[::1]:$PORT" >/dev/null || fail "::1 refused by --allow ::1"
fi
start_server --memory 1M --default-deny --allow 127.0.0.1/32
nbdinfo --size nbd://127.0.0.1:$PORT >/dev/null || fail "127.0.0.1 refused with --default-deny --allow"
stop_server
