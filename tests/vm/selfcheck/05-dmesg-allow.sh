#!/bin/bash
# expect: PASS
# dmesg-allow: WARNING: expected by the harness self-check
echo "WARNING: expected by the harness self-check" >/dev/kmsg
