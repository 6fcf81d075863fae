#!/bin/bash
# expect: FAIL
# timeout: 3
# Killed by the per-test timeout; its on_exit cleanup must still run
# (08-timeout-cleaned-up checks that).
. "$ENBD_ROOT/tests/vm/lib.sh"
mkdir -p "$ENBD_TEST_OUT"
on_exit touch "$ENBD_TEST_OUT/cleaned-up"
touch "$ENBD_TEST_OUT/registered"
sleep 60
