#!/bin/bash
# timeout: 60
# README's "TLS: a worked example" works as written: its shell lines (the
# CA, the server and client certificates, the PSK file) run in a scratch
# directory standing for /etc/enbd, with server.example.org / 192.0.2.10
# standing for localhost / 127.0.0.1; each `enbd-server` line serves, its
# `client` line is a valid /etc/enbd.conf line for the guardian, and its
# `enbd-client --probe` line prints a TLS 1.3 `tls:` line (X.509 with the
# client certificate, then PSK).
. "$(dirname "$0")/server-lib.sh"
need openssl
C=$ENBD_BUILD/enbd-client G=$ENBD_BUILD/enbd-guardian
[ -x "$C" ] && [ -x "$G" ] || fail "enbd-client or enbd-guardian not built in $ENBD_BUILD"

# The indented lines between the README's tls-example markers, made local.
sed -n '/^<!-- tls-example/,/^<!-- \/tls-example/s/^    //p' "$TOP/README.md" |
	sed -e "s|/etc/enbd|$T/etc|g" -e 's|server\.example\.org|localhost|g' \
		-e 's|192\.0\.2\.10|127.0.0.1|g' -e "s|/srv/disk.img|$T/disk.img|g" >"$T/example"
grep -q '^openssl ' "$T/example" || fail "no example in README.md: $(cat "$T/example")"
grep -v '^enbd-\|^client ' "$T/example" >"$T/setup.sh"
(cd "$T" && sh -e "$T/setup.sh") >"$T/setup.out" 2>&1 || fail "the example's set-up failed: $(cat "$T/setup.out")"
truncate -s 1M "$T/disk.img"

grep -q '^enbd-server -p 10809 ' "$T/example" || fail "no enbd-server line on port 10809"
runs=0
while read -r server; do
	runs=$((runs + 1))
	client=$(grep '^client ' "$T/example" | sed -n "${runs}p")
	probe=$(grep '^enbd-client --probe ' "$T/example" | sed -n "${runs}p")
	[ -n "$client" ] && [ -n "$probe" ] || fail "no client or probe line for: $server"
	# shellcheck disable=SC2086 # a command line of the README, split as sh would
	eval "set -- ${server#enbd-server -p 10809 }"
	start_server "$@"
	printf '%s\n' "${client/ 10809 / $PORT }" >"$T/enbd.conf"
	"$G" -n -x "$C" -c "$T/enbd.conf" >"$T/guardian.out" 2>&1 ||
		fail "the guardian refused: $client: $(cat "$T/guardian.out")"
	eval "set -- ${probe#enbd-client }"
	"$C" "${@/10809/$PORT}" >"$T/probe.out" 2>&1 || fail "$probe: $(cat "$T/probe.out")"
	grep -q '^tls: TLSv1.3 ' "$T/probe.out" || fail "$probe printed no TLS 1.3 line: $(cat "$T/probe.out")"
	stop_server
	echo "ok: $server: $(grep '^tls:' "$T/probe.out")"
done < <(grep '^enbd-server ' "$T/example")
[ "$runs" = 2 ] || fail "expected an X.509 and a PSK example, found $runs server lines"
