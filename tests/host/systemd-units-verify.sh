#!/bin/sh
# The systemd units pass `systemd-analyze verify` (as installed, ExecStart
# pointing at the built daemons), and say what they must: the guardian's
# reads /etc/enbd.conf in the foreground, reloads with SIGHUP (enbd-guardian
# passes it on: every daemon reconnects), restarts on failure, stops with
# SIGTERM to the guardian alone (KillMode=mixed: it stops its daemons in
# order), keeps /run/enbd across stops, and comes after enbd-module.service,
# which writes the module lines as /run/modprobe.d/enbd.conf and loads the
# module if it can (a server-only machine needs none) - before the
# guardian's cgroup, whose DeviceAllow=/dev/enbd-control systemd resolves
# when it sets the cgroup up; the server's runs one instance per
# /etc/enbd/server-%i.conf.  Each unit's sandbox is its minimum - the
# guardian CAP_SYS_ADMIN and /dev/enbd-control only, the server
# CAP_NET_BIND_SERVICE and block devices only (the VM test
# deb-install-purge runs their command lines in that sandbox) - and
# `systemd-analyze security` rates none above its exposure when tightened
# (guardian 3.7 and server 3.7, were 4.4 and 4.3; module 2.9, was run with
# "+" outside any sandbox).  The unit's command lines pass enbd-guardian's
# configtest (-n) with the example configuration, and -m makes its module
# line the modprobe.d line the unit writes.
# sanitizers: no
# timeout: 120
. "$(dirname "$0")/lib.sh"
need systemd-analyze
cd "$TOP"
U=$T/units
mkdir -p "$U"
for unit in enbd-module.service enbd-guardian.service enbd-server@.service; do
	sed "s|@SBINDIR@|$ENBD_BUILD|g" "dist/systemd/$unit.in" >"$U/$unit"
done
# An instance, as systemctl enable enbd-server@disk would make it.
ln -s enbd-server@.service "$U/enbd-server@disk.service"
SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no "$U/enbd-module.service" "$U/enbd-guardian.service" \
	"$U/enbd-server@disk.service" >"$T/verify.log" 2>&1 || fail "systemd-analyze verify: $(cat "$T/verify.log")"
# Warnings about the units themselves (not about other units of this host).
if grep -E 'enbd-(module|guardian|server@)' "$T/verify.log" >"$T/ours"; then
	fail "systemd-analyze verify warns: $(cat "$T/ours")"
fi

g=$U/enbd-guardian.service
for line in "ExecStart=$ENBD_BUILD/enbd-guardian -f -c /etc/enbd.conf" \
	'ExecReload=/bin/kill -HUP $MAINPID' 'Restart=on-failure' 'KillMode=mixed' \
	'RuntimeDirectory=enbd' 'RuntimeDirectoryPreserve=yes' \
	'Wants=network-online.target enbd-module.service' 'After=network-online.target enbd-module.service' \
	'CapabilityBoundingSet=CAP_SYS_ADMIN' 'DevicePolicy=closed' 'DeviceAllow=/dev/enbd-control rw'; do
	grep -qxF "$line" "$g" || fail "enbd-guardian.service lacks: $line"
done
[ "$(grep -c '^DeviceAllow=' "$g")" = 1 ] || fail "enbd-guardian.service allows more devices: $(grep '^DeviceAllow=' "$g")"
! grep -q '^ExecStartPre=' "$g" || fail "enbd-guardian.service runs ExecStartPre=: the module is enbd-module.service's"
m=$U/enbd-module.service
for line in 'Type=oneshot' 'CapabilityBoundingSet=CAP_SYS_MODULE' 'ExecStart=-/sbin/modprobe enbd' \
	"ExecStart=/bin/sh -c 'mkdir -p /run/modprobe.d && $ENBD_BUILD/enbd-guardian -m -c /etc/enbd.conf >/run/modprobe.d/enbd.conf'"; do
	grep -qxF "$line" "$m" || fail "enbd-module.service lacks: $line"
done
s=$U/enbd-server@.service
for line in 'EnvironmentFile=/etc/enbd/server-%i.conf' \
	"ExecStart=$ENBD_BUILD/enbd-server \$ENBD_SERVER_ARGS" 'Restart=on-failure' \
	'CapabilityBoundingSet=CAP_NET_BIND_SERVICE' 'DevicePolicy=closed' 'DeviceAllow=block-* rw'; do
	grep -qxF "$line" "$s" || fail "enbd-server@.service lacks: $line"
done

# Exposure (systemd-analyze security, tenths): no unit loosened unnoticed.
for limit in enbd-guardian.service:37 enbd-server@disk.service:37 enbd-module.service:29; do
	unit=${limit%:*}
	SYSTEMD_LOG_LEVEL=err systemd-analyze security --offline=true --no-pager \
		--threshold="${limit#*:}" "$U/$unit" >"$T/security.log" 2>&1 ||
		fail "$unit: exposure above ${limit#*:}/10: $(grep Overall "$T/security.log")"
done

# The guardian's command lines with a configuration like the example's.
sed 's/^#client/client/; s/^#module/module/; s/^#server/server/' dist/enbd.conf >"$T/enbd.conf"
"$ENBD_BUILD/enbd-guardian" -n -c "$T/enbd.conf" >"$T/n.log" 2>&1 || fail "configtest of the example: $(cat "$T/n.log")"
[ "$("$ENBD_BUILD/enbd-guardian" -m -c "$T/enbd.conf")" = "options enbd keepalive=5 readahead=512" ] ||
	fail "enbd-guardian -m of the example: $("$ENBD_BUILD/enbd-guardian" -m -c "$T/enbd.conf" 2>&1)"
echo "PASS $TEST_NAME"
