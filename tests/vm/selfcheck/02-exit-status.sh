#!/bin/bash
# expect: FAIL
echo "exiting with status 3"
exit 3
