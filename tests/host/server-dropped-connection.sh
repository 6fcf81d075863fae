#!/bin/sh
# timeout: 60
# Requests of a dropped connection that the server had received but not
# started are discarded, never carried out late (a client such as enbd
# resubmits them on another connection, where a stale copy must not
# overtake the newer write).  Deterministic: the server is stopped
# (SIGSTOP) while a client pipelines writes, trims and write-zeroes, so they
# all sit unread in the server's socket when the client
#   a) resets the connection (SO_LINGER 0): nothing lands;
#   b) half-closes it without NBD_CMD_DISC: nothing lands and no reply comes;
#   c) sends NBD_CMD_DISC and half-closes: everything lands and is answered;
# then the server continues (SIGCONT) and a second connection checks.
. "$(dirname "$0")/server-lib.sh"
start_server --memory 16M
py "$PORT" "$SERVER_PID" "$SERVER_LOG" <<'PY' || fail "dropped connections"
import fcntl, os, signal, socket, struct, sys, termios, time
from server_raw import *

port, pid, logf = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
KIB = 1024
check = Raw(port).connect(structured=False)

def wait(what, cond, secs=10):
    end = time.monotonic() + secs
    while not cond():
        assert time.monotonic() < end, "timed out waiting for " + what
        time.sleep(0.005)

def tcp_state(lport, rport):
    """State (hex string) of the socket lport->rport, or None."""
    for f in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(f) as fh:
            next(fh)
            for line in fh:
                col = line.split()
                if int(col[1].split(":")[1], 16) == lport and \
                   int(col[2].split(":")[1], 16) == rport:
                    return col[3]
    return None

def outq(s):
    """Bytes the client's kernel still holds (unsent or unacknowledged)."""
    return struct.unpack("i", fcntl.ioctl(s.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0]

def read(off, n):
    check.request(CMD_READ, off, n, cookie=off)
    cookie, err, data = check.result(n)
    assert cookie == off and err == 0, (cookie, err)
    return data

def stale_batch(base):
    """Requests for the region at @base (1 MiB): 12 writes of 2 KiB, one of
    40 KiB (read past the read-ahead buffer), a trim and a write-zeroes of
    the pre-filled second half.  Returns (bytes, number of requests)."""
    out = b""
    for i in range(12):
        out += struct.pack(">IHHQQI", REQUEST_MAGIC, 0, CMD_WRITE, i, base + i * 4 * KIB,
                           2 * KIB) + bytes([0x40 + i]) * (2 * KIB)
    out += struct.pack(">IHHQQI", REQUEST_MAGIC, 0, CMD_WRITE, 12, base + 64 * KIB,
                       40 * KIB) + b"\xee" * (40 * KIB)
    out += struct.pack(">IHHQQI", REQUEST_MAGIC, 0, CMD_TRIM, 13, base + 512 * KIB, 64 * KIB)
    out += struct.pack(">IHHQQI", REQUEST_MAGIC, 0, CMD_WRITE_ZEROES, 14,
                       base + 640 * KIB, 64 * KIB)
    return out, 15

FILL = b"\x5a" * (512 * KIB)

def prefill(base):
    check.request(CMD_WRITE, base + 512 * KIB, 512 * KIB, cookie=1, payload=FILL)
    assert check.result() == (1, 0, b"")

def landed(base):
    """What of the batch at @base is visible: a list of names."""
    seen = []
    for i in range(12):
        if read(base + i * 4 * KIB, 2 * KIB) != b"\0" * (2 * KIB):
            seen.append("write %d" % i)
    if read(base + 64 * KIB, 40 * KIB) != b"\0" * (40 * KIB):
        seen.append("40 KiB write")
    if read(base + 512 * KIB, 64 * KIB) != FILL[:64 * KIB]:
        seen.append("trim")
    if read(base + 640 * KIB, 64 * KIB) != FILL[:64 * KIB]:
        seen.append("write-zeroes")
    return seen

def stopped_send(base, extra=b""):
    """Connect, stop the server, pipeline the batch (+ extra) so that it is
    all in the server's socket.  Returns the connection and its local port."""
    r = Raw(port).connect(structured=False)
    lport = r.s.getsockname()[1]
    os.kill(pid, signal.SIGSTOP)
    data, n = stale_batch(base)
    r.send(data + extra)
    wait("the batch to reach the server", lambda: outq(r.s) == 0)
    return r, lport

def resume_and_wait_gone(lport):
    os.kill(pid, signal.SIGCONT)
    line = "127.0.0.1:%d: disconnected" % lport
    wait("the server to finish with the connection",
         lambda: line in open(logf).read())

try:
    # a) reset
    base = 1 << 20
    prefill(base)
    r, lport = stopped_send(base)
    r.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    r.close()
    wait("the reset to reach the server", lambda: tcp_state(port, lport) is None)
    resume_and_wait_gone(lport)
    seen = landed(base)
    assert not seen, "after a reset, requests read later were carried out: %s" % seen

    # b) half-close without NBD_CMD_DISC: a hard disconnect
    base = 3 << 20
    prefill(base)
    r, lport = stopped_send(base)
    r.s.shutdown(socket.SHUT_WR)
    wait("the FIN to reach the server", lambda: tcp_state(port, lport) == "08")  # CLOSE_WAIT
    resume_and_wait_gone(lport)
    assert r.s.recv(4096) == b"", "replies to a connection closed without NBD_CMD_DISC"
    r.close()
    seen = landed(base)
    assert not seen, "after a FIN without NBD_CMD_DISC, requests were carried out: %s" % seen

    # c) NBD_CMD_DISC, then half-close: a soft disconnect, everything is done
    base = 5 << 20
    prefill(base)
    disc = struct.pack(">IHHQQI", REQUEST_MAGIC, 0, CMD_DISC, 99, 0, 0)
    r, lport = stopped_send(base, disc)
    r.s.shutdown(socket.SHUT_WR)
    wait("the FIN to reach the server", lambda: tcp_state(port, lport) == "08")
    resume_and_wait_gone(lport)
    cookies = set()
    for _ in range(15):
        cookie, err, _ = r.result()
        assert err == 0, (cookie, err)
        cookies.add(cookie)
    assert cookies == set(range(15)), cookies
    assert r.closed_by_server()
    r.close()
    seen = landed(base)
    assert len(seen) == 15, "after NBD_CMD_DISC only these landed: %s" % seen
finally:
    os.kill(pid, signal.SIGCONT)
PY
[ "$(grep -c 'read but not started discarded' "$SERVER_LOG")" -eq 2 ] ||
	fail "expected two 'discarded' log lines: $(cat "$SERVER_LOG")"
grep -q 'NBD_CMD_DISC' "$SERVER_LOG" || fail "no NBD_CMD_DISC in the log"
stop_server
