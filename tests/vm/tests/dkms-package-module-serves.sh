#!/bin/bash
# The enbd-dkms package that make deb builds, installed in the guest with
# dpkg: its postinst has DKMS install the module for the running kernel,
# modinfo and modprobe find that module (updates/dkms), it loads and serves
# /dev/nd0 (data written reads back).  (Purging it is left out: DKMS's
# removal took 100 s here; the files are removed by hand instead.)
# Two shortcuts, both for time under TCG: DKMS's build (make against
# Debian's headers) ran on the host for the guest's kernel, from the same
# package (tests/vm/run, "# dkms: enbd": 7 minutes in the guest, seconds
# there), and its tree is the guest's /var/lib/dkms, so the postinst's
# `dkms install' finds the module built and installs it; and the kernel's
# 4000 modules are out of sight meanwhile (an empty directory over
# /lib/modules/KVER/kernel), since reading them through 9p takes minutes
# (DKMS's version check looks for an enbd.ko among them - there is none -
# and depmod -a indexes them), so the depmod DKMS runs indexes the DKMS tree
# alone.  dpkg keeps its database in the
# test's directory (reading the host's through 9p takes minutes), so
# dependencies are not checked (--force-depends; dkms and the headers are
# installed, as the package's Depends and Recommends ask).
# timeout: 240
# dkms: enbd
. "$ENBD_ROOT/tests/vm/lib.sh"
require_cmd dpkg dkms depmod modinfo
version=$(sed -n 's/^ENBD_VERSION := //p' "$ENBD_ROOT/dist/build.mk")
kver=$(uname -r)
mods=/lib/modules/$kver
staged=$ENBD_ROOT/build/vm/dkms-$kver
dkms_deb=$staged/deb/enbd-dkms_${version}-1_all.deb
[ -f "$dkms_deb" ] && [ -d "$staged/tree/enbd/$version/$kver" ] ||
	skip "DKMS did not build enbd for $kver on the host (see $staged/build.log)"
grep -q '^enbd ' /proc/modules && die "enbd is already loaded"
[ -e /var/lib/dkms/enbd ] && die "/var/lib/dkms/enbd exists already"
mkdir -p /var/lib/dkms
cp -a "$staged/tree/enbd" /var/lib/dkms/ || die "cannot copy DKMS's tree"
ln -sfn "/usr/src/enbd-$version" "/var/lib/dkms/enbd/$version/source"
on_exit rm -rf /var/lib/dkms/enbd
log "DKMS tree with enbd/$version built for $kver on the host: $(ls "$staged/tree/enbd/$version/$kver"/*/module)"

admin=$ENBD_TEST_TMP/dpkg
mkdir -p "$admin/info" "$admin/updates" "$admin/triggers"
: >"$admin/status"
: >"$admin/available"
dpkg() {
	command dpkg --admindir="$admin" --force-depends "$@"
}

# depmod for the modules DKMS installs (updates/), the kernel's built-ins
# known; the kernel's own index is put back on exit.
mkdir -p "$ENBD_TEST_TMP/empty"
mount --bind "$ENBD_TEST_TMP/empty" "$mods/kernel" || die "cannot hide $mods/kernel"
on_exit umount "$mods/kernel"
mkdir -p "$ENBD_TEST_TMP/bin" "$ENBD_TEST_TMP/depmod-saved"
cp "$mods"/modules.* "$ENBD_TEST_TMP/depmod-saved/"
restore_index() {
	cp "$ENBD_TEST_TMP/depmod-saved"/modules.* "$mods/"
}
on_exit restore_index
cat >"$ENBD_TEST_TMP/bin/depmod" <<SH
#!/bin/sh
# depmod -a KVER [-F MAP], as DKMS calls it: the DKMS tree alone
tree=\$(mktemp -d)
mkdir -p "\$tree$mods"
cp $mods/modules.builtin $mods/modules.builtin.modinfo $mods/modules.order "\$tree$mods/"
[ -d $mods/updates ] && cp -r $mods/updates "\$tree$mods/"
/sbin/depmod -b "\$tree" $kver && cp "\$tree$mods"/modules.* $mods/
rc=\$?
rm -rf "\$tree"
echo "depmod (test): indexed \$(ls -R $mods/updates 2>/dev/null | grep -c '\.ko') DKMS modules" >&2
exit \$rc
SH
chmod +x "$ENBD_TEST_TMP/bin/depmod"
export PATH=$ENBD_TEST_TMP/bin:$PATH

# What the package and DKMS put in place goes again (not dpkg --purge:
# its DKMS removal reads the module tree again, 100 s under TCG).
unplace() {
	rm -rf "/usr/src/enbd-$version" "$mods/updates/dkms/enbd.ko"
}
on_exit unplace
start=$(date +%s)
dpkg -i "$dkms_deb" >&2 || die "dpkg -i enbd-dkms failed"
log "dpkg -i enbd-dkms: its postinst (dkms install) took $(($(date +%s) - start)) s"
built=/var/lib/dkms/enbd/$version/$kver/$(uname -m)/module/enbd.ko
ko=$(modinfo -n enbd) || die "modinfo finds no enbd module"
case $ko in
"$mods"/updates/dkms/enbd.ko*) ;;
*) die "modinfo -n enbd: $ko, not DKMS's module" ;;
esac
cmp -s "$ko" "$built" || die "$ko is not the module DKMS built ($built)"
cmp -s "$ko" "$ENBD_MODULE" && die "$ko is the checkout's enbd.ko, not DKMS's build"
modinfo -F signer "$ko" | grep -q . || log "note: $ko is not signed"
log "DKMS installed $ko (signer: $(modinfo -F signer "$ko"))"

modprobe enbd keepalive=6 || die "modprobe enbd (the DKMS module) failed"
on_exit unload_enbd
[ "$(cat /sys/module/enbd/srcversion)" = "$(modinfo -F srcversion "$ko")" ] || die "the loaded module is not $ko"
wait_for -t 10 test -c /dev/enbd-control || die "no /dev/enbd-control"
start_enbd_server
start_enbd_client -p "$SERVER_PORT" 127.0.0.1 /dev/nd0
wait_for_disk /dev/nd0
dd if=/dev/urandom of="$ENBD_TEST_TMP/data" bs=64k count=32 status=none
dd if="$ENBD_TEST_TMP/data" of=/dev/nd0 bs=64k oflag=direct status=none || die "write to nd0"
echo 3 >/proc/sys/vm/drop_caches
cmp -n $((32 * 65536)) "$ENBD_TEST_TMP/data" /dev/nd0 || die "nd0 does not read back what was written"
log "the DKMS-built module serves /dev/nd0: 2 MiB written and read back"
kill_and_wait "$ENBD_CLIENT_PID" TERM || die "enbd-client exited with status $?"
"$ENBD_CLIENT" -d /dev/nd0 >&2 || true
unload_enbd || die "rmmod enbd"
