#!/bin/bash
# expect: FAIL
# A test that exits 0 but leaves a WARNING in the kernel log must fail.
echo "WARNING: fake warning from the harness self-check" >/dev/kmsg
