#!/usr/bin/python3
"""Write the seed corpus for fuzz-handshake.c into corpus-handshake/ (next to
this file): what a server sends in a handshake, well-formed and not.  The
first byte of each seed picks the export name (0 default, 1 "disk", 2 the
longest).  Re-run after protocol changes."""
import os
import struct

NBDMAGIC = 0x4E42444D41474943
IHAVEOPT = 0x49484156454F5054
OLDSTYLE = 0x00420281861253
REPMAGIC = 0x3E889045565A9
GO, EXPORT_NAME, ABORT = 7, 1, 2
ACK, INFO = 1, 3
ERR_UNSUP, ERR_POLICY, ERR_INVALID, ERR_UNKNOWN = 0x80000001, 0x80000002, 0x80000003, 0x80000006
ERR_TLS_REQD, ERR_SHUTDOWN = 0x80000005, 0x80000007
TFLAGS = 0x1 | 0x4 | 0x8 | 0x20 | 0x40 | 0x100


def greeting(hflags=3):
    return struct.pack(">QQH", NBDMAGIC, IHAVEOPT, hflags)


def rep(reply, data=b"", o=GO, length=None):
    return struct.pack(">QIII", REPMAGIC, o, reply, len(data) if length is None else length) + data


def info_export(size=1 << 30, flags=TFLAGS):
    return rep(INFO, struct.pack(">HQH", 0, size, flags))


def info_block(mn=512, pref=4096, mx=32 << 20):
    return rep(INFO, struct.pack(">HIII", 3, mn, pref, mx))


def export_reply(size=1 << 30, flags=TFLAGS, zeroes=True):
    return struct.pack(">QH", size, flags) + (bytes(124) if zeroes else b"")


seeds = {
    "go": b"\0" + greeting() + info_export() + info_block() + rep(ACK),
    "go-name-desc": b"\1" + greeting() + rep(INFO, struct.pack(">H", 1) + b"disk") +
    rep(INFO, struct.pack(">H", 2) + b"a disk") + info_export() + rep(ACK),
    "go-small-payload": b"\1" + greeting() + info_export(1 << 20) + info_block(512, 512, 4096) +
    rep(ACK),
    "go-bad-blocks": b"\0" + greeting() + info_export() + info_block(3, 7, 1) +
    info_block(1 << 17, 1, 0) + rep(ACK),
    "go-odd-sizes": b"\0" + greeting() + info_export((1 << 64) - 1, 0xffff) +
    info_export(0, 0) + rep(ACK),
    "go-no-export": b"\0" + greeting() + info_block() + rep(ACK),
    "go-unknown-info": b"\0" + greeting() + rep(INFO, struct.pack(">H", 99) + bytes(20)) +
    rep(INFO, b"\0") + info_export() + rep(ACK),
    "go-long-reply": b"\2" + greeting() + rep(INFO, b"", length=0xffffffff),
    "go-wrong-option": b"\0" + greeting() + rep(ACK, o=EXPORT_NAME),
    "go-bad-magic": b"\0" + greeting() + struct.pack(">QIII", 1, GO, ACK, 0),
    "unsup-fallback": b"\1" + greeting() + rep(ERR_UNSUP) + export_reply(zeroes=False),
    "unsup-fallback-zeroes": b"\1" + greeting(1) + rep(ERR_UNSUP) + export_reply(),
    "not-fixed": b"\0" + greeting(0) + export_reply(1 << 20, 0x3),
    "errors": b"\1" + greeting() + rep(ERR_UNKNOWN, b"no such export"),
    "tls": b"\0" + greeting() + rep(ERR_TLS_REQD, b"TLS required\n\x01"),
    "shutdown": b"\0" + greeting() + rep(ERR_SHUTDOWN),
    "policy": b"\0" + greeting() + rep(ERR_POLICY) + rep(ERR_INVALID, o=ABORT),
    "unexpected-replies": b"\0" + greeting() + rep(2) + rep(0x7fff, b"x" * 30) + info_export() +
    rep(ACK),
    "oldstyle": b"\0" + struct.pack(">QQQI", NBDMAGIC, OLDSTYLE, 1 << 20, 0) + bytes(124),
    "not-nbd": b"\0" + b"HTTP/1.0 400 Bad Request\r\n\r\n",
    "truncated": b"\0" + greeting()[:10],
}

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "corpus-handshake")
os.makedirs(out, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)
