#!/usr/bin/python3
"""A small NBD server that misbehaves on purpose, for the enbd-client tests.

    client_fake_server.py PORTFILE SIZE MODE [ARG]

Listens on a free localhost port (written to PORTFILE), serves a zeroed
in-memory export of SIZE bytes with fixed newstyle and simple replies, and
answers requests in batches in reverse order (so replies arrive out of order).
MODE chooses a fault, injected on the first connection only, after a few
dozen good replies; later connections behave (so a client that reconnects
can finish its work):

  good        no fault
  badmagic    a reply with a wrong magic number
  badcookie   a reply to a cookie that was never sent
  dupreply    a second reply to the same request
  structured  a structured reply (never negotiated)
  errpayload  an error reply to a READ followed by payload bytes
  shortread   a READ reply cut short, then the connection closed
  eshutdown   NBD_ESHUTDOWN for every request of the connection, then close
  eshutdown-always  NBD_ESHUTDOWN for every request of every connection
              (logs "connection N at EPOCH" for each)
  silent      accept and never send a byte (keeps the connection open)
  trickle     send the greeting one byte a second, then nothing
  noaccept    never accept: once the one-place backlog is full, connects hang
  nogo        NBD_OPT_GO answered NBD_REP_ERR_UNSUP (every connection)
  tls         every option answered NBD_REP_ERR_TLS_REQD
  garbage     not an NBD server at all
  resize      the second connection advertises SIZE+ARG bytes
  hang        stop reading and answering, but keep the connection open
              (logs "hanging at EPOCH"); later connections are served
  stall       advertise a maximum payload of ARG bytes (NBD_INFO_BLOCK_SIZE,
              minimum 512), then stop reading and answering; once the
              receive queue stops growing, log "stalled with N bytes
              queued"; once PORTFILE.go exists, read everything and answer
              nothing, and log how the client ended the connection:
              "connection ended by reset" (ECONNRESET) or "by EOF", with
              " after NBD_CMD_DISC" if one came
"""
import fcntl
import os
import select
import socket
import struct
import sys
import termios
import time

NBDMAGIC = 0x4E42444D41474943
IHAVEOPT = 0x49484156454F5054
REPMAGIC = 0x3E889045565A9
REQ_MAGIC = 0x25609513
SIMPLE = 0x67446698
STRUCTURED = 0x668E33EF

OPT_EXPORT_NAME, OPT_ABORT, OPT_GO = 1, 2, 7
REP_ACK, REP_INFO = 1, 3
INFO_BLOCK_SIZE = 3
ERR_UNSUP, ERR_TLS_REQD = 0x80000001, 0x80000005
CMD_READ, CMD_WRITE, CMD_DISC, CMD_FLUSH, CMD_TRIM, CMD_WZ = 0, 1, 2, 3, 4, 6
# HAS_FLAGS SEND_FLUSH SEND_FUA SEND_TRIM SEND_WRITE_ZEROES
TFLAGS = 0x1 | 0x4 | 0x8 | 0x20 | 0x40
FAULT_AFTER = 40


class Closed(Exception):
    pass


def recvall(s, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise Closed()
        buf += chunk
    return bytes(buf)


def opt_reply(s, opt, rep, data=b""):
    s.sendall(struct.pack(">QIII", REPMAGIC, opt, rep, len(data)) + data)


def handshake(s, size, mode, max_payload=0):
    """Returns True when transmission starts."""
    s.sendall(struct.pack(">QQH", NBDMAGIC, IHAVEOPT, 0x3))
    cflags = struct.unpack(">I", recvall(s, 4))[0]
    no_zeroes = bool(cflags & 2)
    while True:
        magic, opt, length = struct.unpack(">QII", recvall(s, 16))
        assert magic == IHAVEOPT
        data = recvall(s, length)
        if opt == OPT_ABORT:
            opt_reply(s, opt, REP_ACK)
            return False
        if mode == "tls":
            opt_reply(s, opt, ERR_TLS_REQD, b"TLS is required here")
            continue
        if opt == OPT_EXPORT_NAME:
            s.sendall(struct.pack(">QH", size, TFLAGS) + (b"" if no_zeroes else bytes(124)))
            return True
        if opt == OPT_GO and mode != "nogo":
            opt_reply(s, opt, REP_INFO, struct.pack(">HQH", 0, size, TFLAGS))
            if max_payload:
                opt_reply(s, opt, REP_INFO,
                          struct.pack(">HIII", INFO_BLOCK_SIZE, 512, 4096, max_payload))
            opt_reply(s, opt, REP_ACK)
            return True
        opt_reply(s, opt, ERR_UNSUP)


def serve(s, disk, fault, portfile=None):
    replies = FAULT_AFTER if fault == "eshutdown-always" else 0
    while True:
        batch = []
        while True:
            hdr = recvall(s, 28)
            magic, flags, typ, cookie, off, length = struct.unpack(">IHHQQI", hdr)
            assert magic == REQ_MAGIC, hex(magic)
            payload = recvall(s, length) if typ == CMD_WRITE else b""
            if typ == CMD_DISC:
                return
            batch.append((typ, cookie, off, length, payload))
            if len(batch) >= 16 or not select.select([s], [], [], 0.002)[0]:
                break
        out = bytearray()
        for typ, cookie, off, length, payload in reversed(batch):
            err, data = 0, b""
            if off + length > len(disk):
                err = 22
            elif typ == CMD_READ:
                data = bytes(disk[off:off + length])
            elif typ == CMD_WRITE:
                disk[off:off + length] = payload
            elif typ in (CMD_TRIM, CMD_WZ):
                disk[off:off + length] = bytes(length)
            replies += 1
            if fault and replies >= FAULT_AFTER:
                if fault == "hang":
                    s.sendall(bytes(out))
                    sys.stderr.write("fake server: hanging at %.3f\n" % time.time())
                    sys.stderr.flush()
                    return "hang"
                if fault == "stall":
                    s.sendall(bytes(out))
                    stall(s, portfile)
                    return
                if fault in ("eshutdown", "eshutdown-always"):
                    # Until the client's NBD_CMD_DISC.
                    out += struct.pack(">IIQ", SIMPLE, 108, cookie)
                    continue
                s.sendall(bytes(out))
                if fault == "badmagic":
                    s.sendall(struct.pack(">IIQ", 0x12345678, 0, cookie))
                elif fault == "badcookie":
                    s.sendall(struct.pack(">IIQ", SIMPLE, 0, cookie ^ (1 << 40)))
                elif fault == "dupreply":
                    s.sendall(struct.pack(">IIQ", SIMPLE, 0, cookie) + data)
                    s.sendall(struct.pack(">IIQ", SIMPLE, 0, cookie) + data)
                elif fault == "structured":
                    s.sendall(struct.pack(">IHHQI", STRUCTURED, 1, 0, cookie, 0))
                elif fault == "errpayload":
                    s.sendall(struct.pack(">IIQ", SIMPLE, 5, cookie) + bytes(512))
                elif fault == "shortread":
                    s.sendall(struct.pack(">IIQ", SIMPLE, 0, cookie) + data[: len(data) // 2])
                    s.shutdown(socket.SHUT_WR)
                # Let the client notice and hang up first: closing with its
                # requests unread would reset the connection and could
                # discard the bad reply before the client reads it.
                drain(s)
                return
            out += struct.pack(">IIQ", SIMPLE, err, cookie) + data
        s.sendall(bytes(out))


def stall(s, portfile):
    """Read nothing until PORTFILE.go exists, then everything till the end."""
    queued, still = -1, 0
    while still < 15:
        time.sleep(0.02)
        n = struct.unpack("i", fcntl.ioctl(s, termios.FIONREAD, b"\0" * 4))[0]
        still = still + 1 if n == queued else 0
        queued = n
    sys.stderr.write("fake server: stalled with %d bytes queued\n" % queued)
    sys.stderr.flush()
    while not os.path.exists(portfile + ".go"):
        time.sleep(0.02)
    disc = ""
    try:
        while True:  # requests, from a boundary: serve() read whole ones
            magic, flags, typ, cookie, off, length = struct.unpack(">IHHQQI", recvall(s, 28))
            if typ == CMD_WRITE:
                recvall(s, length)
            elif typ == CMD_DISC:
                disc = " after NBD_CMD_DISC"
    except Closed:
        how = "EOF"
    except ConnectionResetError:
        how = "reset"
    sys.stderr.write("fake server: connection ended by %s%s\n" % (how, disc))
    sys.stderr.flush()


def drain(s):
    s.settimeout(10)
    try:
        while s.recv(1 << 16):
            pass
    except OSError:
        pass


def main():
    portfile, size, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    arg = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    disk = bytearray(size)
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if mode == "stall":
        # Small segments and buffers: the client's socket fills within a
        # request or two, not after megabytes (loopback's MSS is 64 KiB).
        ls.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 536)
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    ls.bind(("127.0.0.1", 0))
    ls.listen(0 if mode == "noaccept" else 4)
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % ls.getsockname()[1])
    os.rename(portfile + ".tmp", portfile)
    conn = 0
    hung = []
    while mode == "noaccept":
        time.sleep(60)
    while True:
        s, _ = ls.accept()
        conn += 1
        try:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if mode == "eshutdown-always":
                sys.stderr.write("fake server: connection %d at %.3f\n" % (conn, time.time()))
                sys.stderr.flush()
            if mode == "silent":
                hung.append(s)
                continue
            if mode == "trickle":
                for b in struct.pack(">QQH", NBDMAGIC, IHAVEOPT, 0x3):
                    s.sendall(bytes([b]))
                    time.sleep(1)
                hung.append(s)
                continue
            if mode == "garbage":
                s.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n" + bytes(64))
                continue
            exp_size = size + arg if (mode == "resize" and conn >= 2) else size
            if not handshake(s, exp_size, mode, arg if mode == "stall" else 0):
                continue
            fault = mode if conn == 1 and mode not in ("good", "nogo", "resize") else None
            if mode == "eshutdown-always":
                fault = mode
            if serve(s, disk, fault, portfile) == "hang":
                hung.append(s)
        except (Closed, ConnectionError, AssertionError) as e:
            sys.stderr.write("fake server: connection %d: %r\n" % (conn, e))
        finally:
            if s not in hung:
                s.close()


if __name__ == "__main__":
    main()
