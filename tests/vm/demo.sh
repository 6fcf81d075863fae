#!/bin/bash
# The guest side of `make demo`: the story enbd exists for, narrated.  The
# module is installed and loaded with modprobe; two enbd-servers in a network
# namespace ("the server host") behind two links; one guardian runs two
# channels per device, one over each link; /dev/nd0 and /dev/nd1 form an md
# RAID1 with ext4 on it.  While fio writes and verifies, a link is cut, a
# channel daemon is killed and a server is restarted; the counters of
# /proc/nbdinfo show what enbd did, and the data is verified (md's check of
# the mirror advancing in enbdctl watch).  Then SIGUSR2 and rmmod.  Also a VM test (tests/vm/tests/demo-story.sh).
# timeout: 240
# modprobe: enbd
. "$ENBD_ROOT/tests/vm/fault-lib.sh"

STEP=0
step() {
	STEP=$((STEP + 1))
	printf '\n=== %d. %s\n' "$STEP" "$*" >&2
}

show() {
	printf '# %s\n' "$*" >&2
	"$@"
}

# The counters that tell the story: each device's total, its growth since
# the faults began (fault_setup), and each channel's value.
COUNTERS="Requested Resubmitted Reconnects Restarts Keepalives Discarded Errored"
counter_table() {
	local dev name
	nbd_read
	printf '%-6s %-12s %10s %10s %10s %10s\n' device counter total "in faults" channel0 channel1 >&2
	for dev in 0 1; do
		for name in $COUNTERS; do
			printf '%-6s %-12s %10s %10s %10s %10s\n' "nd$dev" "$name" "${NBD["$dev $name"]:-0}" \
				"$(since "$dev" "$name")" "${NBD["$dev $name 0"]:-0}" "${NBD["$dev $name 1"]:-0}" >&2
		done
	done
}

# SNAP: the counters when the current fault began.
declare -A SNAP=()
snapshot() {
	local k
	nbd_read
	SNAP=()
	for k in "${!NBD[@]}"; do
		SNAP[$k]=${NBD[$k]}
	done
}

grown_since_snapshot() { # DEV NAME SLOT
	[ "${NBD["$*"]:-0}" -gt "${SNAP["$*"]:-0}" ]
}

# link1_channel_lost: a channel over link 1 stalled and is reconnecting
link1_channel_lost() {
	nbd_read
	! attached 0 || ! attached 1
}

both_attached() {
	nbd_read
	attached 0 && attached 1
}

# replaced DEV SLOT OLD-PID: the guardian started a new daemon in the slot
replaced() {
	nbd_read
	[ "${NBD["$1 Pids $2"]:-0}" != 0 ] && [ "${NBD["$1 Pids $2"]}" != "$3" ] && attached "$1"
}

# nd1_reconnected: both channels of nd1 reconnected to the restarted server
nd1_reconnected() {
	nbd_read
	grown_since_snapshot 1 Reconnects 0 && grown_since_snapshot 1 Reconnects 1 && attached 1
}

kver=$(uname -r)
step "install enbd.ko into /lib/modules/$kver/extra (the guest's own copy) and load it with modprobe"
printf '# install -D -m 0644 %s /lib/modules/%s/extra/enbd.ko\n' "$ENBD_MODULE" "$kver" >&2
printf '# depmod -a   (its index computed by tests/vm/run on the host: here, reading\n' >&2
printf '#             4000 modules through 9p under TCG would take minutes)\n' >&2
install_enbd_module
show modinfo -F filename enbd
show modprobe enbd keepalive=5 readahead=512
on_exit unload_enbd
wait_for -t 10 test -c /dev/enbd-control || die "no /dev/enbd-control after modprobe"
show head -n 1 /proc/nbdinfo

step "two enbd-servers on the server host (namespace srv) behind two links; one guardian,
    two channels per device, channel 0 over link 1 and channel 1 over link 2;
    md RAID1 of /dev/nd0 and /dev/nd1, ext4 on it; fio writes and verifies (crc32c)"
# Backing files of 48 MiB (fault_server's default is 64): md's full check
# at the end reads both halves.
truncate -s 48M "$ENBD_TEST_TMP/a.img" "$ENBD_TEST_TMP/b.img"
# On the console fio would redraw its progress line over the story.
FAULT_FIO_OPTS="--eta=never"
fault_setup
show cat /proc/mdstat
data=$FAULT_MNT/data
mkdir -p "$data"
cp -r "$ENBD_ROOT/include" "$ENBD_ROOT/kernel" "$data/"
head -c 4M /dev/urandom >"$data/random.bin"
(cd "$data" && find . -type f -print0 | sort -z | xargs -0 sha256sum) >"$ENBD_TEST_TMP/data.sums"
log "wrote $(wc -l <"$ENBD_TEST_TMP/data.sums") files into the filesystem and noted their SHA-256 sums"
step "/proc/nbdinfo before the faults (fio running)"
show cat /proc/nbdinfo

step "fault 1: link 1 cut for a while (a channel over it stalls, its requests go to link 2)"
link_down 1
wait_for -t 20 link1_channel_lost || die "no channel over link 1 stalled: $(nbd_line 0 Sockets:) / $(nbd_line 1 Sockets:)"
log "a channel over link 1 stalled: nd0 $(nbd_line 0 Sockets:), nd1 $(nbd_line 1 Sockets:)"
nap 3
link_up 1
wait_for -t 30 both_attached || die "the channels over link 1 did not come back: $(nbd_line 0 Reconnects:) / $(nbd_line 1 Reconnects:)"
log "every channel attached again; reconnects over link 1: nd0 $(since 0 Reconnects 0), nd1 $(since 1 Reconnects 0); resubmitted so far: nd0 $(since 0 Resubmitted), nd1 $(since 1 Resubmitted)"
fault_io_flows

step "fault 2: kill -9 the channel daemon of nd0 channel 1 (the guardian restarts it in its slot)"
nbd_read
old=${NBD[0 Pids 1]}
show kill -KILL "$old"
wait_for -t 15 replaced 0 1 "$old" || die "nd0 channel 1 was not replaced: $(nbd_line 0 Pids:)"
log "nd0 channel 1: new daemon pid ${NBD[0 Pids 1]} (restarts of the slot: ${NBD[0 Restarts 1]})"
fault_io_flows

step "fault 3: server B (behind nd1) killed and started again on the same port"
snapshot
printf '# kill -KILL %s\n' "$SERVER_B_PID" >&2
# Reaped here, so that bash does not report the job as killed.
kill_and_wait "$SERVER_B_PID" KILL 10 || true
fault_server B "$SERVER_B_PORT"
wait_for -t 30 nd1_reconnected || die "nd1 did not reconnect to the restarted server: $(nbd_line 1 Reconnects:)"
log "both channels of nd1 reconnected to the new server B"
fault_io_flows

step "the data: the files read back from the disks, then fio stopped and checked, md checked
    (its progress shown by enbdctl watch), e2fsck"
echo 3 >/proc/sys/vm/drop_caches
(cd "$data" && sha256sum -c --quiet "$ENBD_TEST_TMP/data.sums") || die "the files' checksums differ"
log "all $(wc -l <"$ENBD_TEST_TMP/data.sums") files read back with their SHA-256 sums intact"
# md's check of the whole mirror, a long operation, as enbdctl watch sees it.
"$ENBD_ROOT/$ENBD_BUILD/enbdctl" watch -i 0.2 nd0 >"$ENBD_TEST_TMP/watch.out" 2>&1 &
watch_pid=$!
on_exit kill_and_wait "$watch_pid"
fault_check
log "fio: $FIO_WRITES writes, $FIO_READS verified reads, 0 errors; longest I/O stall $FIO_MAX_MS ms"
kill_and_wait "$watch_pid" || true
printf '# enbdctl watch nd0, its md line while md checked the mirror (every 20 %%):\n' >&2
awk -F', check ' 'BEGIN { last = -1 } /held by md0: raid1, check [0-9]/ {
	band = int($2 / 20); if (band != last) { print; last = band } }' "$ENBD_TEST_TMP/watch.out" >&2
grep -q 'held by md0: raid1, check [0-9.]*%' "$ENBD_TEST_TMP/watch.out" ||
	die "enbdctl watch did not show md's check advancing: $(grep 'held by' "$ENBD_TEST_TMP/watch.out" | sort | uniq -c)"

step "/proc/nbdinfo after the faults, and the counters' story"
show cat /proc/nbdinfo
counter_table
grew 0 Resubmitted || grew 1 Resubmitted || die "nothing was resubmitted"
grew 0 Restarts 1 || die "nd0 channel 1 was not restarted"
log "no request errored; requests of broken channels were resubmitted on the others: nd0 $(since 0 Resubmitted), nd1 $(since 1 Resubmitted)"

step "SIGUSR2 to the guardian: shut both devices down, eject the daemons; then rmmod"
kill_and_wait "$GUARDIAN_PID" USR2 20 || die "enbd-guardian exited with status $? on SIGUSR2"
log "enbd-guardian exited 0"
show rmmod enbd
printf '\ndemo finished: %d s\n' "$SECONDS" >&2
