#!/usr/bin/python3
"""Write the seed corpus for fuzz-reply.c into fuzz-reply-corpus/ (next to
this file): a scene (see fuzz-reply.c) and a server's answers, well-formed
and not.  Re-run after changing the scene's encoding."""
import os
import struct

SIMPLE, STRUCTURED = 0x67446698, 0x668E33EF
READ, WRITE, FLUSH, TRIM, WZ = 0, 1, 4, 5, 6     # selectors of fuzz-reply.c's types[]
PROBE = 64


def scene(part_shift, reqs, probe=False, channels=1):
    """reqs: (type selector, blocks of 512 bytes, flags)"""
    out = bytes([part_shift, (2 if probe else 0) | (channels - 1), len(reqs) - 1])
    for t, blocks, flags in reqs:
        n = blocks - 1
        out += bytes([t, n & 0xFF, n >> 8, flags])
    return out + bytes(4 * (8 - len(reqs)))


def cookie(slot, part=0, gen=1):
    return gen << 32 | part << 16 | slot


def reply(slot, part=0, err=0, data=b"", gen=1):
    return struct.pack(">IIQ", SIMPLE, err, cookie(slot, part, gen)) + data


def read_parts(slot, length, part_size, err=0):
    return b"".join(reply(slot, p, err, b"" if err else bytes([p & 0xFF]) * min(part_size, length - p * part_size))
                    for p in range((length + part_size - 1) // part_size))


seeds = {
    "reads-ok": scene(10, [(READ, 6, 0), (READ, 1, 0), (READ, 8, 0)]) +
    reply(1, data=bytes(512)) + reply(2, data=bytes(4096)) + reply(0, data=bytes(3072)),
    "split-reads": scene(0, [(READ, 8, 0), (READ, 3, 0)]) +
    read_parts(1, 1536, 512) + read_parts(0, 4096, 512),
    "split-writes": scene(1, [(WRITE, 9, 1), (WRITE, 2, 0)]) +
    b"".join(reply(0, p) for p in range(5)) + reply(1),
    "mixed-errors": scene(10, [(WRITE, 4, 1), (FLUSH, 1, 0), (TRIM, 8, 0), (WZ, 8, 2),
                               (READ, 2, 0)]) +
    reply(0, err=5) + reply(1, err=28) + reply(2, err=1) + reply(3, err=95) + reply(4, err=22),
    "eshutdown": scene(10, [(READ, 1, 0), (WRITE, 1, 0)]) + reply(1, err=108) +
    reply(0, data=bytes(512)),
    "probe": scene(10, [(READ, 1, 0)], probe=True) + reply(PROBE, data=bytes(512)) +
    reply(0, data=bytes(512)),
    "probe-error": scene(10, [(READ, 1, 0)], probe=True) + reply(PROBE, err=5) +
    reply(PROBE, err=108),
    "window": scene(0, [(READ, 2, 0)] * 6, channels=2) +
    b"".join(read_parts(i, 1024, 512) for i in range(6)),
    "bad-magic": scene(10, [(READ, 1, 0)]) + struct.pack(">IIQ", 0x12345678, 0, cookie(0)),
    "structured": scene(10, [(READ, 1, 0)]) +
    struct.pack(">IHHQI", STRUCTURED, 1, 1, cookie(0), 520) + bytes(520),
    "unknown-cookie": scene(10, [(READ, 1, 0)]) + reply(0, gen=2) + reply(5) + reply(0, part=1),
    "second-reply": scene(10, [(WRITE, 1, 0), (WRITE, 1, 0)]) + reply(0) + reply(0),
    "short-payload": scene(10, [(READ, 64, 0)]) + reply(0, data=bytes(1000)),
    "error-payload": scene(10, [(READ, 1, 0), (READ, 1, 0)]) + reply(0, err=5) +
    bytes(512) + reply(1, data=bytes(512)),
}

d = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fuzz-reply-corpus")
os.makedirs(d, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
print("wrote %d seeds to %s" % (len(seeds), d))
