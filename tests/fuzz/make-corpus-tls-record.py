#!/usr/bin/python3
"""Write the seed corpus for fuzz-tls-record.c into corpus-tls-record/ (next
to this file): a scene (cipher suite, first sequence number, the sizes asked
of tls_records_recv, sends after reading) and operations of the peer, see
the OP_* of fuzz-tls-record.c.  Re-run after changing that encoding."""
import os
import struct

DATA, TYPED, TICKET, KEY_UPDATE, ALERT, HEADER, DAMAGED, RAW = range(8)
AES128, AES256, CHACHA = range(3)


def scene(cipher=AES128, seq=0, length=65536, minimum=1, sends=0):
    return struct.pack(">BBHHB", cipher, seq, length - 1, minimum - 1, sends)


def content(b):
    """the first bytes of a record's content; a pattern fills the rest"""
    return bytes([len(b)]) + b


def data(n, pad=0, start=b""):
    return struct.pack(">BHH", DATA, n, pad) + content(start)


def typed(t, n, pad=0, start=b""):
    return struct.pack(">BBHH", TYPED, t, n, pad) + content(start)


def ticket(n, fragments=()):
    """fragments: the lengths of up to 3 records the message (header
    included) is cut into, the rest in one more; none: one record"""
    cuts = list(fragments)
    if len(cuts) < 3 and 4 + n > sum(cuts):
        cuts.append(4 + n - sum(cuts))
    return struct.pack(">BH", TICKET, n) + content(b"") + b"".join(
        struct.pack(">H", c - 1) for c in cuts)


def key_update(request, cut=0):
    return bytes([KEY_UPDATE, cut << 1 | request])


def alert(level, desc):
    return bytes([ALERT, level, desc])


def header(hdr, start=b""):
    return bytes([HEADER]) + hdr + content(start)


def damaged(n, bit):
    return struct.pack(">BHH", DAMAGED, n, bit) + content(b"")


def raw(b):
    return bytes([RAW, len(b)]) + b


close = alert(1, 0)
seeds = {
    "data": scene() + data(5, start=b"hello") + data(16384) + data(1) + close,
    "data-small-reads": scene(length=100, minimum=7) + data(3000) + data(0) + data(200) + close,
    "one-byte-reads": scene(length=1) + data(16384) * 7 + close,
    "data-in-place": scene(length=16000, minimum=16000) + data(16384) + data(16384),
    "padding": scene(AES256) + data(10, 100) + data(0, 16383) + data(16384 - 7, 7) + close,
    "chacha": scene(CHACHA, seq=200) + data(1000) + data(1000),
    "zero-length": scene() + data(0) * 20 + data(4) + close,
    "tickets": scene(seq=2) + ticket(200) + ticket(3000, (1000, 1000)) + data(100) + ticket(0) +
    close,
    "ticket-header-cut": scene() + ticket(100, (2,)) + ticket(50, (1, 1, 1)) + data(10) +
    ticket(300, (3, 100)) + close,
    "key-update-cut": scene(sends=3) + data(10) + key_update(1, 2) + data(10) + key_update(0, 4) +
    data(10) + key_update(0, 1) + data(5),
    "key-updates": scene(sends=7) + data(64) + key_update(0) + data(64) + key_update(1) +
    data(64) + key_update(1),
    "own-key-updates": scene(AES256, seq=3, sends=7) + data(10),
    "close-then-more": scene() + data(8) + close + data(8),
    "fatal-alert": scene() + data(8) + alert(2, 40),
    "data-before-fatal-alert": scene(length=16000, minimum=16000) + data(16384) + alert(2, 80),
    "data-before-forged": scene(length=16000, minimum=16000) + data(16384) + data(10) +
    damaged(100, 1000),
    "unknown-type": scene() + data(8) + typed(20, 1) + data(8),
    "inner-type-zero": scene() + typed(0, 30),
    "oversized-inner": scene() + data(100) + typed(23, 16384, 1),
    "oversized-body": scene() + header(bytes([23, 3, 3, 0x41, 0x11])),
    "header-wrong-type": scene() + header(bytes([22, 3, 3, 0, 40])),
    "header-wrong-version": scene() + header(bytes([23, 3, 1, 0, 40])),
    "header-tag-only": scene() + header(bytes([23, 3, 3, 0, 16])),
    "handshake-short": scene() + typed(22, 3, start=b"\x04\x00\x00"),
    "handshake-unknown": scene() + typed(22, 9, start=b"\x14\x00\x00\x05"),
    "key-update-not-last": scene() + typed(22, 10, start=b"\x18\x00\x00\x01\x00"),
    "key-update-bad-value": scene() + typed(22, 5, start=b"\x18\x00\x00\x01\x02"),
    "ticket-then-key-update": scene() +
    typed(22, 13, start=b"\x04\x00\x00\x04abcd\x18\x00\x00\x01\x01"),
    "empty-handshake": scene() + typed(22, 0) + data(3) + close,
    "alert-long": scene() + typed(21, 3, start=b"\x01\x00\x00"),
    "damaged": scene() + data(100) + damaged(50, 9),
    "raw-tail": scene() + data(20) + raw(b"\x17\x03\x03\x00"),
    "truncated": scene() + data(20) + raw(b"\x17\x03\x03\x00\x40" + bytes(10)),
}

d = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus-tls-record")
os.makedirs(d, exist_ok=True)
for name, blob in seeds.items():
    with open(os.path.join(d, name), "wb") as f:
        f.write(blob)
print("wrote %d seeds to %s" % (len(seeds), d))
