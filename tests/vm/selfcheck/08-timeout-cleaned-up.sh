#!/bin/bash
# expect: PASS
. "$ENBD_ROOT/tests/vm/lib.sh"
d=${ENBD_TEST_OUT%/*}/07-timeout.d
[ -e "$d/registered" ] || die "07-timeout did not get to register its cleanup in 3 s (machine too slow?)"
[ -e "$d/cleaned-up" ] || die "07-timeout's on_exit did not run"
