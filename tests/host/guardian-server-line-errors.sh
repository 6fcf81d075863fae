#!/bin/bash
# enbd-guardian -n refuses every malformed `server' line with its FILE:LINE
# and a message that says what was expected, before anything runs: values
# that enbd-server would refuse, combinations it would refuse at start, an
# ID or a port twice.  A good line prints the command line it would run.
# Needs no module.
. "$(dirname "$0")/lib.sh"

G=$ENBD_BUILD/enbd-guardian
[ -x "$G" ] || fail "enbd-guardian not built in $ENBD_BUILD"

# refused LINE... EXPECTED-MESSAGE: the message is about the last line (line 2 + the others)
refused() {
	want=${*: -1}
	{ echo '# first'; for l in "${@:1:$#-1}"; do echo "$l"; done; } >"$T/bad.conf"
	rc=0
	"$G" -n -c "$T/bad.conf" >"$T/out" 2>"$T/err" || rc=$?
	[ "$rc" = 1 ] || fail "'$*': exit status $rc (expected 1)"
	[ ! -s "$T/out" ] || fail "'$*': command lines printed: $(cat "$T/out")"
	grep -qF -- "$T/bad.conf:$#: $want" "$T/err" ||
		fail "'$*': message '$(cat "$T/err")', expected line $#: '$want'"
}
refused 'server' 'nothing to serve: give FILE, --memory or --export'
refused 'server d' 'nothing to serve'
refused 'server -p 0 -m 1G' "--port '0': expected 1..65535 or a service name"
refused 'server -p 65536 -m 1G' "--port '65536': expected"
refused 'server -a "::1 x" -m 1G' "--address '::1 x': expected a hostname or an IPv4 or IPv6 address"
refused 'server -m 1X' "--memory '1X': expected a size such as 1G"
refused 'server -m -1' "--memory '-1': expected"
refused 'server -m 1G -t 0' "--threads '0': expected 1..65536"
refused 'server -m 1G --max-connections 65537' "--max-connections '65537': expected 1..65536"
refused 'server -m 1G --handshake-timeout 1s' "--handshake-timeout '1s': expected 1..65536 seconds"
refused 'server -m 1G --allow 10.0.0.0/33' "--allow '10.0.0.0/33': expected an IPv4 or IPv6 address, optionally /LEN"
refused 'server -m 1G --allow host.example' "--allow 'host.example': expected"
refused 'server -e disk -m 1G' "--export 'disk': expected NAME=SPEC"
refused 'server -e disk=relative.img' "--export 'disk=relative.img': expected NAME=SPEC"
refused 'server -e disk=linear:/a,,/b' "--export 'disk=linear:/a,,/b': expected"
refused 'server -e disk=stripe:0:/a,/b' "--export 'disk=stripe:0:/a,/b': expected"
refused 'server -e disk=memory:lots' "--export 'disk=memory:lots': expected"
refused "server -n $(printf 'a\001b') -m 1G" '--name'
refused 'server -m 1G --tls maybe' "--tls 'maybe': expected off, on or require"
refused 'server -m 1G --tls on' '--tls needs --tls-certificates DIR or --tls-psk FILE'
refused 'server -m 1G --tls-psk /etc/enbd/psk' 'TLS credentials given, but no --tls on or require'
refused 'server -m 1G --tls on --tls-psk /k --tls-verify-peer' '--tls-verify-peer needs --tls-certificates'
refused 'server -m 1G --tls on --tls-certificates /c --tls-allow-name x' '--tls-allow-name needs --tls-verify-peer'
refused 'server -m 1G --tls on --tls-psk psk' "--tls-psk 'psk': expected an absolute path without blanks"
refused 'server -m 1G /srv/a.img' '--memory and FILE exclude each other'
refused 'server --linear' '--linear and --stripe need FILEs'
refused 'server --linear --stripe 64K /a /b' '--linear and --stripe exclude each other'
refused 'server /a /b' 'several FILEs need --linear or --stripe'
refused 'server -p 1 -p 2 -m 1G' '--port given twice'
refused 'server -m 1G -z' 'unknown option -z'
refused 'server -m 1G --bogus' 'unknown option --bogus'
refused 'server -m' 'option needs an argument: -m'
refused 'server a/b -m 1G' "'a/b' is neither an ID (letters, digits, _ - .) nor an absolute FILE"
refused 'server x -m 1G' 'server x -p 10809 -m 1G' 'server ID x is already used at'
refused 'server a -m 1G' 'server b -m 1G' 'port 10809 is already served at'
refused 'server a -p 10900 -a 127.0.0.1 -m 1G' 'server b -p 10900 -m 1G' 'port 10900 is already served at'

# The same port on two addresses is two servers.
cat >"$T/good.conf" <<CONF
server a -p 10900 -a 127.0.0.1 -m 1G
server b -p 10900 -a ::1 --memory=64M -r --allow 127.0.0.0/8 --allow ::1 --default-deny
server c -p 10901 --stripe 64K /srv/a.img /srv/b.img -e "old=ro:linear:/srv/c.img,memory:1M" -t 4
CONF
"$G" -n -c "$T/good.conf" >"$T/out" 2>"$T/err" || fail "good lines refused: $(cat "$T/err")"
S=$ENBD_BUILD/enbd-server
cat >"$T/want" <<WANT
server a (from $T/good.conf:1): port 10900 of 127.0.0.1
  $S --port 10900 --address 127.0.0.1 --memory 1G --
server b (from $T/good.conf:2): port 10900 of ::1
  $S --port 10900 --address ::1 --memory 64M --read-only --allow 127.0.0.0/8 --allow ::1 --default-deny --
server c (from $T/good.conf:3): port 10901
  $S --port 10901 --stripe 64K --export old=ro:linear:/srv/c.img,memory:1M --threads 4 -- /srv/a.img /srv/b.img
WANT
diff -u "$T/want" "$T/out" >&2 || fail "unexpected command lines"
echo "PASS $TEST_NAME"
