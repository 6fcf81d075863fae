#!/bin/bash
# Random calls of every ENBD ioctl (bad sizes, flags, tags, sequence numbers,
# tokens, indexes, pointers) from root and from nobody, amid legitimate
# sessions and I/O: every errno is a documented one, nobody gets past EPERM,
# the device still serves afterwards, the kernel log stays clean (the
# harness checks it) and the module unloads.  ENBD_IOCTL_RANDOM_CALLS
# (100000) scales the run, ENBD_IOCTL_RANDOM_SEED repeats one (the seed is
# printed).
# timeout: 180
. "$ENBD_ROOT/tests/vm/lib.sh"

load_enbd partscan=0 aging=1
args=(-n "${ENBD_IOCTL_RANDOM_CALLS:-100000}")
[ -z "${ENBD_IOCTL_RANDOM_SEED:-}" ] || args+=(-s "$ENBD_IOCTL_RANDOM_SEED")
"$ENBD_ROOT/$ENBD_BUILD/ioctl-random" "${args[@]}" 2 || die "ioctl-random reported failures"
unload_enbd
