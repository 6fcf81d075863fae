#!/bin/bash
# The Debian packages in the guest: make-deb builds them, dpkg installs enbd
# (daemons, enbdctl, man pages, units, /etc/enbd.conf) and unpacks
# enbd-dkms (the module's source for DKMS: its postinst's DKMS build and
# depmod -a would take minutes under TCG; tests/host/deb-packages.sh has
# DKMS build it on the host), the prebuilt module is installed instead and
# `modprobe enbd` loads it; the guardian unit's command line (there is no
# systemd in the VM) serves nd0 from /etc/enbd.conf with the installed
# daemons, `man enbdctl` renders; SIGUSR2, rmmod; dpkg --purge removes
# every file of both, the configuration included.  dpkg keeps its database
# in the test's directory: reading the host's (150000 files) through 9p
# under TCG takes minutes; so dependencies are not checked (--force-depends).
# timeout: 480
# modprobe: enbd
. "$ENBD_ROOT/tests/vm/lib.sh"
require_cmd dpkg dpkg-deb man python3
version=$(sed -n 's/^ENBD_VERSION := //p' "$ENBD_ROOT/dist/build.mk")
arch=$(dpkg --print-architecture)
out=$ENBD_TEST_TMP/deb
"$ENBD_ROOT/dist/make-deb" "$ENBD_BUILD" "$version" "$out" >&2 || die "make-deb failed"
log "built the packages"
admin=$ENBD_TEST_TMP/dpkg
mkdir -p "$admin/info" "$admin/updates" "$admin/triggers"
: >"$admin/status"
: >"$admin/available"
dpkg() {
	command dpkg --admindir="$admin" --force-depends "$@"
}
dpkg-query() {
	command dpkg-query --admindir="$admin" "$@"
}
deb=$out/enbd_${version}-1_$arch.deb
dkms_deb=$out/enbd-dkms_${version}-1_all.deb

purge() {
	dpkg --purge enbd enbd-dkms >&2
}
on_exit purge
dpkg -i "$deb" >&2 || die "dpkg -i enbd failed"
dpkg --unpack "$dkms_deb" >&2 || die "dpkg --unpack enbd-dkms failed"
dpkg-query -W -f='${Status}\n' enbd | grep -q 'install ok installed' || die "enbd is not installed"
log "installed enbd, unpacked enbd-dkms"
[ -f "/usr/src/enbd-$version/dkms.conf" ] || die "no /usr/src/enbd-$version/dkms.conf"
for p in enbd-client enbd-server enbd-guardian enbdctl; do
	[ -x "/usr/sbin/$p" ] || die "/usr/sbin/$p not installed"
done
[ "$(man -w enbdctl)" = /usr/share/man/man8/enbdctl.8.gz ] || die "man -w enbdctl: $(man -w enbdctl)"
MANWIDTH=80 man enbdctl 2>/dev/null | grep -q 'enbdctl - status, tuning and eject' || die "man enbdctl does not render"
[ "$(man -w 4 enbd)" = /usr/share/man/man4/enbd.4.gz ] || die "man -w 4 enbd: $(man -w 4 enbd)"

install_enbd_module
modprobe enbd keepalive=4 || die "modprobe enbd failed"
on_exit unload_enbd
wait_for -t 10 test -c /dev/enbd-control || die "no /dev/enbd-control after modprobe"

ENBD_SERVER=/usr/sbin/enbd-server
start_enbd_server
echo "client disk /dev/nd0 127.0.0.1 $SERVER_PORT -n 2 --aging 9" >>/etc/enbd.conf
cmd=$(sed -n 's/^ExecStart=//p' /lib/systemd/system/enbd-guardian.service)
[ "$cmd" = "/usr/sbin/enbd-guardian -f -c /etc/enbd.conf" ] || die "the unit runs: $cmd"
log "the unit's command line: $cmd"
$cmd </dev/null >"$ENBD_TEST_TMP/guardian.log" 2>&1 &
guardian=$!
on_exit kill_and_wait "$guardian" USR2
on_exit cat "$ENBD_TEST_TMP/guardian.log"
wait_for_disk /dev/nd0
attached() {
	[ "$(/usr/sbin/enbdctl status --json nd0 | python3 -c 'import json,sys; print(json.load(sys.stdin)["devices"][0]["attached"])')" = 2 ]
}
wait_for -t 30 attached || die "nd0 does not have two channels: $(cat /proc/nbdinfo)"
grep -q '^\[0\] Policy: *aging 9000ms' /proc/nbdinfo || die "the configuration's aging is not applied: $(grep Policy /proc/nbdinfo)"
dd if=/dev/urandom of="$ENBD_TEST_TMP/data" bs=64k count=16 status=none
dd if="$ENBD_TEST_TMP/data" of=/dev/nd0 bs=64k oflag=direct status=none || die "write to nd0"
cmp -n $((16 * 65536)) "$ENBD_TEST_TMP/data" /dev/nd0 || die "nd0 does not read back what was written"
log "nd0 served by the installed daemons from /etc/enbd.conf"

kill_and_wait "$guardian" USR2 || die "the guardian exited with status $? on SIGUSR2"
rmmod enbd || die "rmmod enbd"

purge || die "dpkg --purge failed"
left=$(ls -d /usr/sbin/enbd* /etc/enbd.conf /lib/systemd/system/enbd* /usr/src/enbd-* \
	/usr/share/man/man*/enbd* /usr/share/doc/enbd* 2>/dev/null || true)
[ -z "$left" ] || die "left after purge: $left"
if dpkg-query -W -f='${Status}\n' enbd enbd-dkms 2>/dev/null | grep -q installed; then
	die "still known to dpkg: $(dpkg-query -W -f='${Package} ${Status}\n' enbd enbd-dkms)"
fi
log "purged: no file of enbd or enbd-dkms left"
