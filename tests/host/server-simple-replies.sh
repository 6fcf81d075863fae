#!/bin/sh
# timeout: 60
# A client that does not negotiate structured replies gets simple replies:
# reads, writes and errors still work, and DF / block status are not offered.
. "$(dirname "$0")/server-lib.sh"
start_server --memory 4M
py "$URI" <<'PY' || fail "simple replies"
import nbd, sys
h = nbd.NBD()
h.set_request_structured_replies(False)
h.connect_uri(sys.argv[1])
assert not h.get_structured_replies_negotiated()
assert not h.can_df()
h.pwrite(b"abc" * 1000, 5)
assert h.pread(3000, 5) == b"abc" * 1000
h.set_strict_mode(0)
try:
    h.pread(10, h.get_size() - 5)
    raise SystemExit("read past the end succeeded")
except nbd.Error as e:
    assert e.errnum == 22, e
assert h.pread(4, 5) == b"abca"      # still in step after the error
PY
stop_server
