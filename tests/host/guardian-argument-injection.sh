#!/bin/bash
# enbd-guardian: no field of a `client' line reaches a channel daemon's
# command line as an option.  `client /dev/nd0 a,-d' used to run channel 1
# as `enbd-client ... -d /dev/nd0', which shuts the device down with the
# real token: every host, port, export name, -b address and device path is
# now checked and a bad one refused with its FILE:LINE before anything runs;
# the operands come after `--', which enbd-client's getopt honours.  Needs
# no module (configtest, -n).
. "$(dirname "$0")/lib.sh"

G=$ENBD_BUILD/enbd-guardian
CLIENT=$ENBD_BUILD/enbd-client
[ -x "$G" ] && [ -x "$CLIENT" ] || fail "enbd-guardian or enbd-client not built in $ENBD_BUILD"
prog=$T/enbd-client
printf '#!/bin/sh\nexit 0\n' >"$prog"
chmod +x "$prog"

GUARDIAN_CHECK_OPTS=(-x "$prog")
. "$(dirname "$0")/guardian-lib.sh"
# The reported injection, and the same through the other fields.
refused 'client /dev/nd0 a,-d' "host '-d' is neither a hostname (RFC 1123) nor an IPv4 or IPv6 address"
refused 'client /dev/nd0 -- -d' "host '-d' is neither"
refused 'client /dev/nd0 a,--slot=3' "host '--slot=3' is neither"
refused 'client /dev/nd0 "a b"' "host 'a b' is neither"
refused 'client /dev/nd0 a;reboot' "host 'a;reboot' is neither"
refused 'client /dev/nd0 host-.example' "host 'host-.example' is neither"
refused 'client /dev/nd0 fd00::1::2' "host 'fd00::1::2' is neither"
long_label=$(printf 'x%.0s' {1..64}).example
refused "client /dev/nd0 $long_label" "host '$long_label' is neither"
refused 'client /dev/nd0 h -- -d' "bad port '-d'"
refused 'client /dev/nd0 h 10809x' "bad port '10809x'"
refused 'client /dev/nd0 h -b -d' '-b -d: expected an IPv4 or IPv6 address or an interface name'
refused 'client /dev/nd0 h -b "eth 1"' '-b eth 1: expected'
refused 'client /dev/nd0 h -b averyveryverylongname' '-b averyveryverylongname: expected'
refused "client /dev/nd0 h -e $(printf 'a\001b')" 'bad export name'
refused "client /dev/nd0 h -e $(printf 'a\377b')" 'bad export name'
refused "client /dev/nd0 h -e $(printf 'a\300\257')" 'bad export name'
refused "client /dev/nd0 h -e $(printf 'x%.0s' {1..4097})" 'bad export name'
refused 'client "/dev/nd0 -d" h' 'expected [ID] DEVICE HOST [PORT]: DEVICE is a path such as /dev/nd0'

# Accepted: IP literals, a zone, names, UTF-8; every operand after `--'.
cat >"$T/good.conf" <<CONF
client /dev/nd0 fd00::2,10.0.0.2,fe80::1%eth1,nbd.example. nbd -b eth1 -b fd00::1 -e "dïsk -d"
CONF
"$G" -n -x "$prog" -c "$T/good.conf" >"$T/out" 2>"$T/err" || fail "good lines refused: $(cat "$T/err")"
cat >"$T/want" <<WANT
device /dev/nd0 (nd0, from $T/good.conf:1): 4 channels
  channel 0: ENBD_TOKEN=... $prog --slot 0 --channels 4 -b eth1 -e 'dïsk -d' -p nbd -- fd00::2 /dev/nd0
  channel 1: ENBD_TOKEN=... $prog --slot 1 --channels 4 -b fd00::1 -e 'dïsk -d' -p nbd -- 10.0.0.2 /dev/nd0
  channel 2: ENBD_TOKEN=... $prog --slot 2 --channels 4 -b eth1 -e 'dïsk -d' -p nbd -- fe80::1%eth1 /dev/nd0
  channel 3: ENBD_TOKEN=... $prog --slot 3 --channels 4 -b fd00::1 -e 'dïsk -d' -p nbd -- nbd.example. /dev/nd0
WANT
diff -u "$T/want" "$T/out" >&2 || fail "unexpected command lines"

# enbd-client reads what follows `--' as operands: HOST `-d', DEVICE
# /dev/null (refused as not a block device), not the option -d with two
# operands (a usage error, exit status 2).
rc=0
"$CLIENT" -p 10809 -- -d /dev/null >/dev/null 2>"$T/err" || rc=$?
[ "$rc" = 1 ] && grep -qF "/dev/null is not a block device" "$T/err" ||
	fail "enbd-client -- -d /dev/null: exit status $rc, $(cat "$T/err")"
echo "PASS $TEST_NAME"
