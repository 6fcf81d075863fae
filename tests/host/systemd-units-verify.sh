#!/bin/sh
# The systemd units pass `systemd-analyze verify` (as installed, ExecStart
# pointing at the built daemons), and say what they must: the guardian's
# reads /etc/enbd.conf in the foreground, reloads with SIGHUP (enbd-guardian
# passes it on: every daemon reconnects), restarts on failure, stops with
# SIGTERM to the guardian alone (KillMode=mixed: it stops its daemons in
# order), keeps CAP_SYS_ADMIN and access to /dev/enbd-control and the enbd
# block devices, and what the servers of server lines need (CAP_DAC_*, every
# block device, the filesystem writable outside /usr /boot /etc); loads the
# module if it can (a server-only machine needs none); keeps /run/enbd across stops; the server's runs one
# instance per /etc/enbd/server-%i.conf.  The unit's command lines pass
# enbd-guardian's configtest (-n) with the example configuration, and -m
# makes its module line the modprobe.d line the unit writes.
# sanitizers: no
# timeout: 120
. "$(dirname "$0")/lib.sh"
need systemd-analyze
cd "$TOP"
U=$T/units
mkdir -p "$U"
for unit in enbd-guardian.service enbd-server@.service; do
	sed "s|@SBINDIR@|$ENBD_BUILD|g" "dist/systemd/$unit.in" >"$U/$unit"
done
# An instance, as systemctl enable enbd-server@disk would make it.
ln -s enbd-server@.service "$U/enbd-server@disk.service"
SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no "$U/enbd-guardian.service" \
	"$U/enbd-server@disk.service" >"$T/verify.log" 2>&1 || fail "systemd-analyze verify: $(cat "$T/verify.log")"
# Warnings about the units themselves (not about other units of this host).
if grep -E 'enbd-(guardian|server@)' "$T/verify.log" >"$T/ours"; then
	fail "systemd-analyze verify warns: $(cat "$T/ours")"
fi

g=$U/enbd-guardian.service
for line in "ExecStart=$ENBD_BUILD/enbd-guardian -f -c /etc/enbd.conf" \
	'ExecReload=/bin/kill -HUP $MAINPID' 'Restart=on-failure' 'KillMode=mixed' \
	'RuntimeDirectory=enbd' 'RuntimeDirectoryPreserve=yes' \
	'CapabilityBoundingSet=CAP_SYS_ADMIN CAP_NET_RAW CAP_DAC_OVERRIDE CAP_DAC_READ_SEARCH CAP_NET_BIND_SERVICE' \
	'DeviceAllow=/dev/enbd-control rw' 'DeviceAllow=block-enbd rw' 'DeviceAllow=block-* rw' \
	'ExecStartPre=-+/sbin/modprobe enbd' \
	"ExecStartPre=+/bin/sh -c 'mkdir -p /run/modprobe.d && $ENBD_BUILD/enbd-guardian -m -c /etc/enbd.conf >/run/modprobe.d/enbd.conf'"; do
	grep -qxF "$line" "$g" || fail "enbd-guardian.service lacks: $line"
done
s=$U/enbd-server@.service
for line in 'EnvironmentFile=/etc/enbd/server-%i.conf' \
	"ExecStart=$ENBD_BUILD/enbd-server \$ENBD_SERVER_ARGS" 'Restart=on-failure'; do
	grep -qxF "$line" "$s" || fail "enbd-server@.service lacks: $line"
done

# The block device major's name the unit allows is the module's.
grep -q 'register_blkdev(0, "enbd")' kernel/enbd_main.c || fail "the module's block major is no longer named enbd"

# The guardian's command lines with a configuration like the example's.
sed 's/^#client/client/; s/^#module/module/; s/^#server/server/' dist/enbd.conf >"$T/enbd.conf"
"$ENBD_BUILD/enbd-guardian" -n -c "$T/enbd.conf" >"$T/n.log" 2>&1 || fail "configtest of the example: $(cat "$T/n.log")"
[ "$("$ENBD_BUILD/enbd-guardian" -m -c "$T/enbd.conf")" = "options enbd keepalive=5 readahead=512" ] ||
	fail "enbd-guardian -m of the example: $("$ENBD_BUILD/enbd-guardian" -m -c "$T/enbd.conf" 2>&1)"
echo "PASS $TEST_NAME"
