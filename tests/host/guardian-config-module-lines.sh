#!/bin/sh
# `module NAME=VALUE...` lines of enbd.conf: enbd-guardian -m prints them
# as one modprobe.d line ("options enbd ..."), in a fixed order, nothing
# without any, also from a file of module lines alone; -n shows it before
# the channels' command lines; an unknown option, a value out of the
# module's range (the same limits as kernel/enbd_main.c), a missing value
# or an option set twice is refused with FILE:LINE and exit status 1.
# Needs no module.
. "$(dirname "$0")/lib.sh"
G=$ENBD_BUILD/enbd-guardian
[ -x "$G" ] || fail "$G not built"

cat >"$T/ok.conf" <<'EOT'
# comment
module aging=20 keepalive=5
client /dev/nd0 10.0.0.1 10809 -n 2
module readahead=65536 ndevs=8   # comment
EOT
out=$("$G" -m -c "$T/ok.conf") || fail "-m failed"
[ "$out" = "options enbd keepalive=5 readahead=65536 aging=20 ndevs=8" ] || fail "-m printed: $out"
"$G" -n -c "$T/ok.conf" >"$T/n.out" || fail "-n failed"
[ "$(head -n 1 "$T/n.out")" = "options enbd keepalive=5 readahead=65536 aging=20 ndevs=8" ] ||
	fail "-n does not show the module line first: $(cat "$T/n.out")"
grep -q 'channel 1:' "$T/n.out" || fail "-n shows no channels: $(cat "$T/n.out")"

echo 'module keepalive=0 aging=0 ndevs=1 readahead=0' >"$T/only.conf"
[ "$("$G" -m -c "$T/only.conf")" = "options enbd keepalive=0 readahead=0 aging=0 ndevs=1" ] ||
	fail "-m of module lines alone: $("$G" -m -c "$T/only.conf" 2>&1)"
echo 'client /dev/nd0 host' >"$T/none.conf"
[ -z "$("$G" -m -c "$T/none.conf")" ] || fail "-m without module lines printed something"

refused() { # MESSAGE LINE...: the file of LINEs is refused with MESSAGE (a grep pattern)
	msg=$1
	shift
	printf '%s\n' "$@" >"$T/bad.conf"
	rc=0
	"$G" -m -c "$T/bad.conf" >"$T/bad.out" 2>&1 || rc=$?
	[ "$rc" = 1 ] || fail "exit status $rc for: $*"
	grep -q "bad.conf:$msg" "$T/bad.out" || fail "for '$*': $(cat "$T/bad.out")"
}
refused "1: keepalive=3601: expected keepalive=0..3600" 'module keepalive=3601'
refused "2: readahead=65537: expected readahead=0..65536" '# two' 'module readahead=65537'
refused "1: ndevs=0: expected ndevs=1..256" 'module ndevs=0'
refused "1: aging=-1: expected aging=0..3600" 'module aging=-1'
refused "1: keepalive=5x" 'module keepalive=5x'
refused "1: unknown module option 'timeout'" 'module timeout=5'
refused "1: keepalive: expected keepalive=VALUE" 'module keepalive'
refused "1: module: expected NAME=VALUE" 'module'
refused "2: aging is already set at .*bad.conf:1" 'module aging=1' 'module aging=2'
refused "1: unknown keyword 'modules' (expected: client, module or server)" 'modules aging=1'
echo "PASS $TEST_NAME"
