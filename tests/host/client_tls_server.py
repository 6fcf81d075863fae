#!/usr/bin/python3
"""An NBD server over TLS 1.3 (Python's ssl: OpenSSL) that sends a chosen
number of session tickets after each handshake and counts the client's
KeyUpdates, for client-tls-session-tickets and client-tls-own-key-update.

    client_tls_server.py PORTFILE CERTDIR TICKETS

Listens on a free localhost port (written to PORTFILE), requires STARTTLS
with CERTDIR's server-cert.pem and server-key.pem, and serves a zeroed
in-memory export of 16 MiB (NBD_OPT_GO, simple replies, READ and WRITE)
to one connection at a time.  After the handshake the server's first
records are TICKETS NewSessionTickets: what enbd-client's record layer must
count before it takes over from OpenSSL.  At the end of each connection
it logs "connection ended: N KeyUpdates from the client" on stderr.
"""
import os
import socket
import ssl
import struct
import sys

NBDMAGIC, IHAVEOPT, REPMAGIC = 0x4E42444D41474943, 0x49484156454F5054, 0x3E889045565A9
REQ_MAGIC, SIMPLE = 0x25609513, 0x67446698
OPT_ABORT, OPT_STARTTLS, OPT_INFO, OPT_GO = 2, 5, 6, 7
REP_ACK, REP_INFO, ERR_UNSUP, ERR_TLS_REQD = 1, 3, 0x80000001, 0x80000005
CMD_READ, CMD_WRITE, CMD_DISC = 0, 1, 2
HANDSHAKE, KEY_UPDATE = 22, 24
FLAG_HAS_FLAGS = 1
SIZE = 16 << 20
disk = bytearray(SIZE)
key_updates = 0


def count_key_updates(conn, direction, version, content_type, msg_type, data):
    """ssl's message callback (private, for debugging: the only way to see
    a KeyUpdate from Python)"""
    global key_updates
    if direction == "read" and content_type == HANDSHAKE and msg_type == KEY_UPDATE:
        key_updates += 1


def read_full(s, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return bytes(buf)


def reply(s, opt, rtype, data=b""):
    s.sendall(struct.pack(">QIII", REPMAGIC, opt, rtype, len(data)) + data)


def negotiate(s, ctx):
    """The options up to NBD_OPT_GO: the TLS socket, or None."""
    s.sendall(struct.pack(">QQH", NBDMAGIC, IHAVEOPT, 3))  # fixed newstyle, no zeroes
    read_full(s, 4)
    tls = None
    while True:
        magic, opt, length = struct.unpack(">QII", read_full(tls or s, 16))
        if magic != IHAVEOPT:
            return None
        read_full(tls or s, length)
        if opt == OPT_STARTTLS and not tls:
            reply(s, opt, REP_ACK)
            tls = ctx.wrap_socket(s, server_side=True)
        elif not tls:
            reply(s, opt, ERR_TLS_REQD)
        elif opt in (OPT_INFO, OPT_GO):
            reply(tls, opt, REP_INFO, struct.pack(">HQH", 0, SIZE, FLAG_HAS_FLAGS))
            reply(tls, opt, REP_ACK)
            if opt == OPT_GO:
                return tls
        elif opt == OPT_ABORT:
            reply(tls, opt, REP_ACK)
            return None
        else:
            reply(tls, opt, ERR_UNSUP)


def transmission(s):
    while True:
        magic, _, cmd, cookie, offset, length = struct.unpack(">IHHQQI", read_full(s, 28))
        if magic != REQ_MAGIC or cmd == CMD_DISC:
            return
        bad = offset + length > SIZE or cmd not in (CMD_READ, CMD_WRITE)
        if cmd == CMD_WRITE:
            data = read_full(s, length)
            if not bad:
                disk[offset:offset + length] = data
        head = struct.pack(">IIQ", SIMPLE, 22 if bad else 0, cookie)
        if cmd == CMD_READ and not bad:
            s.sendall(head + disk[offset:offset + length])
        else:
            s.sendall(head)


def main():
    portfile, certdir, tickets = sys.argv[1], sys.argv[2], int(sys.argv[3])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(os.path.join(certdir, "server-cert.pem"),
                        os.path.join(certdir, "server-key.pem"))
    ctx.num_tickets = tickets
    ctx._msg_callback = count_key_updates
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", 0))
    ls.listen(4)
    with open(portfile + ".tmp", "w") as f:
        f.write("%d\n" % ls.getsockname()[1])
    os.rename(portfile + ".tmp", portfile)
    global key_updates
    while True:
        s, _ = ls.accept()
        key_updates = 0
        try:
            tls = negotiate(s, ctx)
            if tls:
                transmission(tls)
        except (EOFError, OSError, ssl.SSLError) as e:
            print("connection failed: %s" % e, file=sys.stderr)
        print("connection ended: %d KeyUpdates from the client" % key_updates,
              file=sys.stderr, flush=True)
        s.close()


main()
