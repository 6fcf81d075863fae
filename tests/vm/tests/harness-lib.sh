#!/bin/bash
# timeout: 120
# tests/vm/lib.sh works: wait_for, on_exit order (also from a subshell),
# kill_and_wait status, start_nbdkit (TCP, in a network namespace, Unix socket).
. "$ENBD_ROOT/tests/vm/lib.sh"
require_cmd nbdkit nbdinfo

# wait_for: success, timeout, shell functions.
wait_for -t 5 true || die "wait_for true"
must_fail wait_for -q -t 1 false
flag=$ENBD_TEST_TMP/flag
(sleep 0.3; touch "$flag") &
flag_set() { [ -e "$flag" ]; }
wait_for -t 10 flag_set || die "wait_for a function"
# ENBD_WAIT_SCALE (ENBD_VM_TIMEOUT_SCALE, for a slow debug kernel) stretches
# the bound: 0.4 s at scale 3 times out after 1.2 s, not 0.4 s.
started=${EPOCHREALTIME/[.,]/}
ENBD_WAIT_SCALE=3 must_fail wait_for -q -t 0.4 false
waited=$(( (${EPOCHREALTIME/[.,]/} - started) / 1000 ))
[ "$waited" -ge 1200 ] || die "wait_for ignored ENBD_WAIT_SCALE: gave up after $waited ms"

# on_exit runs in reverse order, including what a subshell registered;
# check_order, registered first, runs last.
order=$ENBD_TEST_TMP/order
check_order() {
	local got
	got=$(tr '\n' ' ' <"$order")
	[ "$got" = "second first " ] || { log "FAIL: cleanup order was: $got"; exit 1; }
	log "cleanups ran in order: $got"
}
on_exit check_order
on_exit sh -c "echo first >>'$order'"
( on_exit sh -c "echo second >>'$order'" )
( . "$ENBD_ROOT/tests/vm/lib.sh"; on_exit sh -c "echo nested >'$order.nested'" )
[ "$(cat "$order.nested")" = nested ] || die "a nested lib.sh user did not clean up"

# kill_and_wait reports a child's exit status.
sleep 60 &
pid=$!
must_fail kill_and_wait "$pid"
sh -c 'trap "exit 0" TERM; while :; do sleep 0.1; done' &
pid=$!
sleep 0.2
kill_and_wait "$pid" || die "kill_and_wait: clean exit on SIGTERM not reported as 0"
proc_gone "$pid" || die "proc_gone"

# nbdkit over TCP, with the port from a subshell.
port=$(start_nbdkit memory 64M)
[ -n "$port" ] || die "no port"
size=$(nbdinfo --size "nbd://localhost:$port")
[ "$size" = $((64 << 20)) ] || die "nbdkit size $size"
# ... in a network namespace
ip netns add harness-lib
on_exit ip netns delete harness-lib
ip -n harness-lib link set lo up
nsport=$(start_nbdkit --netns harness-lib memory 1M)
ip netns exec harness-lib nbdinfo --size "nbd://127.0.0.1:$nsport" >/dev/null ||
	die "nbdkit in a namespace"
must_fail nbdinfo --size "nbd://127.0.0.1:$nsport" 2>/dev/null
# ... on a Unix socket
sock=$(start_nbdkit_unix memory 2M)
[ "$(nbdinfo --size "nbd+unix:///?socket=$sock")" = $((2 << 20)) ] || die "unix nbdkit"
log "nbdkit on port $port, in the namespace on $nsport, on $sock"
