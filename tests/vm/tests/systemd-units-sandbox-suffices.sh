#!/bin/bash
# The units' sandboxes are enough for what runs in them (there is no systemd
# in the VM, so each unit's command line runs in an imitation of its
# sandbox: its CapabilityBoundingSet, NoNewPrivileges, UMask, /usr /boot
# /etc read-only for ProtectSystem=full, /proc with hidepid=invisible for
# ProtectProc=invisible; not imitated: the device cgroup, whose rules are
# checked instead against every device node strace saw opened).
# enbd-module.service writes the module line and loads the module
# (keepalive=7 applied); enbd-server@.service serves a loop device; the
# guardian, with CAP_SYS_ADMIN alone, runs a server line and serves nd0 from
# it with two channels bound to an interface (-b lo: no CAP_NET_RAW) and nd1
# from the unit's server: data written reads back on both, SIGUSR2 ends it
# with status 0.  The guardian and its daemons opened no device but
# /dev/enbd-control and the pseudo devices DevicePolicy=closed allows; the
# server no device but block devices and those.
# timeout: 150
# modprobe: enbd
. "$ENBD_ROOT/tests/vm/guardian-lib.sh"
require_cmd strace setpriv unshare losetup python3
units=$ENBD_TEST_TMP/units
mkdir -p "$units"
for unit in enbd-module.service enbd-guardian.service enbd-server@.service; do
	sed "s|@SBINDIR@|$ENBD_ROOT/$ENBD_BUILD|g" "$ENBD_ROOT/dist/systemd/$unit.in" >"$units/$unit"
done

unit_key() { # UNIT KEY: the values of KEY=, one a line
	sed -n "s/^$2=//p" "$units/$1"
}

# in_sandbox UNIT LOG CMD...: exec CMD in UNIT's sandbox (imitated, above),
# under strace, which logs the files that CMD and its children opened to LOG
# and exits with CMD's status (so: in a subshell, or with &; $! is strace);
# LOG "-": no strace.
in_sandbox() {
	local unit=$1 log=$2 caps
	shift 2
	if [ "$(unit_key "$unit" NoNewPrivileges)" != yes ] || [ "$(unit_key "$unit" ProtectSystem)" != full ] ||
		[ "$(unit_key "$unit" ProtectProc)" != invisible ]; then
		die "$unit's sandbox is not the one imitated here"
	fi
	caps=$(unit_key "$unit" CapabilityBoundingSet | tr ' ' '\n' | sed 's/^CAP_/+/' | tr '[:upper:]' '[:lower:]' | paste -sd,)
	exec unshare --mount --propagation private -- /bin/sh -c '
		for d in /usr /boot /etc; do
			[ -d "$d" ] || continue
			mount --bind "$d" "$d" && mount -o remount,bind,ro "$d" || exit 125
		done
		mount -t proc -o hidepid=invisible proc /proc || exit 125
		umask "$1"
		log=$2 caps=$3
		shift 3
		set -- setpriv --no-new-privs --inh-caps=-all --ambient-caps=-all --bounding-set="-all,$caps" -- "$@"
		[ "$log" = - ] || set -- strace -f -qq --seccomp-bpf -e trace=open,openat \
			-e status=successful -o "$log" "$@"
		exec "$@"
	' sh "$(unit_key "$unit" UMask)" "$log" "$caps" "$@"
}

# run_exec_line UNIT LOG LINE: LINE (of ExecStart=, without its "-"), split
# into words as systemd does, in UNIT's sandbox.
run_exec_line() {
	local unit=$1 log=$2 line=${3#-}
	eval "set -- $line"
	(in_sandbox "$unit" "$log" "$@") </dev/null
}

# stop_traced TRACER SIGNAL: SIGNAL to what strace runs (strace passes no
# signal on); its exit status, which strace exits with.
stop_traced() {
	local pid rc=0
	pid=$(pgrep -P "$1") && kill_and_wait "$pid" "$2"
	wait "$1" || rc=$?
	return "$rc"
}

# end_traced TRACER SIGNAL: stop_traced as a cleanup, if it still runs
end_traced() {
	proc_gone "$1" || stop_traced "$1" "$2" || true
}

# devices_opened LOG: the device nodes opened, one a line
devices_opened() {
	grep -o '"/dev/[^"]*"' "$1" | tr -d '"' | sort -u
}

# The pseudo devices that DevicePolicy=closed always allows.
PSEUDO="/dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty /dev/ptmx"

[ -e /etc/enbd.conf ] && die "/etc/enbd.conf exists already"
[ -e /run/enbd ] && die "/run/enbd exists already"
on_exit rm -rf /etc/enbd.conf /etc/enbd /run/enbd /run/modprobe.d/enbd.conf
ports=()
for p in 20811 20812; do
	[ -z "$(ss -Hltn "sport = :$p")" ] || die "port $p is taken"
	ports+=("$p")
done
truncate -s 32M "$ENBD_TEST_TMP/disk.img" "$ENBD_TEST_TMP/blk.img"
loop=$(losetup -f --show "$ENBD_TEST_TMP/blk.img") || die "losetup"
on_exit losetup -d "$loop"
cat >/etc/enbd.conf <<EOT
module keepalive=7
server files -p ${ports[1]} -a 127.0.0.1 -n disk $ENBD_TEST_TMP/disk.img
client 0 /dev/nd0 127.0.0.1 ${ports[1]} -n 2 -e disk -b lo
client 1 /dev/nd1 127.0.0.1 ${ports[0]} -e blk
EOT

install_enbd_module
on_exit unload_enbd
log "running enbd-module.service's command lines"
while read -r line; do
	run_exec_line enbd-module.service - "$line" ||
		[ "${line:0:1}" = - ] || die "enbd-module.service: $line failed"
done < <(unit_key enbd-module.service ExecStart)
[ "$(cat /sys/module/enbd/parameters/keepalive 2>/dev/null)" = 7 ] ||
	die "enbd-module.service did not load enbd with keepalive=7: $(cat /run/modprobe.d/enbd.conf)"
log "enbd-module.service: $(cat /run/modprobe.d/enbd.conf), module loaded"

mkdir -p /etc/enbd
echo "ENBD_SERVER_ARGS=\"-p ${ports[0]} -a 127.0.0.1 -e blk=$loop\"" >/etc/enbd/server-blk.conf
line=$(unit_key enbd-server@.service ExecStart)
[ "$line" = "$ENBD_ROOT/$ENBD_BUILD/enbd-server \$ENBD_SERVER_ARGS" ] || die "enbd-server@ runs: $line"
# shellcheck disable=SC1091 # written above
. /etc/enbd/server-blk.conf
# shellcheck disable=SC2086 # split as systemd splits $ENBD_SERVER_ARGS
in_sandbox enbd-server@.service "$ENBD_TEST_TMP/server.strace" "${line%% *}" $ENBD_SERVER_ARGS \
	</dev/null >"$ENBD_TEST_TMP/server.log" 2>&1 &
server_tracer=$!
on_exit end_traced "$server_tracer" TERM
on_exit cat "$ENBD_TEST_TMP/server.log"

log "enbd-server@blk started; starting the guardian"
install -d -m 0700 /run/enbd
line=$(unit_key enbd-guardian.service ExecStart)
# shellcheck disable=SC2086 # the unit's words
in_sandbox enbd-guardian.service "$ENBD_TEST_TMP/guardian.strace" $line \
	</dev/null >"$ENBD_TEST_TMP/guardian.log" 2>&1 &
tracer=$!
on_exit end_traced "$tracer" USR2
on_exit cat "$ENBD_TEST_TMP/guardian.log"
wait_for_disk /dev/nd0
wait_for_disk /dev/nd1
wait_for -t 30 slots_attached 0 2 || die "nd0 has not two channels: $(cat /proc/nbdinfo)"
wait_for -t 30 slots_attached 1 1 || die "nd1 has no channel: $(cat /proc/nbdinfo)"
for dev in nd0 nd1; do
	head -c 1M /dev/urandom >"$ENBD_TEST_TMP/$dev.data"
	dd if="$ENBD_TEST_TMP/$dev.data" of="/dev/$dev" bs=64k oflag=direct status=none || die "write to $dev"
	cmp -n 1048576 "$ENBD_TEST_TMP/$dev.data" "/dev/$dev" || die "$dev does not read back what was written"
done
cmp -n 1048576 "$ENBD_TEST_TMP/nd1.data" "$loop" || die "the loop device does not hold nd1's data"
log "nd0 (server line, two channels -b lo) and nd1 (enbd-server@ on $loop) served from the sandboxes"

log "SIGUSR2 to the guardian, SIGTERM to enbd-server@blk"
stop_traced "$tracer" USR2 || die "the guardian exited with status $? on SIGUSR2"
stop_traced "$server_tracer" TERM || die "enbd-server@ exited with status $? on SIGTERM"

grep -q '"/dev/enbd-control"' "$ENBD_TEST_TMP/guardian.strace" || die "strace saw no open of /dev/enbd-control"
allowed=" $PSEUDO $(unit_key enbd-guardian.service DeviceAllow | sed 's/ rw$//' | tr '\n' ' ') "
for node in $(devices_opened "$ENBD_TEST_TMP/guardian.strace"); do
	[[ $allowed == *" $node "* ]] || die "the guardian's sandbox would refuse $node (allowed: $allowed)"
done
log "the guardian and its daemons opened: $(devices_opened "$ENBD_TEST_TMP/guardian.strace" | paste -sd' ')"
[ "$(unit_key enbd-server@.service DeviceAllow)" = "block-* rw" ] || die "enbd-server@ allows: $(unit_key enbd-server@.service DeviceAllow)"
for node in $(devices_opened "$ENBD_TEST_TMP/server.strace"); do
	[[ " $PSEUDO " == *" $node "* ]] || [ -b "$node" ] || die "enbd-server@'s sandbox would refuse $node"
done
devices_opened "$ENBD_TEST_TMP/server.strace" | grep -qx "$loop" || die "strace saw no open of $loop"
log "enbd-server@ opened: $(devices_opened "$ENBD_TEST_TMP/server.strace" | paste -sd' ')"
