#!/bin/sh
# timeout: 60
# With no --address the server takes IPv4 and IPv6 clients even where
# net.ipv6.bindv6only=1 makes IPv6 sockets IPv6-only by default: it must
# turn IPV6_V6ONLY off itself.  Runs in a private network namespace, where
# the sysctl can be set without touching the host's.
if [ "${ENBD_IN_NETNS:-}" != 1 ]; then
	if unshare -rn true 2>/dev/null; then
		ENBD_IN_NETNS=1 exec unshare -rn "$0" "$@"
	fi
	. "$(dirname "$0")/server-lib.sh"
	skip "cannot create a network namespace (unshare -rn)"
fi
. "$(dirname "$0")/server-lib.sh"
ip link set lo up || skip "cannot bring lo up in the namespace"
echo 1 >/proc/sys/net/ipv6/bindv6only || skip "cannot set net.ipv6.bindv6only"
py <<'PY' || skip "no IPv6 loopback in the namespace"
import socket
socket.socket(socket.AF_INET6).bind(("::1", 0))
PY
start_server --memory 1M
for host in 127.0.0.1 ::1; do
	py "$PORT" "$host" <<'PY' || fail "no NBD session over $host with bindv6only=1"
import sys
from server_raw import *
r = Raw(int(sys.argv[1]), host=sys.argv[2]).connect()
r.request(CMD_READ, 0, 512, cookie=3)
assert r.result() == (3, 0, bytes(512))
PY
done
stop_server
