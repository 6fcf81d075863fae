"""A raw NBD client for the enbd-server tests: sends exactly the bytes a
test asks for (malformed ones included) and decodes the replies.
Used by tests/host/server-*.sh through `sys.path`."""

import socket
import struct
import time

NBD_MAGIC = 0x4E42444D41474943
IHAVEOPT = 0x49484156454F5054
REP_MAGIC = 0x0003E889045565A9
REQUEST_MAGIC = 0x25609513
SIMPLE_MAGIC = 0x67446698
STRUCTURED_MAGIC = 0x668E33EF

OPT_EXPORT_NAME, OPT_ABORT, OPT_LIST, OPT_STARTTLS = 1, 2, 3, 5
OPT_INFO, OPT_GO, OPT_STRUCTURED_REPLY = 6, 7, 8
OPT_LIST_META_CONTEXT, OPT_SET_META_CONTEXT = 9, 10
REP_ACK, REP_SERVER, REP_INFO, REP_META_CONTEXT = 1, 2, 3, 4
REP_ERR_UNSUP = 2**31 + 1
REP_ERR_POLICY = 2**31 + 2
REP_ERR_INVALID = 2**31 + 3
REP_ERR_UNKNOWN = 2**31 + 6
REP_ERR_TOO_BIG = 2**31 + 9

CMD_READ, CMD_WRITE, CMD_DISC, CMD_FLUSH, CMD_TRIM = 0, 1, 2, 3, 4
CMD_CACHE, CMD_WRITE_ZEROES, CMD_BLOCK_STATUS = 5, 6, 7
FLAG_FUA, FLAG_NO_HOLE, FLAG_DF, FLAG_REQ_ONE, FLAG_FAST_ZERO = 1, 2, 4, 8, 16
EPERM, EIO, ENOMEM, EINVAL, ENOSPC, EOVERFLOW, ENOTSUP = 1, 5, 12, 22, 28, 75, 95
REPLY_TYPE_NONE, REPLY_TYPE_OFFSET_DATA, REPLY_TYPE_BLOCK_STATUS = 0, 1, 5
REPLY_TYPE_ERROR = 2**15 + 1


class Closed(Exception):
    """The server closed the connection."""


class Raw:
    def __init__(self, port, host="127.0.0.1", timeout=10, source=None):
        self.s = socket.create_connection((host, port), timeout=timeout,
                                          source_address=(source, 0) if source else None)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.structured = False
        self.size = None
        self.flags = None

    def close(self):
        self.s.close()

    def send(self, data):
        self.s.sendall(data)

    def recv(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.s.recv(n - len(buf))
            if not chunk:
                raise Closed("connection closed after %d of %d bytes" % (len(buf), n))
            buf += chunk
        return buf

    def closed_by_server(self):
        """True when the server hangs up (EOF or reset) without sending more."""
        try:
            return self.s.recv(1) == b""
        except ConnectionResetError:
            return True

    # -- handshake --
    def greet(self, cflags=3):
        magic, ihaveopt, hflags = struct.unpack(">QQH", self.recv(18))
        assert magic == NBD_MAGIC and ihaveopt == IHAVEOPT, "bad greeting"
        self.send(struct.pack(">I", cflags))
        return hflags

    def opt(self, opt, data=b"", length=None):
        self.send(struct.pack(">QII", IHAVEOPT, opt, len(data) if length is None else length))
        self.send(data)

    def opt_reply(self):
        magic, opt, rtype, length = struct.unpack(">QIII", self.recv(20))
        assert magic == REP_MAGIC, "bad option reply magic %x" % magic
        return opt, rtype, self.recv(length)

    def opt_replies(self):
        """All replies up to the final ACK or error: list of (type, data)."""
        out = []
        while True:
            _, rtype, data = self.opt_reply()
            out.append((rtype, data))
            if rtype == REP_ACK or rtype & 2**31:
                return out

    @staticmethod
    def go_data(name=b"", infos=()):
        return struct.pack(">I", len(name)) + name + struct.pack(">H", len(infos)) + \
            b"".join(struct.pack(">H", i) for i in infos)

    @staticmethod
    def meta_data(name=b"", queries=(b"base:allocation",)):
        return struct.pack(">I", len(name)) + name + struct.pack(">I", len(queries)) + \
            b"".join(struct.pack(">I", len(q)) + q for q in queries)

    def connect(self, name=b"", structured=True, meta=False):
        """Greeting, options, GO: ready for requests."""
        self.greet()
        if structured:
            self.opt(OPT_STRUCTURED_REPLY)
            assert self.opt_replies()[-1][0] == REP_ACK
            self.structured = True
        if meta:
            self.opt(OPT_SET_META_CONTEXT, self.meta_data(name))
            assert self.opt_replies()[-1][0] == REP_ACK
        self.opt(OPT_GO, self.go_data(name))
        for rtype, data in self.opt_replies():
            if rtype == REP_INFO and struct.unpack(">H", data[:2])[0] == 0:
                _, self.size, self.flags = struct.unpack(">HQH", data)
            elif rtype not in (REP_ACK, REP_INFO):
                raise AssertionError("GO failed: %x %r" % (rtype, data))
        return self

    # -- transmission --
    def request(self, cmd, offset=0, length=0, flags=0, cookie=1, payload=b"", magic=REQUEST_MAGIC):
        self.send(struct.pack(">IHHQQI", magic, flags, cmd, cookie, offset, length) + payload)

    def reply(self, read_length=0):
        """One reply message.  For a simple reply to a READ pass the read
        length.  Returns a dict: kind, cookie, error, and for structured
        chunks flags, type, payload."""
        magic, = struct.unpack(">I", self.recv(4))
        if magic == SIMPLE_MAGIC:
            error, cookie = struct.unpack(">IQ", self.recv(12))
            data = self.recv(read_length) if error == 0 and read_length else b""
            return {"kind": "simple", "cookie": cookie, "error": error, "data": data}
        if magic == STRUCTURED_MAGIC:
            flags, rtype, cookie, length = struct.unpack(">HHQI", self.recv(16))
            payload = self.recv(length)
            error = 0
            if rtype & 2**15:
                error, = struct.unpack(">I", payload[:4])
            return {"kind": "chunk", "cookie": cookie, "error": error, "flags": flags,
                    "type": rtype, "payload": payload}
        raise AssertionError("bad reply magic %x" % magic)

    def result(self, read_length=0):
        """All chunks of one reply: (cookie, error, data)."""
        data = b""
        error = 0
        while True:
            r = self.reply(read_length)
            error = error or r["error"]
            if r["kind"] == "simple":
                return r["cookie"], r["error"], r["data"]
            if r["type"] == REPLY_TYPE_OFFSET_DATA:
                data += r["payload"][8:]
            if r["flags"] & 1:
                return r["cookie"], error, data


def connect_when_room(port, seconds=10, **kwargs):
    """A session ready for requests, once the server has room for it: after
    a client leaves, the server takes a moment to notice."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return Raw(port, **kwargs).connect()
        except (Closed, ConnectionResetError, AssertionError):
            if time.monotonic() > deadline:
                raise SystemExit("no room for a new session in %d s" % seconds)
            time.sleep(0.01)
