#!/bin/bash
# expect: PASS
. "$ENBD_ROOT/tests/vm/lib.sh"
[ -e "${ENBD_TEST_OUT%/*}/07-timeout.d/cleaned-up" ] || die "07-timeout's on_exit did not run"
