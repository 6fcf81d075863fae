#!/bin/bash
# enbd-guardian: the TLS options of a `client' line (--tls, --tls-certificates,
# --tls-psk, --tls-username, --tls-hostname) are checked like the other
# fields and passed to every channel daemon of the device before `--';
# credentials are absolute paths (a key written in place of its file is
# refused, and not echoed in the message), an option cannot be smuggled in
# through them, and options that do not fit together are refused with
# their FILE:LINE.  Needs no module (-n).
. "$(dirname "$0")/lib.sh"

G=$ENBD_BUILD/enbd-guardian
[ -x "$G" ] || fail "enbd-guardian not built in $ENBD_BUILD"
prog=$T/enbd-client
printf '#!/bin/sh\nexit 0\n' >"$prog"
chmod +x "$prog"

GUARDIAN_CHECK_OPTS=(-x "$prog")
. "$(dirname "$0")/guardian-lib.sh"
key=0123456789abcdef0123456789abcdef
refused 'client /dev/nd0 h --tls maybe' 'bad --tls argument: expected off, on or require'
refused 'client /dev/nd0 h --tls -d' 'bad --tls argument'
refused "client /dev/nd0 h --tls require --tls-psk alice:$key" 'bad --tls-psk argument: expected an absolute path'
grep -q "$key" "$T/err" && fail "the key in the message: $(cat "$T/err")"
refused 'client /dev/nd0 h --tls require --tls-psk "/etc/k -d"' 'bad --tls-psk argument'
refused 'client /dev/nd0 h --tls require --tls-certificates pki' 'bad --tls-certificates argument'
refused 'client /dev/nd0 h --tls require --tls-psk /k --tls-username -d' 'bad --tls-username argument'
refused 'client /dev/nd0 h --tls require --tls-psk /k --tls-hostname -d' 'bad --tls-hostname argument'
refused 'client /dev/nd0 h --tls require' '--tls require needs --tls-certificates DIR or --tls-psk FILE'
refused 'client /dev/nd0 h --tls on --tls-psk /k --tls-certificates /d' '--tls on needs'
refused 'client /dev/nd0 h --tls-psk /k' 'TLS options without --tls on or require'
refused 'client /dev/nd0 h --tls off --tls-hostname h' 'TLS options without --tls on or require'
refused 'client /dev/nd0 h --tls on --tls-certificates /d --tls-username alice' '--tls-username goes with --tls-psk'

cat >"$T/good.conf" <<CONF
client /dev/nd0 10.0.0.2,10.0.0.3 --tls require --tls-psk /etc/enbd/keys.psk --tls-username alice
client /dev/nd1 nbd.example --tls on --tls-certificates /etc/enbd/pki --tls-hostname disk.example
CONF
"$G" -n -x "$prog" -c "$T/good.conf" >"$T/out" 2>"$T/err" || fail "good lines refused: $(cat "$T/err")"
cat >"$T/want" <<WANT
device /dev/nd0 (nd0, from $T/good.conf:1): 2 channels
  channel 0: ENBD_TOKEN=... $prog --slot 0 --channels 2 --tls require --tls-psk /etc/enbd/keys.psk --tls-username alice -p 10809 -- 10.0.0.2 /dev/nd0
  channel 1: ENBD_TOKEN=... $prog --slot 1 --channels 2 --tls require --tls-psk /etc/enbd/keys.psk --tls-username alice -p 10809 -- 10.0.0.3 /dev/nd0
device /dev/nd1 (nd1, from $T/good.conf:2): 1 channel
  channel 0: ENBD_TOKEN=... $prog --slot 0 --tls on --tls-certificates /etc/enbd/pki --tls-hostname disk.example -p 10809 -- nbd.example /dev/nd1
WANT
diff -u "$T/want" "$T/out" >&2 || fail "unexpected command lines"
exit 0
