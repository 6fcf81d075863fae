#!/usr/bin/python3
"""Write the seed corpus for fuzz-server.c into corpus/ (next to this file):
whole client sessions, well-formed and not, each after the header that
picks threads, peer address and access list (see fuzz-server.c).  Re-run
after protocol changes."""
import os
import struct

IHAVEOPT = 0x49484156454F5054
REQ = 0x25609513


def opt(o, data=b""):
    return struct.pack(">QII", IHAVEOPT, o, len(data)) + data


def go(name=b"", infos=(), o=7):
    return opt(o, struct.pack(">I", len(name)) + name + struct.pack(">H", len(infos)) +
               b"".join(struct.pack(">H", i) for i in infos))


def meta(o, name=b"", queries=(b"base:allocation",)):
    return opt(o, struct.pack(">I", len(name)) + name + struct.pack(">I", len(queries)) +
               b"".join(struct.pack(">I", len(q)) + q for q in queries))


def req(cmd, off=0, length=0, flags=0, cookie=1, payload=b""):
    return struct.pack(">IHHQQI", REQ, flags, cmd, cookie, off, length) + payload


def header(threads=0, peer=b"\x7f\0\0\1", ipv6=False, acl=b"", deny=False):
    """threads: 0-3 for 1, 2, 4, 16; acl: the input's --allow specs, else the fixed list."""
    cfg = threads | (4 if acl else 0) | (8 if deny else 0)
    return bytes([cfg, 1 if ipv6 else 0]) + peer.ljust(16, b"\0") + bytes([len(acl)]) + acl


FLAGS = struct.pack(">I", 3)
ALL_CMDS = (req(1, 100, 16, payload=b"0123456789abcdef") + req(0, 96, 32) +
            req(1, 4096, 8, flags=1, payload=b"fuafuafu") + req(3) + req(4, 0, 8192) +
            req(6, 8192, 4096, flags=2) + req(6, 0, 4096, flags=16) + req(5, 0, 65536) +
            req(7, 0, 1 << 20) + req(7, 0, 1 << 20, flags=8) + req(0, 0, 512, flags=4) +
            req(2))

sessions = {
    "structured-all": FLAGS + opt(8) + meta(10) + go(infos=(0, 1, 2, 3)) + ALL_CMDS,
    "simple-all": FLAGS + go() + ALL_CMDS,
    "export-name": struct.pack(">I", 1) + opt(1) + req(1, 0, 4, payload=b"abcd") + req(0, 0, 4),
    "export-name-nozeroes": FLAGS + opt(1, b"ro") + req(1, 0, 4, payload=b"abcd") + req(2),
    "list-info-abort": FLAGS + opt(3) + go(b"ro", (1, 2, 3), o=6) + opt(8) +
    meta(9, b"", ()) + meta(9, b"", (b"base:", b"qemu:dirty")) + opt(2),
    "readonly-writes": FLAGS + opt(8) + go(b"ro") + req(1, 0, 4, payload=b"nope") +
    req(4, 0, 4096) + req(6, 0, 4096) + req(0, 0, 4096),
    "bad-options": FLAGS + opt(99, b"xyz") + opt(5) + go(b"nosuch") +
    opt(7, b"\xff\xff\xff\xff") + meta(10) + opt(3, b"x") + go(),
    "bad-requests": FLAGS + opt(8) + go() + req(99, 0, 1) + req(0, 0, 1, flags=0x80) +
    req(0, (1 << 64) - 1, 2) + req(1, (1 << 20) - 1, 2, payload=b"zz") + req(3, 1, 1) +
    req(0, 0, (32 << 20) + 1) + req(7, 0, 0),
    "big-write": FLAGS + go() + req(1, 0, 4096, payload=bytes(range(256)) * 16) +
    req(0, 0, 4096),
}
seeds = {name: header() + data for name, data in sessions.items()}
FILE_SESSION = FLAGS + opt(8) + meta(10, b"file") + go(b"file") + ALL_CMDS
STRIPE_SESSION = (FLAGS + opt(8) + meta(10, b"stripe") + go(b"stripe") +
                  req(1, 4000, 200, payload=bytes(range(200))) + req(0, 3990, 300) +
                  req(6, 8000, 9000, flags=2) + req(4, 0, 20000) + req(7, 0, 1 << 19) +
                  req(6, 0, 4096, flags=18) + req(3) + req(2))
seeds.update({
    "file-all": header() + FILE_SESSION,
    "file-threads": header(threads=3) + FILE_SESSION,
    "stripe-threads": header(threads=2) + STRIPE_SESSION,
    "memory-threads": header(threads=1) + sessions["structured-all"],
    "acl-refused-v6": header(ipv6=True, peer=bytes(15) + b"\2") + FLAGS + opt(3) + go(),
    "acl-input-allows": header(ipv6=True, peer=b"\x20\x01\x0d\xb8" + bytes(12),
                               acl=b"10.0.0.0/8,2001:db8::/32,::ffff:1.2.3.4/128,bad/99") +
    FLAGS + go() + req(0, 0, 512),
    "acl-mapped-v4-deny": header(ipv6=True, peer=bytes(10) + b"\xff\xff\x0a\0\0\1",
                                 acl=b"10.1.0.0/16", deny=True) + FLAGS + go() + req(2),
})

d = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
os.makedirs(d, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
print("wrote %d seeds to %s" % (len(seeds), d))
