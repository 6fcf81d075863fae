#!/bin/sh
# make deb (dist/make-deb) builds the two Debian packages: enbd (the daemons
# and enbdctl in /usr/sbin, stripped; gzipped man pages; the units in
# /lib/systemd/system; /etc/enbd.conf as a conffile; copyright and
# changelog) and enbd-dkms (the module's source and dkms.conf in
# /usr/src/enbd-VERSION; postinst adds and installs it with dkms, prerm
# removes it), with the fields dpkg needs.  DKMS builds the module from the
# unpacked package against this machine's kernel headers.  Lintian, if
# installed, finds no error.  (tests/vm/tests/deb-install-purge.sh installs
# and purges them.)
# sanitizers: no
# timeout: 240
. "$(dirname "$0")/lib.sh"
need dpkg-deb
cd "$TOP"
VERSION=$(sed -n 's/^ENBD_VERSION := //p' dist/build.mk)
ARCH=$(dpkg --print-architecture)
dist/make-deb "$ENBD_BUILD" "$VERSION" "$T/deb" >"$T/make-deb.log" 2>&1 || fail "make-deb: $(cat "$T/make-deb.log")"
DEB=$T/deb/enbd_${VERSION}-1_$ARCH.deb
DKMS_DEB=$T/deb/enbd-dkms_${VERSION}-1_all.deb
[ -f "$DEB" ] && [ -f "$DKMS_DEB" ] || fail "packages missing: $(ls "$T/deb")"

field() { # DEB FIELD
	dpkg-deb -f "$1" "$2"
}
[ "$(field "$DEB" Package)" = enbd ] || fail "Package: $(field "$DEB" Package)"
[ "$(field "$DEB" Version)" = "$VERSION-1" ] || fail "Version: $(field "$DEB" Version)"
[ "$(field "$DEB" Architecture)" = "$ARCH" ] || fail "Architecture"
field "$DEB" Depends | grep -q 'libc6' || fail "enbd does not depend on libc6"
[ "$(field "$DKMS_DEB" Architecture)" = all ] || fail "enbd-dkms is not Architecture: all"
field "$DKMS_DEB" Depends | grep -q '^dkms' || fail "enbd-dkms does not depend on dkms"

dpkg-deb -c "$DEB" | awk '{ print $1, $6 }' >"$T/enbd.list"
for f in usr/sbin/enbd-client usr/sbin/enbd-server usr/sbin/enbd-guardian usr/sbin/enbdctl; do
	grep -q "^-rwxr-xr-x \./$f\$" "$T/enbd.list" || fail "enbd: no executable $f: $(cat "$T/enbd.list")"
done
for f in usr/share/man/man4/enbd.4.gz usr/share/man/man5/enbd.conf.5.gz \
	usr/share/man/man8/enbd-client.8.gz usr/share/man/man8/enbd-server.8.gz \
	usr/share/man/man8/enbd-guardian.8.gz usr/share/man/man8/enbdctl.8.gz \
	lib/systemd/system/enbd-module.service lib/systemd/system/enbd-guardian.service \
	lib/systemd/system/enbd-server@.service \
	etc/enbd.conf usr/share/doc/enbd/copyright usr/share/doc/enbd/changelog.Debian.gz; do
	grep -q "^-rw-r--r-- \./$f\$" "$T/enbd.list" || fail "enbd: no $f (0644): $(cat "$T/enbd.list")"
done
dpkg-deb -c "$DEB" | awk '$2 != "root/root" { print }' | grep . && fail "enbd: files not owned by root"
mkdir -p "$T/x/enbd" "$T/x/dkms"
dpkg-deb -R "$DEB" "$T/x/enbd"
[ "$(cat "$T/x/enbd/DEBIAN/conffiles")" = /etc/enbd.conf ] || fail "conffiles: $(cat "$T/x/enbd/DEBIAN/conffiles")"
for f in "$T"/x/enbd/usr/sbin/*; do
	readelf -S "$f" | grep -q '\.symtab' && fail "$f is not stripped"
done
grep -qx 'ExecStart=/usr/sbin/enbd-guardian -f -c /etc/enbd.conf' "$T/x/enbd/lib/systemd/system/enbd-guardian.service" ||
	fail "the packaged unit does not run /usr/sbin/enbd-guardian"
gzip -dc "$T/x/enbd/usr/share/man/man8/enbdctl.8.gz" | cmp -s - man/enbdctl.8 || fail "enbdctl.8.gz is not man/enbdctl.8"

dpkg-deb -R "$DKMS_DEB" "$T/x/dkms"
SRC=$T/x/dkms/usr/src/enbd-$VERSION
for f in Kbuild dkms.conf include/uapi/enbd.h kernel/enbd.h kernel/enbd_main.c; do
	[ -f "$SRC/$f" ] || fail "enbd-dkms: no /usr/src/enbd-$VERSION/$f"
done
grep -q "dkms add -m enbd -v $VERSION" "$T/x/dkms/DEBIAN/postinst" || fail "postinst does not add the module to dkms"
grep -q "dkms install -m enbd -v $VERSION" "$T/x/dkms/DEBIAN/postinst" || fail "postinst does not install it"
grep -q "dkms remove -m enbd -v $VERSION --all" "$T/x/dkms/DEBIAN/prerm" || fail "prerm does not remove it"
for s in "$T/x/dkms/DEBIAN/postinst" "$T/x/dkms/DEBIAN/prerm" "$T/x/enbd/DEBIAN/postinst" "$T/x/enbd/DEBIAN/postrm"; do
	sh -n "$s" || fail "$s: syntax error"
done

# DKMS builds the packaged source (its own trees: nothing is installed).
if command -v dkms >/dev/null 2>&1; then
	KVER=$(tools/kernel-version)
	mkdir -p "$T/dkms-tree"
	dkms build -m enbd -v "$VERSION" -k "$KVER" --dkmstree "$T/dkms-tree" \
		--sourcetree "$T/x/dkms/usr/src" >"$T/dkms.log" 2>&1 || fail "dkms build: $(tail -n 30 "$T/dkms.log")"
	ko=$(find "$T/dkms-tree/enbd/$VERSION/$KVER" -name 'enbd.ko*' | head -n 1)
	[ -n "$ko" ] || fail "dkms built no enbd.ko: $(tail -n 30 "$T/dkms.log")"
	modinfo -F parm "$ko" | grep -q '^keepalive:' || fail "the module dkms built has no keepalive option"
	echo "dkms built $ko for $KVER"
else
	echo "dkms is not installed: the DKMS build is not checked (tools/install-deps installs it)"
fi

if command -v lintian >/dev/null 2>&1; then
	lintian --fail-on error "$DEB" "$DKMS_DEB" >"$T/lintian.log" 2>&1 || fail "lintian: $(cat "$T/lintian.log")"
fi
echo "PASS $TEST_NAME"
