#!/bin/bash
# enbd-guardian: no word of a `server' line reaches enbd-server's command
# line as an option it did not check.  enbd-server runs as root, and an
# option smuggled in (`--port-file /etc/...' writes a file, `--tls off'
# drops encryption, another FILE serves it) must be refused with its
# FILE:LINE before anything runs.  Option values are passed as separate
# words after their option, so a value starting with `-' stays a value, and
# the FILEs come after `--', which enbd-server's getopt honours.
. "$(dirname "$0")/lib.sh"
need nbdinfo

G=$ENBD_BUILD/enbd-guardian
S=$ENBD_BUILD/enbd-server
[ -x "$G" ] && [ -x "$S" ] || fail "enbd-guardian or enbd-server not built in $ENBD_BUILD"

GUARDIAN_CHECK_OPTS=()
. "$(dirname "$0")/guardian-lib.sh"
refused 'server -m 1G --port-file /etc/x' 'unknown option --port-file'
refused 'server -m 1G --port-file=/etc/x' 'unknown option --port-file'
refused 'server -m 1G -- --port-file=/etc/x' "'--port-file=/etc/x' is neither an ID"
refused 'server -m 1G -- -d' "'-d' is neither an ID"
refused 'server x -m 1G -- --tls=off' "FILE '--tls=off': expected an absolute path"
refused 'server "-m 1G --port-file /etc/x"' "--memory ' 1G --port-file /etc/x': expected"
refused 'server -p "10809 --port-file=/x" -m 1G' "--port '10809 --port-file=/x': expected"
refused 'server -a "-p1" -m 1G' "--address '-p1': expected"
refused 'server -m 1G --allow "10.0.0.1 --default-deny"' "--allow '10.0.0.1 --default-deny': expected"
refused 'server -e "a=/srv/a.img --port-file=/x"' "--export 'a=/srv/a.img --port-file=/x': expected"
refused 'server -e "a=linear:/a,-r"' "--export 'a=linear:/a,-r': expected"
refused 'server -m 1G --tls on --tls-psk "/k --tls off"' "--tls-psk '/k --tls off': expected"
refused "server -m 1G --description $(printf 'x\033[2Jy')" "--description 'x"
refused 'server x -m 1G "/srv/a b.img"' "FILE '/srv/a b.img': expected"
refused 'server x -m 1G -- /srv/a;reboot' '--memory and FILE exclude each other'

# A value that looks like an option stays the value of its option: the
# export is named `--port-file=...' and no such file is written.
port=$($PYTHON -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'server x -p %s -a 127.0.0.1 -m 1M -n "--port-file=%s"\n' "$port" "$T/pwned" >"$T/enbd.conf"
"$G" -n -c "$T/enbd.conf" >"$T/out" || fail "refused: $(cat "$T/out")"
grep -qF -- "--name --port-file=$T/pwned --" "$T/out" || fail "unexpected command line: $(cat "$T/out")"
"$G" -f -c "$T/enbd.conf" 2>"$T/guardian.log" &
BG_PIDS="$BG_PIDS $!"
wait_until 10 nbdinfo --list "nbd://127.0.0.1:$port" >"$T/list" 2>/dev/null || fail "not served"
grep -qF -- "export=\"--port-file=$T/pwned\"" "$T/list" || grep -qF -- "--port-file=$T/pwned" "$T/list" ||
	fail "export name not listed: $(cat "$T/list")"
[ ! -e "$T/pwned" ] || fail "enbd-server read the export name as --port-file"

# enbd-server reads what follows `--' as FILEs, never as options.
rc=0
"$S" -p 0 -- "--port-file=$T/pwned" 2>"$T/err" || rc=$?
[ "$rc" = 1 ] && grep -qF "cannot open --port-file=$T/pwned" "$T/err" && [ ! -e "$T/pwned" ] ||
	fail "enbd-server -- --port-file=...: exit status $rc, $(cat "$T/err")"
echo "PASS $TEST_NAME"
