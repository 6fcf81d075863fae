#!/bin/bash
# `make demo` works: the whole story of tests/vm/demo.sh (modprobe from the
# installed tree, two links, a guardian, md RAID1, a link cut, a daemon
# killed, a server restarted under fio, data verified, SIGUSR2, rmmod).
# timeout: 240
# modprobe: enbd
exec "$ENBD_ROOT/tests/vm/demo.sh"
