"""An NBD client for tools/bench-tls whose TLS is OpenSSL (Python's ssl
module), so that what TLS costs the server can be told apart from what it
costs GnuTLS in nbdcopy.  X.509 only (Python 3.11 has no TLS-PSK).

  bench-tls-client.py PORT read|write SIZE_MB REQUEST_BYTES IN_FLIGHT [CERT_DIR]

Sequential READs (data dropped) or WRITEs (zeros) of REQUEST_BYTES over the
first SIZE_MB MiB, IN_FLIGHT at a time, over one connection; with CERT_DIR
(ca-cert.pem, client-cert.pem, client-key.pem) after NBD_OPT_STARTTLS."""

import socket
import ssl
import struct
import sys

NBD_MAGIC, IHAVEOPT, REP_MAGIC = 0x4E42444D41474943, 0x49484156454F5054, 0x0003E889045565A9
REQUEST_MAGIC, SIMPLE_MAGIC = 0x25609513, 0x67446698
OPT_STARTTLS, OPT_GO, REP_ACK = 5, 7, 1
CMD_READ, CMD_WRITE, CMD_DISC = 0, 1, 2


def recv_exact(s, view):
    got = 0
    while got < len(view):
        n = s.recv_into(view[got:])
        if n == 0:
            raise SystemExit("bench-tls-client: the server closed the connection")
        got += n


def option(s, opt, data=b""):
    s.sendall(struct.pack(">QII", IHAVEOPT, opt, len(data)) + data)
    replies = []
    while True:
        head = bytearray(20)
        recv_exact(s, memoryview(head))
        magic, _, rtype, length = struct.unpack(">QIII", head)
        body = bytearray(length)
        recv_exact(s, memoryview(body))
        if magic != REP_MAGIC or rtype >= 2**31:
            raise SystemExit("bench-tls-client: option %d refused (%#x)" % (opt, rtype))
        replies.append((rtype, bytes(body)))
        if opt == OPT_STARTTLS or rtype == REP_ACK:
            return replies


def main():
    port, mode, size_mb, req, depth = (int(sys.argv[1]), sys.argv[2], int(sys.argv[3]),
                                       int(sys.argv[4]), int(sys.argv[5]))
    certs = sys.argv[6] if len(sys.argv) > 6 else None
    s = socket.create_connection(("localhost", port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    hello = bytearray(18)
    recv_exact(s, memoryview(hello))
    if struct.unpack(">QQH", hello)[:2] != (NBD_MAGIC, IHAVEOPT):
        raise SystemExit("bench-tls-client: not a newstyle NBD server")
    s.sendall(struct.pack(">I", 3))         # FIXED_NEWSTYLE | NO_ZEROES
    if certs:
        option(s, OPT_STARTTLS)
        ctx = ssl.create_default_context(cafile=certs + "/ca-cert.pem")
        ctx.load_cert_chain(certs + "/client-cert.pem", certs + "/client-key.pem")
        s = ctx.wrap_socket(s, server_hostname="localhost")
    option(s, OPT_GO, struct.pack(">IH", 0, 0))
    total = size_mb << 20
    payload = bytes(req) if mode == "write" else b""
    buf = bytearray(req)
    view = memoryview(buf)
    head = memoryview(bytearray(16))
    sent = done = 0
    while done < total:
        while sent < total and sent - done < depth * req:
            cmd = CMD_WRITE if mode == "write" else CMD_READ
            s.sendall(struct.pack(">IHHQQI", REQUEST_MAGIC, 0, cmd, sent, sent, req) + payload)
            sent += req
        recv_exact(s, head)
        magic, error, _ = struct.unpack(">IIQ", head)
        if magic != SIMPLE_MAGIC or error:
            raise SystemExit("bench-tls-client: reply magic %#x error %d" % (magic, error))
        if mode == "read":
            recv_exact(s, view)
        done += req
    s.sendall(struct.pack(">IHHQQI", REQUEST_MAGIC, 0, CMD_DISC, 0, 0, 0))
    s.close()


main()
