#!/bin/bash
# Fault f: both links lose 2 % of their packets and delay them by 20-40 ms,
# in both directions (tc netem at both ends), for 10 s under fio
# --verify=crc32c on ext4 on an md RAID1 of nd0 and nd1
# (tests/vm/fault-lib.sh).  TCP retransmits what is lost; should a request
# wait longer than the aging time (3 s) its channel reconnects.  fio sees no
# error and every block verifies, md stays [UU] and its check finds no
# mismatch, no request fails; netem really dropped packets on both links.
# Logs the longest I/O stall and the counters.
# timeout: 200
. "$ENBD_ROOT/tests/vm/fault-lib.sh"
require_cmd tc

fault_setup
netem() { # add|del: at both ends of both links
	local i ns
	for i in 1 2; do
		for ns in "" "$FAULT_NS"; do
			if [ "$1" = add ]; then
				tc ${ns:+-n "$ns"} qdisc add dev "nic$i" root netem delay 30ms 10ms loss 2%
			else
				tc ${ns:+-n "$ns"} qdisc del dev "nic$i" root
			fi || die "tc qdisc $1 netem on nic$i ${ns:+in $ns}"
		done
	done
}
netem_off() { # on exit, whatever is left
	local i
	for i in 1 2; do
		tc qdisc del dev "nic$i" root 2>/dev/null
		tc -n "$FAULT_NS" qdisc del dev "nic$i" root 2>/dev/null
	done
	return 0
}
on_exit netem_off
netem add
log "netem on both links: delay 30 ms +- 10 ms, loss 2 %"
nap 10
drops() { # N: packets netem dropped at both ends of link N
	{
		tc -s qdisc show dev "nic$1"
		tc -n "$FAULT_NS" -s qdisc show dev "nic$1"
	} | sed -n 's/.*dropped \([0-9]*\).*/\1/p' | awk '{ n += $1 } END { print n + 0 }'
}
d1=$(drops 1)
d2=$(drops 2)
netem del
log "netem off; it dropped $d1 packets on link 1, $d2 on link 2"
[ "$d1" -gt 0 ] && [ "$d2" -gt 0 ] || die "netem dropped nothing on a link"
wait_for -t 30 _fault_attached || die "not both channels of each device attached"
fault_io_flows

fault_check
nbd_read
log "figure: $ENBD_TEST_NAME: resubmitted nd0 $(since 0 Resubmitted), nd1 $(since 1 Resubmitted); reconnects nd0 $(since 0 Reconnects), nd1 $(since 1 Reconnects)"
