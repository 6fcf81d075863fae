# shellcheck shell=bash disable=SC2034 # globals set here are for the tests
# Helpers for VM tests (bash).  A test starts with
#
#   #!/bin/bash
#   # timeout: 120            (optional; default 300 s)
#   . "$ENBD_ROOT/tests/vm/lib.sh"
#
# and then uses die/log/skip, wait_for, on_exit, load_enbd, start_nbdkit,
# install_enbd_module, start_enbd_server, start_enbd_client, wait_for_disk,
# kill_and_wait, nap,
# ext4_round_trip, and for fault tests netns_two_links, link_down/link_up,
# md_mirror_create/md_check_clean/md_stop, fio_verify_start/stop/wait,
# kmsg_mark/kernel_log_since_mark, syscalls_count_start/stop.  Do not `trap ... EXIT`
# yourself: register cleanups with on_exit (they run in reverse order on exit,
# on die and when the harness's timeout sends SIGTERM).
#
# The harness sets: ENBD_ROOT (the checkout; cwd), ENBD_BUILD (userspace build
# dir, "build"), ENBD_KVER, ENBD_TEST_NAME, ENBD_TEST_TIMEOUT, ENBD_TEST_TMP
# (= TMPDIR, fresh tmpfs dir removed afterwards), ENBD_TEST_OUT (a directory on
# the host for extra artifacts: build/vm-logs/NAME.d; create it if you use it),
# ENBD_VM=1.
set -eu

if [ -z "${ENBD_ROOT:-}" ]; then
	ENBD_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
fi
: "${ENBD_BUILD:=build}"
if [ -z "${ENBD_TEST_NAME:-}" ]; then
	ENBD_TEST_NAME=${0##*/}
	ENBD_TEST_NAME=${ENBD_TEST_NAME%.sh}
fi
if [ -z "${ENBD_TEST_TMP:-}" ]; then
	ENBD_TEST_TMP=$(mktemp -d)
	_enbd_own_tmp=$ENBD_TEST_TMP
fi
export ENBD_ROOT ENBD_BUILD ENBD_TEST_NAME ENBD_TEST_TMP

# Set by start_nbdkit*, start_qemu_nbd, start_enbd_client for the test to use.
NBDKIT_PORT="" NBDKIT_PID="" NBDKIT_LOG="" NBDKIT_SOCKET="" ENBD_CLIENT_PID=""
QEMU_NBD_PORT="" QEMU_NBD_PID=""
# Set by start_enbd_server, fio_verify_start and fio_verify_wait.
SERVER_PORT="" SERVER_PID="" SERVER_LOG="" FIO_PID="" FIO_OUT="" FIO_STOP=""
FIO_ERRORS="" FIO_WRITES="" FIO_READS="" FIO_MAX_MS=""

# The client daemon: enbd-client [-e EXPORT] [-p PORT] HOST /dev/ndN
ENBD_CLIENT=$ENBD_ROOT/$ENBD_BUILD/enbd-client
ENBD_SERVER=$ENBD_ROOT/$ENBD_BUILD/enbd-server
ENBD_MODULE=$ENBD_ROOT/enbd.ko

_enbd_t0=${EPOCHREALTIME/[.,]/}

# log MSG...: "[  12.34] MSG" on stderr (seconds since the test started)
log() {
	local t=$((${EPOCHREALTIME/[.,]/} - _enbd_t0))
	printf '[%4d.%02d] %s\n' $((t / 1000000)) $((t / 10000 % 100)) "$*" >&2
}

# die MSG...: fail the test
die() {
	log "FAIL: $*"
	exit 1
}

# skip MSG...: the test cannot run here (exit 77)
skip() {
	log "SKIP: $*"
	exit 77
}

# require_cmd CMD...: skip unless every command exists
require_cmd() {
	local c
	for c; do
		command -v "$c" >/dev/null 2>&1 || skip "missing command: $c"
	done
}

# must_fail CMD...: fail the test if CMD succeeds
must_fail() {
	if "$@"; then
		die "expected to fail: $*"
	fi
	return 0
}

# --- cleanup ---------------------------------------------------------------
# Registered commands live in a file so that on_exit also works from a
# subshell, e.g. port=$(start_nbdkit memory 1G).
_ENBD_SHELL=$BASHPID
_ENBD_CLEANUP=$ENBD_TEST_TMP/.cleanup.$_ENBD_SHELL
: >"$_ENBD_CLEANUP"

# on_exit CMD [ARGS...]: run CMD when the test exits (last registered first)
on_exit() {
	printf '%q ' "$@" >>"$_ENBD_CLEANUP"
	echo >>"$_ENBD_CLEANUP"
}

_enbd_exit() {
	local rc=$? i cmds=()
	# bash may run this trap when a subshell exits: only the shell that
	# sourced lib.sh cleans up.
	[ "$BASHPID" = "$_ENBD_SHELL" ] || exit "$rc"
	trap - EXIT
	set +e
	[ -f "$_ENBD_CLEANUP" ] && mapfile -t cmds <"$_ENBD_CLEANUP"
	: >"$_ENBD_CLEANUP"
	for ((i = ${#cmds[@]} - 1; i >= 0; i--)); do
		eval "${cmds[i]}" || log "cleanup failed: ${cmds[i]}"
	done
	[ -n "${_enbd_own_tmp:-}" ] && rm -rf "$_enbd_own_tmp"
	exit "$rc"
}
trap _enbd_exit EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# --- waiting -----------------------------------------------------------------
# _enbd_us SECONDS -> $_ENBD_US (microseconds; SECONDS may have a fraction)
_enbd_us() {
	local int=${1%%.*} frac=000000
	case $1 in *.*) frac=${1#*.}000000 ;; esac
	_ENBD_US=$((10#${int:-0} * 1000000 + 10#${frac:0:6}))
}

# nap SECONDS: sleep without starting a program (under TCG every program
# started costs tens of milliseconds): a read with a timeout from a pipe
# nobody writes to.
nap() {
	if [ -z "${_ENBD_NAP_FD:-}" ]; then
		# The group, not exec, takes 2>/dev/null: on exec it would stay,
		# and everything the test logs after its first nap would be lost.
		{ exec {_ENBD_NAP_FD}<> <(:); } 2>/dev/null || _ENBD_NAP_FD=none
	fi
	if [ "$_ENBD_NAP_FD" = none ]; then
		sleep "$1"
	else
		read -r -t "$1" -u "$_ENBD_NAP_FD" _ || true
	fi
}

# wait_for [-t SECONDS] [-q] CMD [ARGS...]: poll CMD (backing off from 10 ms
# to 0.5 s) until it succeeds; on timeout (default 30 s; fractions allowed,
# multiplied by ENBD_WAIT_SCALE: a debug kernel is several times slower)
# log it (unless -q) and return 1.  CMD may be a shell function.
wait_for() {
	local timeout=30 quiet="" delay=10 deadline now
	while [ $# -gt 0 ]; do
		case $1 in
		-t) timeout=$2; shift 2 ;;
		-q) quiet=1; shift ;;
		*) break ;;
		esac
	done
	_enbd_us "$timeout"
	deadline=$((${EPOCHREALTIME/[.,]/} + _ENBD_US * ${ENBD_WAIT_SCALE:-1}))
	while :; do
		if "$@"; then
			return 0
		fi
		now=${EPOCHREALTIME/[.,]/}
		if [ "$now" -ge "$deadline" ]; then
			[ -n "$quiet" ] || log "wait_for: timed out after $timeout s: $*"
			return 1
		fi
		printf -v now '%d.%03d' $((delay / 1000)) $((delay % 1000))
		nap "$now"
		delay=$((delay * 2 > 500 ? 500 : delay * 2))
	done
}

# proc_gone PID: the process does not exist any more (or is a zombie)
proc_gone() {
	local stat
	read -r stat 2>/dev/null <"/proc/$1/stat" || return 0
	stat=${stat##*) }
	[ "${stat%% *}" = Z ]
}

# kill_and_wait PID [SIGNAL [SECONDS]]: send SIGNAL (TERM) and wait until the
# process is gone; after SECONDS (30) it is sent SIGKILL.  Returns its exit
# status when it is a child of this shell (so `kill_and_wait $pid` checks a
# clean exit on SIGTERM), otherwise 0.
kill_and_wait() {
	local pid=$1 sig=${2:-TERM} secs=${3:-30} stat child="" rc=0
	if read -r stat 2>/dev/null <"/proc/$pid/stat"; then
		stat=${stat##*) }
		stat=${stat#* }
		[ "${stat%% *}" = "$BASHPID" ] && child=1
	fi
	kill -"$sig" "$pid" 2>/dev/null || true
	if ! wait_for -q -t "$secs" proc_gone "$pid"; then
		log "kill_and_wait: $pid still there $secs s after SIG$sig; sending SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
		wait_for -t 10 proc_gone "$pid" || true
	fi
	if [ -n "$child" ]; then
		wait "$pid" 2>/dev/null || rc=$?
	fi
	return "$rc"
}

# where_waits PID...: to stderr, for a test or benchmark that finds something
# stuck: where these processes' threads sleep (wchan, kernel stacks), the
# threads of the daemons, nbd's workers, fio and mkfs, the block devices'
# requests in flight and the TCP sockets' queues
where_waits() {
	(
		set +e	# a glob that matches no device, a thread gone: show the rest
		for pid; do
			echo "== $pid $(cat "/proc/$pid/comm")"
			grep -H . /proc/"$pid"/task/*/wchan
			cat /proc/"$pid"/task/*/stack
		done
		ps -eLo pid,tid,stat,wchan:32,comm | grep -E 'enbd|nbd|fio|mkfs|perf'
		grep -H . /sys/block/nd*/inflight /sys/block/nbd*/inflight
		ss -Htnie
	) >&2 2>/dev/null
}

# --- the module ----------------------------------------------------------------
# load_enbd [PARAM=VALUE...]: insmod ./enbd.ko; unloaded again on exit
load_enbd() {
	[ -f "$ENBD_MODULE" ] || die "$ENBD_MODULE not built (make module)"
	if grep -q '^enbd ' /proc/modules; then
		die "enbd is already loaded"
	fi
	insmod "$ENBD_MODULE" "$@" || die "insmod enbd.ko $* failed"
	on_exit unload_enbd
	wait_for -t 10 test -c /dev/enbd-control || die "no /dev/enbd-control after insmod"
}

# install_enbd_module: install enbd.ko as a packaged module would be, in
# /lib/modules/KVER/extra of the guest (its overlay: nothing reaches the
# host), with depmod's index of that tree, so that `modprobe enbd` finds it.
# The index comes from tests/vm/run (build/vm/depmod-KVER), which computes it
# for a test with a "# modprobe: enbd" line: depmod -a here would take
# minutes.  Both are undone on exit.
install_enbd_module() {
	local mods=/lib/modules/$ENBD_KVER index=$ENBD_ROOT/build/vm/depmod-$ENBD_KVER
	[ -f "$index/modules.dep.bin" ] || die "no $index: the test needs a '# modprobe: enbd' line"
	mkdir -p "$ENBD_TEST_TMP/depmod-saved"
	cp "$mods"/modules.* "$ENBD_TEST_TMP/depmod-saved/"
	on_exit _enbd_uninstall_module
	install -D -m 0644 "$ENBD_MODULE" "$mods/extra/enbd.ko" || die "install enbd.ko"
	cp "$index"/modules.* "$mods/" || die "install depmod's index"
}

_enbd_uninstall_module() {
	local mods=/lib/modules/$ENBD_KVER
	rm -f "$mods/extra/enbd.ko"
	cp "$ENBD_TEST_TMP/depmod-saved"/modules.* "$mods/"
}

_enbd_try_rmmod() {
	! grep -q '^enbd ' /proc/modules || rmmod enbd 2>/dev/null
}

# unload_enbd: rmmod enbd (retrying for up to 30 s while daemons exit)
unload_enbd() {
	grep -q '^enbd ' /proc/modules || return 0
	wait_for -q -t 30 _enbd_try_rmmod && return 0
	rmmod enbd
}

# --- servers and daemons ------------------------------------------------------------
_enbd_port_free() { # PORT [NETNS]
	local out
	if [ -n "${2:-}" ]; then
		out=$(ip netns exec "$2" ss -Htan "sport = :$1")
	else
		out=$(ss -Htan "sport = :$1")
	fi
	[ -z "$out" ]
}

# _enbd_nbdkit PIDFILE LOG [PREFIX...] -- NBDKIT ARGS...: start nbdkit -f and
# wait until it listens (it writes PIDFILE then).  nbdkit -f kills itself
# when its parent exits (PR_SET_PDEATHSIG), so a small shell stays its parent:
# that keeps it alive when started from $(...).  Returns 1 if it exited.
_enbd_nbdkit() {
	local pidfile=$1 logf=$2 wrapper
	local -a pre=()
	shift 2
	while [ "$1" != -- ]; do
		pre+=("$1")
		shift
	done
	shift
	rm -f "$pidfile"
	# shellcheck disable=SC2016 # expanded by the inner shell
	"${pre[@]}" /bin/busybox sh -c 'nbdkit -f -P "$0" "$@"; exit $?' "$pidfile" "$@" \
		</dev/null >"$logf" 2>&1 &
	wrapper=$!
	wait_for -t 30 _enbd_nbdkit_up "$pidfile" "$wrapper" || die "nbdkit $* did not start"
	if proc_gone "$wrapper"; then
		return 1
	fi
	read -r NBDKIT_PID <"$pidfile"
	on_exit kill_and_wait "$NBDKIT_PID"
}

_enbd_nbdkit_up() { # PIDFILE PID
	[ -s "$1" ] || proc_gone "$2"
}

# start_nbdkit [--netns NS] [NBDKIT ARGS...]: start `nbdkit -f ARGS` on a free
# TCP port (in network namespace NS if given), wait until it accepts
# connections, register its kill with on_exit and print the port.  Also sets
# NBDKIT_PORT, NBDKIT_PID and NBDKIT_LOG (when not called in a subshell).
# Example: port=$(start_nbdkit memory 1G)
start_nbdkit() {
	local netns="" port
	local -a pre=()
	if [ "${1:-}" = --netns ]; then
		netns=$2
		pre=(ip netns exec "$netns")
		shift 2
	fi
	command -v nbdkit >/dev/null || die "nbdkit is not installed"
	for _ in 1 2 3 4 5 6 7 8 9 10; do
		port=$((20000 + (RANDOM % 20000)))
		_enbd_port_free "$port" "$netns" || continue
		NBDKIT_LOG=$ENBD_TEST_TMP/nbdkit-$port.log
		if _enbd_nbdkit "$ENBD_TEST_TMP/nbdkit-$port.pid" "$NBDKIT_LOG" "${pre[@]}" \
			-- -p "$port" "$@"; then
			NBDKIT_PORT=$port
			log "nbdkit $* listening on port $port (pid $NBDKIT_PID)"
			echo "$port"
			return 0
		fi
		grep -q 'in use' "$NBDKIT_LOG" && continue
		cat "$NBDKIT_LOG" >&2
		die "nbdkit $* failed"
	done
	die "start_nbdkit: no free port found"
}

# start_nbdkit_unix [NBDKIT ARGS...]: like start_nbdkit on a Unix socket;
# prints the socket path (also NBDKIT_SOCKET).
start_nbdkit_unix() {
	local sock
	command -v nbdkit >/dev/null || die "nbdkit is not installed"
	sock=$(mktemp -u "$ENBD_TEST_TMP/nbdkit-XXXXXX.sock")
	NBDKIT_LOG=$sock.log
	if ! _enbd_nbdkit "$sock.pid" "$NBDKIT_LOG" -- -U "$sock" "$@"; then
		cat "$NBDKIT_LOG" >&2
		die "nbdkit $* failed"
	fi
	NBDKIT_SOCKET=$sock
	log "nbdkit $* listening on $sock (pid $NBDKIT_PID)"
	echo "$sock"
}

# start_enbd_client [--log FILE] ARGS...: run `$ENBD_CLIENT ARGS` in the
# background (its output goes to the test's log, or to FILE for the test to
# grep, shown in the test's log on exit), stop it with SIGTERM on exit; sets
# ENBD_CLIENT_PID.  Call it directly (not in $(...)) so that
# `kill_and_wait "$ENBD_CLIENT_PID"` can check its exit status.
start_enbd_client() {
	local logf=""
	if [ "${1:-}" = --log ]; then
		logf=$2
		shift 2
	fi
	[ -x "$ENBD_CLIENT" ] || die "$ENBD_CLIENT not built (make userspace)"
	if [ -n "$logf" ]; then
		on_exit cat "$logf"	# after the client has stopped
		"$ENBD_CLIENT" "$@" </dev/null >"$logf" 2>&1 &
	else
		"$ENBD_CLIENT" "$@" </dev/null >&2 &
	fi
	ENBD_CLIENT_PID=$!
	on_exit kill_and_wait "$ENBD_CLIENT_PID"
	log "started enbd-client $* (pid $ENBD_CLIENT_PID)"
}

# start_qemu_nbd IMAGE: serve the raw file IMAGE with qemu-nbd on 127.0.0.1
# (persistent, 4 connections) on a free port, wait until it answers, kill it
# on exit; sets QEMU_NBD_PORT and QEMU_NBD_PID.  Call it directly.  (qemu-nbd
# survives a client that drops a connection with requests in flight, which
# nbdkit 1.32 may not.)
start_qemu_nbd() {
	require_cmd qemu-nbd
	QEMU_NBD_PORT=$((20000 + RANDOM % 20000))
	qemu-nbd -f raw -t -e 4 -b 127.0.0.1 -p "$QEMU_NBD_PORT" "$1" </dev/null >&2 &
	QEMU_NBD_PID=$!
	on_exit kill_and_wait "$QEMU_NBD_PID"
	wait_for -t 30 "$ENBD_CLIENT" --probe -q -p "$QEMU_NBD_PORT" 127.0.0.1 >/dev/null 2>&1 ||
		die "qemu-nbd did not come up"
}

_enbd_disk_ready() { # NAME
	local size
	read -r size 2>/dev/null <"/sys/class/block/$1/size" || return 1
	[ "$size" -gt 0 ] && [ -b "/dev/$1" ]
}

# wait_for_disk /dev/ndN [SECONDS]: wait until the disk has a non-zero size
wait_for_disk() {
	local name=${1#/dev/}
	wait_for -t "${2:-30}" _enbd_disk_ready "$name" || die "$1 did not get a size"
}

# --- enbd-server ---------------------------------------------------------------------
_enbd_server_up() { # PORT-FILE PID
	[ -s "$1" ] || proc_gone "$2"
}

# _enbd_kill9 PID: SIGKILL and reap, whatever its status (a cleanup)
_enbd_kill9() {
	kill_and_wait "$1" KILL 10 || true
}

_enbd_servers=0
# start_enbd_server [--netns NS] [PORT [ARGS...]]: enbd-server ARGS (default
# --memory 256M) on PORT (0 or none: a free one), in network namespace NS if
# given; returns once it listens.  Sets SERVER_PORT, SERVER_PID and
# SERVER_LOG (its output; a new file per server); SIGKILL on exit.  Call it
# directly, not in $(...), so that `kill_and_wait "$SERVER_PID"` returns the
# server's exit status.
start_enbd_server() {
	local port pf
	local -a pre=()
	if [ "${1:-}" = --netns ]; then
		# nsenter, not `ip netns exec`: that also gives the server a
		# private copy of the mounts, which would keep a filesystem
		# mounted later on busy (its superblock alive) after umount.
		pre=(nsenter "--net=/run/netns/$2")
		shift 2
	fi
	port=${1:-0}
	shift || true
	[ $# -gt 0 ] || set -- --memory 256M
	[ -x "$ENBD_SERVER" ] || die "$ENBD_SERVER not built (make userspace)"
	_enbd_servers=$((_enbd_servers + 1))
	SERVER_LOG=$ENBD_TEST_TMP/server.$_enbd_servers.log
	pf=$ENBD_TEST_TMP/server.$_enbd_servers.port
	# nsenter execs the command: $! is the server itself.
	"${pre[@]}" "$ENBD_SERVER" -p "$port" --port-file "$pf" "$@" </dev/null >"$SERVER_LOG" 2>&1 &
	SERVER_PID=$!
	on_exit _enbd_kill9 "$SERVER_PID"
	wait_for -t 20 _enbd_server_up "$pf" "$SERVER_PID" || die "enbd-server $* did not start"
	proc_gone "$SERVER_PID" && die "enbd-server $* exited: $(cat "$SERVER_LOG")"
	read -r SERVER_PORT <"$pf"
	log "enbd-server $* on port $SERVER_PORT${pre[*]:+ in ${pre[1]#--net=/run/netns/}} (pid $SERVER_PID)"
}

# --- ext4 --------------------------------------------------------------------------
# umount_if_mounted DIR: lazily unmount DIR if something is mounted there
umount_if_mounted() {
	! mountpoint -q "$1" || umount -l "$1"
}

# ext4_round_trip DEV MNT [BIG_MIB]: mkfs.ext4 on DEV, mount it on MNT
# (unmounted on exit), write 16 files of assorted sizes into MNT/dir/sub and
# BIG_MIB (48) MiB of random data into MNT/big, note their SHA-256 sums in
# $EXT4_SUMS, unmount, drop the caches, e2fsck -fn, mount again and check
# every sum.  Dies on any failure; leaves MNT mounted.
EXT4_SUMS=$ENBD_TEST_TMP/ext4.sums
ext4_round_trip() {
	local dev=$1 mnt=$2 big=${3:-48} i src=$ENBD_TEST_TMP/ext4-src
	mkfs.ext4 -q -F "$dev" || die "mkfs.ext4 $dev"
	mkdir -p "$mnt" "$src"
	mount "$dev" "$mnt" || die "mount $dev"
	on_exit umount_if_mounted "$mnt"
	mkdir -p "$mnt/dir/sub"
	for i in $(seq 1 16); do
		head -c $((i * 197 * 1024 + i)) /dev/urandom >"$src/f$i"
	done
	cp "$src"/f* "$mnt/dir/sub/" || die "cp into ext4"
	dd if=/dev/urandom of="$mnt/big" bs=1M count="$big" status=none || die "dd into ext4"
	(cd "$mnt" && sha256sum big dir/sub/*) >"$EXT4_SUMS"
	sync
	umount "$mnt" || die "umount $mnt"
	echo 3 >/proc/sys/vm/drop_caches
	blockdev --flushbufs "$dev"
	e2fsck -fn "$dev" >&2 || die "e2fsck found problems on $dev"
	mount "$dev" "$mnt" || die "remount $dev"
	(cd "$mnt" && sha256sum -c --quiet "$EXT4_SUMS") || die "checksums differ after remount"
	log "ext4 round trip on $dev: 17 files written, e2fsck clean, checksums match after remount"
}

# --- fault tests: links, md mirror, fio ----------------------------------------------
# netns_two_links NS: network namespace NS, a second host joined to this one
# by two veth links ("NICs"): link 1 is nic1 10.1.0.1/24 here and nic1
# 10.1.0.2/24 in NS, link 2 nic2 10.2.0.1 / 10.2.0.2.  All deleted on exit,
# the links first: deleting one end takes its peer along at once, while a
# deleted namespace lets go of its links only later, asynchronously.
netns_two_links() {
	local ns=$1 i
	ip netns add "$ns" || die "ip netns add $ns"
	on_exit ip netns delete "$ns"
	ip -n "$ns" link set lo up
	for i in 1 2; do
		ip link add "nic$i" type veth peer name "nic$i" netns "$ns" || die "veth nic$i"
		on_exit ip link del "nic$i"
		ip addr add "10.$i.0.1/24" dev "nic$i"
		ip -n "$ns" addr add "10.$i.0.2/24" dev "nic$i"
		ip -n "$ns" link set "nic$i" up
		ip link set "nic$i" up
	done
}

# link_down N / link_up N: link N's end in this namespace goes down / up, as
# when a NIC fails: its routes go with it, so a new connection over it fails
# at once while those established hang; link_up returns once it routes again.
link_down() {
	ip link set "nic$1" down || die "ip link set nic$1 down"
	log "link $1 down"
}

_enbd_link_routes() { # N
	[ -n "$(ip -4 route show dev "nic$1")" ]
}

link_up() {
	ip link set "nic$1" up || die "ip link set nic$1 up"
	wait_for -t 10 _enbd_link_routes "$1" || die "link $1 has no route after going up"
	log "link $1 up"
}

# md_mirror_create MD DEV1 DEV2: an md RAID1 of DEV1 and DEV2 (metadata 1.2,
# --assume-clean: for members that start out equal, e.g. both zeroed);
# stopped on exit.
md_mirror_create() {
	local md=$1
	shift
	mdadm --create "$md" --run --quiet --level=1 --raid-devices=2 --metadata=1.2 \
		--assume-clean "$@" </dev/null >&2 || die "mdadm --create $md $*"
	on_exit md_stop "$md"
	wait_for -t 10 test -b "$md" || die "no $md"
	log "$md: RAID1 of $*"
}

# md_stop MD: stop MD if it exists
md_stop() {
	[ -e "/sys/block/${1#/dev/}/md" ] || return 0
	mdadm --stop "$1" >&2 2>&1
}

_enbd_md_idle() { # SYSFS-MD-DIR
	[ "$(cat "$1/sync_action")" = idle ]
}

# md_check_clean MD: both members in sync ([UU] in /proc/mdstat, none
# faulty, not degraded), then a full `check` of the mirror ends with
# mismatch_cnt 0.  Dies otherwise.
md_check_clean() {
	local md=${1#/dev/} sys state line
	sys=/sys/block/$md/md
	line=$(grep -A1 "^$md :" /proc/mdstat | tail -n 1)
	[[ $line == *"[UU]"* ]] || die "$md is not [UU]: $(cat /proc/mdstat)"
	[ "$(cat "$sys/degraded")" = 0 ] || die "$md is degraded"
	for state in "$sys"/dev-*/state; do
		[[ $(cat "$state") != *faulty* ]] || die "${state%/state}: $(cat "$state")"
	done
	echo check >"$sys/sync_action"
	wait_for -t 120 _enbd_md_idle "$sys" || die "$md: check did not finish"
	[ "$(cat "$sys/last_sync_action")" = check ] || die "$md: no check ran"
	[ "$(cat "$sys/mismatch_cnt")" = 0 ] || die "$md: mismatch_cnt $(cat "$sys/mismatch_cnt")"
	log "$md: [UU], check found mismatch_cnt 0"
}

# syscalls_count_start PID: count the system calls of every thread of PID
# (strace -c) until syscalls_count_stop.  strace, not perf: attaching perf
# to the syscall tracepoints patches kernel code live, and multi-threaded
# TCG has been seen to soft-lock both vCPUs doing that.
syscalls_count_start() {
	local args=() tid
	for tid in /proc/"$1"/task/*; do
		args+=(-p "${tid##*/}")
	done
	strace -c -o "$ENBD_TEST_TMP/syscalls.txt" "${args[@]}" 2>"$ENBD_TEST_TMP/strace.err" &
	_ENBD_STRACE_PID=$!
	wait_for -t 20 grep -qs attached "$ENBD_TEST_TMP/strace.err" ||
		die "strace did not attach: $(cat "$ENBD_TEST_TMP/strace.err")"
}

# syscalls_count_stop NAME: detach and print how many NAME calls were made
# (total: all of them)
syscalls_count_stop() {
	kill -INT "$_ENBD_STRACE_PID"
	wait "$_ENBD_STRACE_PID" || true
	awk -v n="$1" '$NF == n { print $4; found = 1 } END { if (!found) print 0 }' \
		"$ENBD_TEST_TMP/syscalls.txt"
}

# fio_ok OUT: die unless fio's report OUT (normal output) shows no error.
fio_ok() {
	grep -qE 'err= *0' "$1" || die "fio reported errors: $(cat "$1")"
}

# fio_write_verify DEVICE SIZE [FIO OPTIONS...]: random direct writes over
# SIZE of DEVICE (4..512 KiB, libaio, queue depth 32), then every block read
# back and checked (crc32c); dies on any error or mismatch.  Options given
# come last and so override these.
fio_write_verify() {
	local dev=$1 size=$2 out=$ENBD_TEST_TMP/fio-verify.out
	shift 2
	fio --name=verify --filename="$dev" --size="$size" --direct=1 --ioengine=libaio \
		--iodepth=32 --rw=randwrite --bsrange=4k-512k --verify=crc32c --verify_fatal=1 \
		--do_verify=1 --randrepeat=0 "$@" --output="$out" ||
		{ cat "$out" >&2; die "fio reported errors"; }
	fio_ok "$out"
	grep -E 'READ:|WRITE:' "$out" >&2
}

# fio_verify_start FILE SIZE MAX_SECONDS [FIO OPTIONS...]: fio in the
# background until fio_verify_stop (or MAX_SECONDS): random direct writes
# (4..128 KiB, libaio, queue depth 16) over FILE (SIZE), each block read
# back and checked (crc32c) soon after it was written (verify_backlog); I/O
# errors are counted, not fatal.  Sets FIO_PID and FIO_OUT (its JSON
# report); killed on exit.
fio_verify_start() {
	local file=$1 size=$2 secs=$3
	shift 3
	FIO_OUT=$ENBD_TEST_TMP/fio.json
	FIO_STOP=$ENBD_TEST_TMP/fio.stop
	rm -f "$FIO_STOP"
	# In the scratch directory: fio writes a verify state file when stopped.
	# serialize_overlap: when a time-based run wraps its random map, two
	# writes to the same blocks could be in flight at once; the members of
	# an md mirror may apply them in either order, and md's check would
	# rightly count that as a mismatch that no device caused.
	(cd "$ENBD_TEST_TMP" && exec fio --name=verify --filename="$file" --size="$size" \
		--rw=randwrite --bsrange=4k-128k --direct=1 --ioengine=libaio --iodepth=16 \
		--serialize_overlap=1 \
		--verify=crc32c --verify_backlog=64 --verify_fatal=1 --verify_state_save=0 \
		--continue_on_error=io --time_based --runtime="$secs" --trigger-file="$FIO_STOP" \
		--output-format=json --output="$FIO_OUT" "$@" </dev/null >&2) &
	FIO_PID=$!
	on_exit _enbd_kill9 "$FIO_PID"
	log "fio: random writes with crc32c verification, $size of $file (pid $FIO_PID)"
}

# fio_verify_stop: stop fio_verify_start's fio (it finishes what is in
# flight) and fio_verify_wait for it
fio_verify_stop() {
	: >"$FIO_STOP"
	fio_verify_wait
}

# fio_verify_wait: wait for fio_verify_start's fio; sets FIO_ERRORS (I/O and
# verification errors), FIO_WRITES, FIO_READS (I/Os done) and FIO_MAX_MS
# (the longest latency of any single I/O: how long the application was
# stalled at most), and logs them.  Returns 1 if fio failed, saw an error
# or verified nothing.
fio_verify_wait() {
	local rc=0 fields
	wait "$FIO_PID" || rc=$?
	if ! fields=$(jq -r '.jobs[0] | [(.total_err + (if .error != 0 then 1 else 0 end)),
			.write.total_ios, .read.total_ios,
			([.write.lat_ns.max, .read.lat_ns.max] | max / 1000000 | floor)] | @tsv' \
			"$FIO_OUT" 2>/dev/null); then
		log "fio exited with status $rc and no report: $(cat "$FIO_OUT")"
		return 1
	fi
	read -r FIO_ERRORS FIO_WRITES FIO_READS FIO_MAX_MS <<<"$fields"
	log "fio: exit status $rc, $FIO_ERRORS errors, $FIO_WRITES writes, $FIO_READS reads verified, longest I/O $FIO_MAX_MS ms"
	[ "$rc" = 0 ] && [ "$FIO_ERRORS" = 0 ] && [ "$FIO_READS" -gt 0 ]
}

# kmsg_mark: put a mark into the kernel log; kernel_log_since_mark prints
# the kernel log after it (dmesg, not /proc/kmsg: the harness reads that).
kmsg_mark() {
	echo "enbd-test: mark $ENBD_TEST_NAME $$" >/dev/kmsg
}

kernel_log_since_mark() {
	dmesg | sed -n "/enbd-test: mark $ENBD_TEST_NAME $$\$/,\$p" | sed 1d
}
