#!/bin/bash
# expect: SKIP
. "$ENBD_ROOT/tests/vm/lib.sh"
skip "skipping on purpose"
