#!/bin/sh
# timeout: 240
# The VM harness reports what it should: boots a VM running
# tests/vm/selfcheck/*.sh, whose verdicts are known in advance (a clean
# pass, an exit status, a skip, a fake WARNING in the kernel log, a hung
# task, a timeout whose cleanup still runs, leftovers cleaned up); about
# 25 s.  The slow ones (a test leaving an unkillable process, and the reboot
# that follows) run with `tests/vm/run --selfcheck` alone.
# sanitizers: no (it checks the VM harness, not the daemons)
set -eu
cd "$(dirname "$0")/../.."
ENBD_VM_OUT=$PWD/build/vm-selfcheck exec tests/vm/run --selfcheck --quick
