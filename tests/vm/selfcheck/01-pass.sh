#!/bin/bash
# expect: PASS
. "$ENBD_ROOT/tests/vm/lib.sh"
log "a passing test"
