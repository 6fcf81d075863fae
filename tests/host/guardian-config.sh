#!/bin/bash
# enbd-guardian -n (configtest): `client' lines from a file and --client
# arguments become one enbd-client command line per channel (--slot i,
# --channels N for a device of several, --force-multi-conn if asked, the
# i-th -b address and host after `--', never the token); every malformed line is
# refused with its FILE:LINE and exit status 1.  Needs no module.
set -eu
TOP=$(cd "$(dirname "$0")/../.." && pwd)
ENBD_BUILD=${ENBD_BUILD:-build}
case $ENBD_BUILD in /*) ;; *) ENBD_BUILD=$TOP/$ENBD_BUILD ;; esac
G=$ENBD_BUILD/enbd-guardian
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:exitcode=66}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:exitcode=66}
fail() {
	echo "FAIL guardian-config: $*" >&2
	exit 1
}
[ -x "$G" ] || fail "$G not built"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
prog=$T/enbd-client
printf '#!/bin/sh\nexit 0\n' >"$prog"
chmod +x "$prog"

cat >"$T/enbd.conf" <<CONF
# two devices
client 0 /dev/nd0 server 10809 -n 2   # a comment
	client db /dev/nd3 10.1.0.2,10.2.0.2 -b 10.1.0.1 -b 10.2.0.1 -e "my disk" --aging 5 --outage fail:1500 --force-multi-conn

CONF
"$G" -n -q -x "$prog" -c "$T/enbd.conf" --client "/dev/nd1 host --aging 250ms --outage wait -e \"it's\"" \
	>"$T/out" 2>"$T/err" || fail "configtest failed: $(cat "$T/err")"
cat >"$T/want" <<WANT
device /dev/nd0 (0, from $T/enbd.conf:2): 2 channels
  channel 0: ENBD_TOKEN=... $prog --slot 0 --channels 2 -p 10809 -q -- server /dev/nd0
  channel 1: ENBD_TOKEN=... $prog --slot 1 --channels 2 -p 10809 -q -- server /dev/nd0
device /dev/nd3 (db, from $T/enbd.conf:3): 2 channels (multi-conn forced), aging 5000 ms, outage fail after 1500 ms
  channel 0: ENBD_TOKEN=... $prog --slot 0 --channels 2 --force-multi-conn -b 10.1.0.1 -e 'my disk' -p 10809 -q -- 10.1.0.2 /dev/nd3
  channel 1: ENBD_TOKEN=... $prog --slot 1 --channels 2 --force-multi-conn -b 10.2.0.1 -e 'my disk' -p 10809 -q -- 10.2.0.2 /dev/nd3
device /dev/nd1 (nd1, from --client #1): 1 channel, aging 250 ms, outage wait
  channel 0: ENBD_TOKEN=... $prog --slot 0 -e 'it'\\''s' -p 10809 -q -- host /dev/nd1
WANT
diff -u "$T/want" "$T/out" >&2 || fail "unexpected command lines"
[ ! -s "$T/err" ] || fail "messages on a valid configuration: $(cat "$T/err")"

# refused LINE EXPECTED-MESSAGE: a file with that line is refused
refused() {
	printf '# first\n%s\n' "$1" >"$T/bad.conf"
	rc=0
	"$G" -n -x "$prog" -c "$T/bad.conf" >/dev/null 2>"$T/err" || rc=$?
	[ "$rc" = 1 ] || fail "'$1': exit status $rc (expected 1)"
	grep -qF -- "$T/bad.conf:2: $2" "$T/err" || fail "'$1': message '$(cat "$T/err")', expected '$2'"
}
refused 'servers /dev/nd0 h' "unknown keyword 'servers'"
refused 'client /dev/nd0' 'expected [ID] DEVICE HOST [PORT]'
refused 'client 0 /dev/nd0 h 1 2' 'expected [ID] DEVICE HOST [PORT]'
refused 'client /dev/sda h' '/dev/sda is not an enbd device'
refused 'client /dev/nd256 h' '/dev/nd256 is not an enbd device'
refused 'client /dev/nd01 h' '/dev/nd01 is not an enbd device'
refused 'client a/b /dev/nd0 h' "'a/b' is neither an ID"
refused 'client /dev/nd0 h 0' "bad port '0'"
refused 'client /dev/nd0 h 65536' "bad port '65536'"
refused 'client /dev/nd0 a,,b' "bad host list 'a,,b'"
refused 'client /dev/nd0 h -n 0' '-n 0: expected 1..16 channels'
refused 'client /dev/nd0 h -n 17' '-n 17: expected 1..16 channels'
refused 'client /dev/nd0 h -n' 'option -n needs an argument'
refused 'client /dev/nd0 h -z' 'unknown option -z'
refused 'client /dev/nd0 h --bogus' 'unknown option --bogus'
refused 'client /dev/nd0 h --aging 3601' '--aging 3601: expected 0..3600 seconds'
refused 'client /dev/nd0 h --aging 5x' '--aging 5x: expected'
refused 'client /dev/nd0 h --outage fail:x' '--outage fail:x: expected wait, fail or fail:MS'
refused 'client /dev/nd0 h --outage sometimes' '--outage sometimes: expected'
refused 'client /dev/nd0 h -n 1 -b a -b b' 'more -b addresses (2) or hosts (1) than channels (1)'
refused 'client /dev/nd0 a,b -n 1' 'more -b addresses (0) or hosts (2) than channels (1)'
refused 'client /dev/nd0 "h' 'unterminated quote'

# Across sources: a device or an ID only once.
rc=0
"$G" -n -x "$prog" -c "$T/enbd.conf" --client "/dev/nd0 other" >/dev/null 2>"$T/err" || rc=$?
[ "$rc" = 1 ] && grep -qF -- "--client #1: /dev/nd0 is already configured at $T/enbd.conf:2" "$T/err" ||
	fail "a device twice: exit status $rc, $(cat "$T/err")"
rc=0
"$G" -n -x "$prog" --client "x /dev/nd0 h" --client "x /dev/nd1 h" >/dev/null 2>"$T/err" || rc=$?
[ "$rc" = 1 ] && grep -qF -- "--client #2: ID x is already used at --client #1" "$T/err" ||
	fail "an ID twice: exit status $rc, $(cat "$T/err")"
rc=0
"$G" -n -x "$prog" -c "$T/none.conf" >/dev/null 2>"$T/err" || rc=$?
[ "$rc" = 1 ] && grep -qF "cannot read $T/none.conf" "$T/err" || fail "a missing file: exit status $rc"
rc=0
"$G" -n -x "$T/nonexistent" --client "/dev/nd0 h" >/dev/null 2>"$T/err" || rc=$?
[ "$rc" = 1 ] && grep -qF "not an executable file" "$T/err" || fail "a missing program: exit status $rc"
rc=0
"$G" -n -x "$prog" -c /dev/null >/dev/null 2>"$T/err" || rc=$?
[ "$rc" = 1 ] && grep -qF "nothing to guard" "$T/err" || fail "no devices: exit status $rc"
rc=0
"$G" -n extra >/dev/null 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "an operand: exit status $rc (expected 2)"
echo "PASS guardian-config"
