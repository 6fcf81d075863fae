#!/bin/sh
# timeout: 60
# Large reads from a file export return exactly the file's bytes at odd
# offsets and lengths, up to the 32 MiB maximum, with structured and with
# simple replies, copied and spliced (--splice: file -> pipe -> socket).
. "$(dirname "$0")/server-lib.sh"
need_python_nbd
head -c 40M /dev/urandom >"$T/disk.img"
for opt in "" --splice; do
	start_server $opt "$T/disk.img"
	py "$URI" "$T/disk.img" <<'PY' || fail "large reads differ ($opt)"
import nbd, sys
uri, path = sys.argv[1:]
want = open(path, "rb").read()
for structured in (True, False):
    h = nbd.NBD()
    h.set_request_structured_replies(structured)
    h.connect_uri(uri)
    for off, n in ((12345, 65536), (1, (1 << 20) + 1), (4095, 3 * (1 << 20) + 5),
                   (7, 32 << 20), (len(want) - 100000, 100000)):
        got = h.pread(n, off)
        assert got == want[off:off + n], (structured, off, n)
    h.shutdown()
PY
	stop_server
done
