#!/bin/sh
# Four TLS channels at once to one nbdkit --tls=require (X.509), each
# carrying its own export (nbdkit's file plugin serves each file of a
# directory as an export), every read checked: the connections' TLS states
# do not mix.  Then --probe -n 4 through TLS checks that the export allows
# four connections (NBD_FLAG_CAN_MULTI_CONN).  (enbd-client -n 4 on a real
# device, which needs the module, is the VM's client-tls-link-cut.)
. "$(dirname "$0")/client-lib.sh"
. "$(dirname "$0")/tls-lib.sh"

make_pki
mkdir "$T/exports"
for i in 0 1 2 3; do truncate -s 32M "$T/exports/e$i"; done
start_nbdkit --tls=require --tls-certificates="$T/pki/server" file dir="$T/exports"
pids=""
for i in 0 1 2 3; do
	"$SELFTEST" -z -n 2000 -T require -C "$T/pki/client" -e "e$i" -p "$NBDKIT_PORT" localhost \
		>"$T/channel$i.log" 2>&1 &
	pids="$pids $!"
done
i=0
for pid in $pids; do
	rc=0
	wait "$pid" || rc=$?
	grep -q '^selftest: .* PASS$' "$T/channel$i.log" && [ $rc -eq 0 ] ||
		fail "channel $i (exit $rc): $(grep -E '^selftest:|error' "$T/channel$i.log" | tail -n 3)"
	grep -q 'info: TLS: TLSv1.3 ' "$T/channel$i.log" || fail "channel $i: no TLS"
	i=$((i + 1))
done
run_probe -n 4 --tls require --tls-certificates "$T/pki/client" -e e0 -p "$NBDKIT_PORT" localhost
[ $RC -eq 0 ] && grep -q '^flags: .*multi-conn' "$OUT" || fail "--probe -n 4: $(cat "$ERR")"
exit 0
