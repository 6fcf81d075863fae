#!/bin/bash
# enbd-client fails with exit status 1 and one clear error line: module not
# loaded, not an enbd device, server unreachable, unknown export, not root,
# device busy (configured with another size), wrong session token.
# `enbd-client -d` shuts the device down: a wrong token is refused, the
# right one (from $ENBD_TOKEN) ejects the serving client, which exits 3.
# --slot takes a given channel slot, and a taken one is refused.  rmmod then
# succeeds.
# timeout: 200
. "$ENBD_ROOT/tests/vm/lib.sh"
require_cmd nbdkit setpriv

out=$ENBD_TEST_TMP/out
expect_error() { # PATTERN CLIENT-ARGS...: exit 1, one error line on stderr matching
	local pat=$1 rc=0
	shift
	timeout 60 "$ENBD_CLIENT" "$@" </dev/null >/dev/null 2>"$out" || rc=$?
	[ $rc -eq 1 ] || die "enbd-client $*: exit $rc, expected 1: $(cat "$out")"
	[ "$(grep -c 'error:' "$out")" -eq 1 ] || die "enbd-client $*: not one error line: $(cat "$out")"
	grep -q "error: .*$pat" "$out" || die "enbd-client $*: expected '$pat': $(cat "$out")"
	log "ok: $(sed -n 's/.*error: //p' "$out")"
}

start_nbdkit memory 64M >/dev/null
port64=$NBDKIT_PORT
expect_error 'enbd module not loaded' -p "$port64" 127.0.0.1 /dev/nd0
expect_error 'enbd module not loaded' -d /dev/nd0

load_enbd
expect_error 'is not a block device' -p "$port64" 127.0.0.1 /dev/null
mknod "$ENBD_TEST_TMP/blk" b 7 99
expect_error 'is not an enbd device' -p "$port64" 127.0.0.1 "$ENBD_TEST_TMP/blk"
if modprobe brd rd_nr=1 rd_size=1024 2>/dev/null; then
	on_exit rmmod brd
	expect_error 'is not an enbd device (it is ram0)' -p "$port64" 127.0.0.1 /dev/ram0
fi
expect_error "cannot connect to 127.0.0.1 port 1: Connection refused" -p 1 127.0.0.1 /dev/nd0
start_nbdkit --filter=exportname memory 64M exportname-strict=true exportname=disk >/dev/null
expect_error "server has no export named 'nope'" -p "$NBDKIT_PORT" -e nope 127.0.0.1 /dev/nd0
# Not root: the control file is root's; root without CAP_SYS_ADMIN: EPERM.
rc=0
setpriv --reuid=65534 --regid=65534 --clear-groups "$ENBD_CLIENT" -p "$port64" 127.0.0.1 /dev/nd0 \
	</dev/null >/dev/null 2>"$out" || rc=$?
[ $rc -eq 1 ] && grep -q 'permission denied (must be root)' "$out" || die "as nobody: exit $rc: $(cat "$out")"
rc=0
setpriv --inh-caps=-sys_admin --bounding-set=-sys_admin "$ENBD_CLIENT" -p "$port64" 127.0.0.1 /dev/nd0 \
	</dev/null >/dev/null 2>"$out" || rc=$?
[ $rc -eq 1 ] && grep -q 'permission denied (must be root)' "$out" || die "without CAP_SYS_ADMIN: exit $rc: $(cat "$out")"
log "ok: not root"

# A client serves nd0 with token 1234 from the 64 MiB export.
log_file=$ENBD_TEST_TMP/client.log
"$ENBD_CLIENT" -t 1234 -p "$port64" 127.0.0.1 /dev/nd0 </dev/null 2>"$log_file" &
client=$!
on_exit kill_and_wait "$client"
wait_for_disk /dev/nd0

expect_error 'wrong session token' -t 999 -p "$port64" 127.0.0.1 /dev/nd0
expect_error 'wrong session token' -p "$port64" 127.0.0.1 /dev/nd0
start_nbdkit memory 32M >/dev/null
# The daemon compares the export with the configured device (sysfs) before
# the kernel would refuse its CONFIGURE with EBUSY.
expect_error 'export size changed from 67108864 to 33554432 bytes: refusing to serve /dev/nd0' -t 1234 -p "$NBDKIT_PORT" 127.0.0.1 /dev/nd0
expect_error 'shutdown refused: wrong session token' -d /dev/nd0 -t 5
# The first client took slot 0: a second one may take slot 5, not slot 0.
grep -q 'attached to /dev/nd0 as channel 0' "$log_file" || true
expect_error 'channel slot 0 is taken' -t 1234 --slot 0 -p "$port64" 127.0.0.1 /dev/nd0
ENBD_TOKEN=1234 "$ENBD_CLIENT" --slot 5 -p "$port64" 127.0.0.1 /dev/nd0 </dev/null 2>"$ENBD_TEST_TMP/client2.log" &
client2=$!
on_exit kill_and_wait "$client2"
wait_for -t 20 grep -q 'serving /dev/nd0' "$ENBD_TEST_TMP/client2.log" || die "second client: $(cat "$ENBD_TEST_TMP/client2.log")"
grep -q '^\[0\] Sockets: *2' /proc/nbdinfo || die "two channels expected: $(grep Sockets /proc/nbdinfo)"

# The right token (from the environment) shuts the device down; both
# clients are ejected and exit 3.
ENBD_TOKEN=1234 "$ENBD_CLIENT" -d /dev/nd0 2>"$out" || die "enbd-client -d: $(cat "$out")"
for pid in "$client" "$client2"; do
	wait_for -t 20 proc_gone "$pid" || die "client $pid was not ejected"
	rc=0
	wait "$pid" || rc=$?
	[ $rc -eq 3 ] || die "ejected client exited with $rc, expected 3: $(cat "$log_file")"
done
grep -q 'channel ejected' "$log_file" || die "no ejection message: $(cat "$log_file")"
cat "$log_file" >&2
unload_enbd
log "all errors reported; rmmod after shutdown works"
