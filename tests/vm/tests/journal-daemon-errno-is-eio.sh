#!/bin/bash
# A daemon's errno reaches the reader only if it is a plain failure the block
# layer knows (EIO, ENOSPC, EOPNOTSUPP, ENODATA, ETIMEDOUT); any other one
# (EAGAIN, ENOMEM, EREMCHG, ... which the block layer would take for a
# retry, a resource shortage or a zone limit) is EIO, and the kernel log
# names no such status (journal-edges errno-map).
# timeout: 90
. "$ENBD_ROOT/tests/vm/lib.sh"

prog=$ENBD_ROOT/$ENBD_BUILD/journal-edges
load_enbd partscan=0	# the program is the daemon: no partition-table reads for it
on_exit "$prog" --shutdown 2
kmsg_mark
"$prog" errno-map 2 || die "journal-edges errno-map reported failures"
bad=$(kernel_log_since_mark | grep -E 'retry|resource|zones|target|nexus|protection|offline') &&
	die "the kernel log names a status the daemon did not mean: $bad"
log "odd errnos reach the reader as EIO; the kernel log is clean"
