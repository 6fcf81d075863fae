#!/bin/sh
# timeout: 60
# Malformed handshakes get the spec's option errors (or a hang-up where the
# spec says so) and never disturb the server.
. "$(dirname "$0")/server-lib.sh"
start_server --memory 1M
py "$PORT" <<'PY' || fail "bad handshake handled wrongly"
import struct, sys
from server_raw import *
port = int(sys.argv[1])

def fresh():
    r = Raw(port)
    r.greet()
    return r

def expect(opt, data, want, length=None):
    r = fresh()
    r.opt(opt, data, length)
    got = r.opt_replies()[-1][0]
    assert got == want, "option %d: reply %x, want %x" % (opt, got, want)
    # the session goes on: a good GO still works
    r.opt(OPT_GO, Raw.go_data())
    assert r.opt_replies()[-1][0] == REP_ACK, "GO after option %d" % opt

def hangs_up(fn):
    r = Raw(port)
    fn(r)
    assert r.closed_by_server(), fn

expect(77, b"whatever", REP_ERR_UNSUP)                                 # unknown option
expect(OPT_STARTTLS, b"", REP_ERR_UNSUP)                               # no TLS here
expect(OPT_LIST, b"x", REP_ERR_INVALID)                                # LIST takes no data
expect(OPT_STRUCTURED_REPLY, b"x", REP_ERR_INVALID)
expect(OPT_GO, struct.pack(">I", 100) + b"ab" + b"\0\0", REP_ERR_INVALID)  # name too long
expect(OPT_INFO, Raw.go_data(b"", (1, 2))[:-2], REP_ERR_INVALID)       # info count wrong
expect(OPT_GO, Raw.go_data(b"nosuch"), REP_ERR_UNKNOWN)
expect(OPT_GO, Raw.go_data(b"a\0b"), REP_ERR_INVALID)                  # NUL in a name
expect(OPT_GO, Raw.go_data(b"a\nfake log line"), REP_ERR_INVALID)    # control characters
expect(OPT_GO, struct.pack(">I", 5000) + b"n" * 5000 + b"\0\0", REP_ERR_INVALID)  # > 4096
expect(OPT_SET_META_CONTEXT, Raw.meta_data(), REP_ERR_INVALID)         # before structured
expect(OPT_LIST, b"x" * (1 << 20), REP_ERR_TOO_BIG)                    # option data too big
r = fresh()
r.opt(OPT_STRUCTURED_REPLY)
r.opt_replies()
r.opt(OPT_SET_META_CONTEXT, Raw.meta_data()[:-3])                      # truncated query
assert r.opt_replies()[-1][0] == REP_ERR_INVALID
r.opt(OPT_LIST_META_CONTEXT, Raw.meta_data(queries=(b"base:",)))
reps = r.opt_replies()
assert reps[0][0] == REP_META_CONTEXT and reps[0][1][4:] == b"base:allocation", reps

hangs_up(lambda r: (r.recv(18), r.send(b"\xff\xff\xff\xff")))          # unknown client flags
hangs_up(lambda r: (r.greet(), r.send(b"GARBAGE!" * 4)))               # bad option magic
hangs_up(lambda r: (r.greet(), r.opt(OPT_EXPORT_NAME, b"nosuch")))     # can't refuse: hang up
hangs_up(lambda r: (r.greet(), r.opt(OPT_ABORT), r.opt_replies()))   # ACK, then close
r = Raw(port)
r.send(b"\0")            # and one that just goes away
r.close()
PY
server_alive
nbdinfo --size "$URI" >/dev/null || fail "server no longer serves"
stop_server
