#!/bin/sh
# make install honours DESTDIR and PREFIX: the daemons and enbdctl in
# PREFIX/sbin, the man pages, the units (their ExecStart pointing at
# PREFIX/sbin), the example configuration, /etc/enbd.conf, and the module's
# source with a dkms.conf of the right version in /usr/src/enbd-VERSION;
# make uninstall removes all of it except the configuration in /etc.
# sanitizers: no
# timeout: 120
. "$(dirname "$0")/lib.sh"
cd "$TOP"
D=$T/root
P=/opt/enbd
VERSION=$(sed -n 's/^ENBD_VERSION := //p' dist/build.mk)
[ -n "$VERSION" ] || fail "no ENBD_VERSION in dist/build.mk"

make --no-print-directory install DESTDIR="$D" PREFIX="$P" BUILD="$ENBD_BUILD" >"$T/install.log" 2>&1 ||
	fail "make install: $(tail -n 20 "$T/install.log")"
(cd "$D" && find . -type f | sort) >"$T/files"
cat >"$T/want" <<EOT
./etc/enbd.conf
.$P/lib/systemd/system/enbd-guardian.service
.$P/lib/systemd/system/enbd-module.service
.$P/lib/systemd/system/enbd-server@.service
.$P/sbin/enbd-client
.$P/sbin/enbd-guardian
.$P/sbin/enbd-server
.$P/sbin/enbdctl
.$P/share/doc/enbd/examples/enbd.conf
.$P/share/man/man4/enbd.4
.$P/share/man/man5/enbd.conf.5
.$P/share/man/man8/enbd-client.8
.$P/share/man/man8/enbd-guardian.8
.$P/share/man/man8/enbd-server.8
.$P/share/man/man8/enbdctl.8
./usr/src/enbd-$VERSION/Kbuild
./usr/src/enbd-$VERSION/dkms.conf
./usr/src/enbd-$VERSION/include/uapi/enbd.h
EOT
for f in kernel/*.c kernel/*.h; do echo "./usr/src/enbd-$VERSION/$f"; done >>"$T/want"
sort -o "$T/want" "$T/want"
diff -u "$T/want" "$T/files" >"$T/diff" || fail "installed files differ: $(cat "$T/diff")"

for p in enbd-client enbd-server enbd-guardian enbdctl; do
	[ -x "$D$P/sbin/$p" ] || fail "$P/sbin/$p is not executable"
done
grep -qx "ExecStart=$P/sbin/enbd-guardian -f -c /etc/enbd.conf" "$D$P/lib/systemd/system/enbd-guardian.service" ||
	fail "guardian unit: $(grep ExecStart "$D$P/lib/systemd/system/enbd-guardian.service")"
grep -qx "ExecStart=$P/sbin/enbd-server \$ENBD_SERVER_ARGS" "$D$P/lib/systemd/system/enbd-server@.service" ||
	fail "server unit: $(grep ExecStart "$D$P/lib/systemd/system/enbd-server@.service")"
grep -qx "PACKAGE_VERSION=\"$VERSION\"" "$D/usr/src/enbd-$VERSION/dkms.conf" || fail "dkms.conf: $(cat "$D/usr/src/enbd-$VERSION/dkms.conf")"
grep -q '^BUILT_MODULE_NAME\[0\]="enbd"$' "$D/usr/src/enbd-$VERSION/dkms.conf" || fail "dkms.conf names no module"

# A configuration that is there is not overwritten.
echo "# mine" >"$D/etc/enbd.conf"
make --no-print-directory install DESTDIR="$D" PREFIX="$P" BUILD="$ENBD_BUILD" >"$T/install2.log" 2>&1 ||
	fail "second make install: $(tail -n 20 "$T/install2.log")"
[ "$(cat "$D/etc/enbd.conf")" = "# mine" ] || fail "make install overwrote /etc/enbd.conf"

make --no-print-directory uninstall DESTDIR="$D" PREFIX="$P" >"$T/uninstall.log" 2>&1 ||
	fail "make uninstall: $(tail -n 20 "$T/uninstall.log")"
left=$(cd "$D" && find . -type f | sort)
[ "$left" = ./etc/enbd.conf ] || fail "left after make uninstall: $left"
echo "PASS $TEST_NAME"
