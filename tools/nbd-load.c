// SPDX-License-Identifier: GPL-2.0
/*
 * nbd-load: sequential NBD writes or reads on one connection, N requests in
 * flight, through the handshake and TLS record path enbd-client uses
 * (daemon/client/handshake.c, lib/tls.c, lib/tls-record.c) but with no
 * kernel behind it, so it runs on any host: a client that does not hide
 * what the server costs (tools/bench-tls -c enbd).  It speaks standard NBD
 * with simple replies, so it drives nbdkit as well.
 *
 * One thread, one poll() loop.  Write payloads are prepared once: every
 * 512-byte sector holds the same pseudo-random bytes after its first eight,
 * which are its offset on the export, written in as the request is queued
 * (TLS does not compress, so repeating bytes cost it as much as any);
 * --verify checks the sectors read against that, whatever request size
 * wrote them.
 */
#include <endian.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "handshake.h"
#include "log.h"
#include "nbd-proto.h"
#include "sock.h"
#include "tls.h"

#define DEFAULT_PORT "10809"
#define CONNECT_MS 10000
#define HANDSHAKE_MS 10000
#define STALL_MS 30000		/* no byte either way this long: give up */
#define MAX_IN_FLIGHT 1024
#define SECTOR 512
#define RXBUF (64u << 10)
#define RX_DIRECT_MIN (16u << 10)	/* payload left: read it in place */

struct load {
	int fd;
	struct tls_conn *tls;
	bool writing, verify;
	uint32_t req_size;
	uint64_t span;		/* bytes of the export used, a multiple of req_size */
	uint64_t total;		/* requests to make */
	unsigned int depth;	/* requests in flight */
	uint64_t issued, answered;

	/* send side: depth slots of [request header | write payload] */
	uint8_t *txbuf;
	size_t slot_len;
	size_t tx_off, tx_end;	/* what is being sent */
	bool tx_wants_in;	/* TLS must read before it can write */
	uint8_t sector[SECTOR];	/* every sector written, before its offset */

	/* receive side */
	uint8_t rxbuf[RXBUF];
	size_t rx_pos, rx_end;
	uint8_t *sink;		/* one read payload */
	size_t rx_left;		/* of the payload being read into sink */
	uint64_t rx_cookie;
	bool rx_wants_out;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: nbd-load [-p PORT] [-e EXPORT] [-s MiB] [-r BYTES] [-n N] [--verify]\n"
		"                [TLS options] [-v] [-q] HOST write|read\n"
		"\n"
		"Write or read MiB (default 1024) sequentially through export EXPORT of the NBD\n"
		"server HOST (port PORT, default " DEFAULT_PORT ") in requests of BYTES (K, M: KiB,\n"
		"MiB; default 1M, a multiple of 512) with N of them in flight (default 8) on one\n"
		"connection, wrapping around at the export's end; then print the bytes, the\n"
		"seconds, MiB/s and the CPU seconds this process spent moving them.\n"
		"\n"
		"      --verify          read: check the data is what nbd-load writes\n"
		"      --tls off|on|require  TLS (NBD_OPT_STARTTLS), as enbd-client\n"
		"      --tls-certificates DIR  X.509: DIR/ca-cert.pem, optional client-cert.pem\n"
		"                        and client-key.pem\n"
		"      --tls-hostname NAME  the name the server's certificate must carry\n"
		"                        (default: HOST)\n"
		"      --tls-psk FILE    PSK: lines of identity:hexkey\n"
		"      --tls-username ID  the PSK identity to use (default: the file's first)\n"
		"  -v, --verbose         more messages; -q, --quiet: fewer\n"
		"\n"
		"Exit status: 0 done, 1 error, 2 usage.\n");
}

/* A positive decimal number with an optional K or M suffix, at most @max. */
static uint64_t parse_size(const char *s, uint64_t max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-')
		return 0;
	if (*end == 'K' || *end == 'k')
		v <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		v <<= 20, end++;
	return *end || v > max ? 0 : v;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu_s(double *user, double *sys)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	*user = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
	*sys = (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	return *user + *sys;
}

static uint64_t request_offset(const struct load *l, uint64_t cookie)
{
	return cookie * l->req_size % l->span;
}

/* A sector of pseudo-random bytes that do not depend on the run (xorshift64). */
static void make_sector(uint8_t *p)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	unsigned int i;

	for (i = 0; i < SECTOR; i += sizeof(x)) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(p + i, &x, sizeof(x));
	}
}

/* The offset on the export at the start of each sector of @payload. */
static void stamp_offsets(uint8_t *payload, uint32_t len, uint64_t offset)
{
	uint32_t i;

	for (i = 0; i < len; i += SECTOR) {
		uint64_t be = htobe64(offset + i);

		memcpy(payload + i, &be, sizeof(be));
	}
}

/* Whether a read payload is what nbd-load writes at @offset. */
static bool payload_matches(const struct load *l, const uint8_t *p, uint64_t offset)
{
	uint32_t i;

	for (i = 0; i < l->req_size; i += SECTOR) {
		uint64_t be = htobe64(offset + i);

		if (memcmp(p + i, &be, sizeof(be)) ||
		    memcmp(p + i + sizeof(be), l->sector + sizeof(be), SECTOR - sizeof(be)))
			return false;
	}
	return true;
}

/*
 * When the send buffer is empty, queue as many requests as the window and
 * the buffer's end allow, in consecutive slots (one send for them all).
 */
static void tx_fill(struct load *l)
{
	unsigned int slot = (unsigned int)(l->issued % l->depth), k;
	uint64_t room = l->depth - (l->issued - l->answered);

	if (l->tx_off < l->tx_end || l->issued == l->total)
		return;
	if (room > l->total - l->issued)
		room = l->total - l->issued;
	if (room > l->depth - slot)
		room = l->depth - slot;
	for (k = 0; k < room; k++) {
		uint8_t *s = l->txbuf + (size_t)(slot + k) * l->slot_len;
		uint64_t cookie = l->issued + k;
		struct nbd_request r = {
			.magic = htobe32(NBD_REQUEST_MAGIC),
			.type = htobe16(l->writing ? NBD_CMD_WRITE : NBD_CMD_READ),
			.cookie = htobe64(cookie),
			.offset = htobe64(request_offset(l, cookie)),
			.length = htobe32(l->req_size),
		};

		memcpy(s, &r, sizeof(r));
		if (l->writing)
			stamp_offsets(s + sizeof(r), l->req_size, request_offset(l, cookie));
	}
	l->issued += room;
	l->tx_off = (size_t)slot * l->slot_len;
	l->tx_end = l->tx_off + (size_t)room * l->slot_len;
}

/* send() or, through TLS, records' worth: the count or -1 with errno. */
static ssize_t tx_send(struct load *l, const void *buf, size_t len)
{
	bool want_out = false;
	ssize_t n;

	if (!l->tls)
		return send(l->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
	n = tls_send_nb(l->tls, buf, len, &want_out);
	l->tx_wants_in = n < 0 && errno == EAGAIN && !want_out;
	return n;
}

/* Send what the socket takes: 1 if anything went, 0 if nothing, -1 broken. */
static int tx_run(struct load *l)
{
	int moved = 0;

	for (;;) {
		ssize_t n;

		tx_fill(l);
		if (l->tx_off == l->tx_end)
			return moved;
		n = tx_send(l, l->txbuf + l->tx_off, l->tx_end - l->tx_off);
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return moved;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_err("sending to the server: %s", strerror(errno));
			return -1;
		}
		l->tx_off += (size_t)n;
		moved = 1;
	}
}

static int reply_done(struct load *l, uint64_t cookie)
{
	if (l->verify && !l->writing && !payload_matches(l, l->sink, request_offset(l, cookie))) {
		log_err("data read at offset %" PRIu64 " is not what nbd-load writes there",
			request_offset(l, cookie));
		return -1;
	}
	l->answered++;
	return 0;
}

/* Parse the replies in the receive buffer.  0, or -1: give up. */
static int rx_parse(struct load *l)
{
	for (;;) {
		size_t avail = l->rx_end - l->rx_pos;
		struct nbd_simple_reply r;
		uint64_t cookie;

		if (l->rx_left) {
			size_t take = avail < l->rx_left ? avail : l->rx_left;

			memcpy(l->sink + l->req_size - l->rx_left, l->rxbuf + l->rx_pos, take);
			l->rx_pos += take;
			l->rx_left -= take;
			if (l->rx_left)
				return 0;
			if (reply_done(l, l->rx_cookie) < 0)
				return -1;
			continue;
		}
		if (avail < sizeof(r))
			return 0;
		memcpy(&r, l->rxbuf + l->rx_pos, sizeof(r));
		l->rx_pos += sizeof(r);
		cookie = be64toh(r.cookie);
		if (be32toh(r.magic) != NBD_SIMPLE_REPLY_MAGIC) {
			log_err("reply magic 0x%08x is not a simple reply's", be32toh(r.magic));
			return -1;
		}
		if (cookie >= l->issued) {
			log_err("reply to cookie %" PRIu64 ", which was never sent", cookie);
			return -1;
		}
		if (r.error) {
			log_err("the server failed the %s at offset %" PRIu64 ": NBD error %u",
				l->writing ? "write" : "read", request_offset(l, cookie),
				be32toh(r.error));
			return -1;
		}
		if (l->writing) {
			if (reply_done(l, cookie) < 0)
				return -1;
			continue;
		}
		l->rx_cookie = cookie;
		l->rx_left = l->req_size;
	}
}

/* recv() or, through TLS, what the records hold: the count, 0 at the end,
 * or -1 with errno. */
static ssize_t rx_recv(struct load *l, void *buf, size_t len)
{
	bool want_out = false;
	ssize_t n;

	if (!l->tls)
		return recv(l->fd, buf, len, MSG_DONTWAIT);
	n = tls_recv_nb(l->tls, buf, len, &want_out);
	l->rx_wants_out = n < 0 && errno == EAGAIN && want_out;
	return n;
}

/* Read what the socket has: 1 if anything came, 0 if nothing, -1 broken. */
static int rx_run(struct load *l)
{
	int moved = 0;

	for (;;) {
		ssize_t n;

		if (l->rx_left >= RX_DIRECT_MIN && l->rx_pos == l->rx_end) {
			/* The rest of a large payload: straight into the sink. */
			n = rx_recv(l, l->sink + l->req_size - l->rx_left, l->rx_left);
			if (n > 0) {
				l->rx_left -= (size_t)n;
				moved = 1;
				if (l->rx_left == 0 && reply_done(l, l->rx_cookie) < 0)
					return -1;
				continue;
			}
		} else {
			if (l->rx_pos == l->rx_end) {
				l->rx_pos = l->rx_end = 0;
			} else if (RXBUF - l->rx_end < 4096) {
				memmove(l->rxbuf, l->rxbuf + l->rx_pos, l->rx_end - l->rx_pos);
				l->rx_end -= l->rx_pos;
				l->rx_pos = 0;
			}
			n = rx_recv(l, l->rxbuf + l->rx_end, RXBUF - l->rx_end);
			if (n > 0) {
				l->rx_end += (size_t)n;
				moved = 1;
				if (rx_parse(l) < 0)
					return -1;
				continue;
			}
		}
		if (n == 0) {
			log_err("the server closed the connection with %" PRIu64
				" requests unanswered", l->issued - l->answered);
			return -1;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return moved;
		if (errno == EINTR)
			continue;
		log_err("receiving from the server: %s", strerror(errno));
		return -1;
	}
}

/* Wait until the socket can move what is pending.  0, or -1: stalled. */
static int wait_socket(struct load *l, bool sending)
{
	struct pollfd pfd = { .fd = l->fd, .events = POLLIN };
	int n;

	if (l->tls && tls_buffered(l->tls))
		return 0;
	if ((sending && !l->tx_wants_in) || l->rx_wants_out)
		pfd.events |= POLLOUT;
	do
		n = poll(&pfd, 1, STALL_MS);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		log_err("nothing moved for %d s: %" PRIu64 " of %" PRIu64 " requests answered",
			STALL_MS / 1000, l->answered, l->total);
		return -1;
	}
	return 0;
}

/* All the requests, answered.  0, or -1 (logged). */
static int run(struct load *l)
{
	while (l->answered < l->total) {
		int tx = tx_run(l), rx;

		if (tx < 0)
			return -1;
		rx = rx_run(l);
		if (rx < 0)
			return -1;
		if (!tx && !rx && wait_socket(l, l->tx_off < l->tx_end) < 0)
			return -1;
	}
	return 0;
}

/*
 * NBD_CMD_DISC, close_notify and an orderly close when the stream is
 * between requests (@polite); otherwise a reset.
 */
static void disconnect(struct load *l, bool polite)
{
	struct nbd_request r = {
		.magic = htobe32(NBD_REQUEST_MAGIC),
		.type = htobe16(NBD_CMD_DISC),
		.cookie = htobe64(l->total),
	};
	size_t off = 0;

	if (!polite) {
		tls_close(l->tls);
		close(l->fd);
		return;
	}
	while (off < sizeof(r)) {
		ssize_t n = tx_send(l, (uint8_t *)&r + off, sizeof(r) - off);

		if (n > 0)
			off += (size_t)n;
		else if (n < 0 && (errno == EAGAIN || errno == EINTR))
			poll(&(struct pollfd){ .fd = l->fd, .events = POLLOUT | POLLIN }, 1, 1000);
		else
			break;
	}
	tls_close(l->tls);
	sock_set_abortive(l->fd, 0);
	close(l->fd);
}

enum {
	OPT_VERIFY = 256,
	OPT_TLS,
	OPT_TLS_CERTIFICATES,
	OPT_TLS_HOSTNAME,
	OPT_TLS_PSK,
	OPT_TLS_USERNAME,
};

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "export", required_argument, NULL, 'e' },
		{ "size", required_argument, NULL, 's' },
		{ "request-size", required_argument, NULL, 'r' },
		{ "requests", required_argument, NULL, 'n' },
		{ "verify", no_argument, NULL, OPT_VERIFY },
		{ "tls", required_argument, NULL, OPT_TLS },
		{ "tls-certificates", required_argument, NULL, OPT_TLS_CERTIFICATES },
		{ "tls-hostname", required_argument, NULL, OPT_TLS_HOSTNAME },
		{ "tls-psk", required_argument, NULL, OPT_TLS_PSK },
		{ "tls-username", required_argument, NULL, OPT_TLS_USERNAME },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *port = DEFAULT_PORT, *export = "", *hostname = NULL;
	uint64_t size_mib = 1024, bytes;
	struct tls_config cfg = { 0 };
	struct hs_tls hs = { .mode = TLS_OFF };
	struct nbd_export ex;
	struct load *l;
	double t0, t1, c0, c1, u0, u1, s0, s1;
	char why[512];
	int opt, verbosity = 0, mode, rc = 1;

	l = calloc(1, sizeof(*l));
	if (!l) {
		fprintf(stderr, "nbd-load: out of memory\n");
		return 1;
	}
	l->req_size = 1u << 20;
	l->depth = 8;
	while ((opt = getopt_long(argc, argv, "p:e:s:r:n:vqh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'p': port = optarg; break;
		case 'e': export = optarg; break;
		case 's':
			size_mib = parse_size(optarg, 1u << 30);
			if (!size_mib)
				goto bad_usage;
			break;
		case 'r':
			l->req_size = (uint32_t)parse_size(optarg, NBD_MAX_PAYLOAD);
			if (!l->req_size || l->req_size % SECTOR)
				goto bad_usage;
			break;
		case 'n':
			l->depth = (unsigned int)parse_size(optarg, MAX_IN_FLIGHT);
			if (!l->depth)
				goto bad_usage;
			break;
		case OPT_VERIFY: l->verify = true; break;
		case OPT_TLS:
			mode = tls_mode_parse(optarg);
			if (mode < 0)
				goto bad_usage;
			hs.mode = (enum tls_mode)mode;
			break;
		case OPT_TLS_CERTIFICATES: cfg.certs_dir = optarg; break;
		case OPT_TLS_HOSTNAME: hostname = optarg; break;
		case OPT_TLS_PSK: cfg.psk_file = optarg; break;
		case OPT_TLS_USERNAME: cfg.psk_identity = optarg; break;
		case 'v': verbosity++; break;
		case 'q': verbosity--; break;
		case 'h': usage(stdout); free(l); return 0;
		default: goto bad_usage;
		}
	}
	if (argc - optind != 2 || (strcmp(argv[optind + 1], "write") &&
				   strcmp(argv[optind + 1], "read")))
		goto bad_usage;
	l->writing = !strcmp(argv[optind + 1], "write");
	bytes = size_mib << 20;
	if (bytes % l->req_size) {
		fprintf(stderr, "nbd-load: -s must be a whole number of requests (-r)\n");
		goto usage_error;
	}
	l->total = bytes / l->req_size;
	if (hs.mode == TLS_OFF ? cfg.certs_dir || cfg.psk_file || hostname || cfg.psk_identity :
				 !cfg.certs_dir == !cfg.psk_file) {
		fprintf(stderr, "nbd-load: --tls on or require goes with one of --tls-certificates "
			"and --tls-psk, and the other TLS options with them\n");
		goto usage_error;
	}
	log_init("nbd-load", verbosity);

	if (hs.mode != TLS_OFF) {
		hs.ctx = tls_client_ctx_new(&cfg, why, sizeof(why));
		if (!hs.ctx) {
			log_err("TLS: %s", why);
			goto out;
		}
		hs.hostname = hostname ? hostname : argv[optind];
	}
	l->fd = sock_connect(argv[optind], port, NULL, CONNECT_MS, -1, why, sizeof(why));
	if (l->fd < 0) {
		log_err("%s", why);
		goto out;
	}
	if (nbd_handshake(l->fd, export, &ex, -1, HANDSHAKE_MS, &hs, why, sizeof(why))) {
		log_err("%s", why);
		close(l->fd);
		goto out;
	}
	l->tls = hs.conn;
	if (l->writing && (ex.tflags & NBD_FLAG_READ_ONLY)) {
		log_err("the export is read-only");
		goto disconnect;
	}
	if (ex.max_payload && l->req_size > ex.max_payload) {
		log_err("-r %u is more than the server's largest request, %u", l->req_size,
			ex.max_payload);
		goto disconnect;
	}
	l->span = ex.size - ex.size % l->req_size;
	if (!l->span) {
		log_err("the export (%" PRIu64 " bytes) is smaller than one request", ex.size);
		goto disconnect;
	}
	l->slot_len = sizeof(struct nbd_request) + (l->writing ? l->req_size : 0);
	l->txbuf = malloc(l->slot_len * l->depth);
	l->sink = malloc(l->req_size);
	if (!l->txbuf || !l->sink || sock_set_nonblocking(l->fd, 1) < 0) {
		log_err("out of memory");
		goto disconnect;
	}
	make_sector(l->sector);
	if (l->writing) {
		size_t i;

		for (i = 0; i < (size_t)l->depth * l->req_size; i += SECTOR)
			memcpy(l->txbuf + i / l->req_size * l->slot_len + sizeof(struct nbd_request) +
			       i % l->req_size, l->sector, SECTOR);
	}

	t0 = now_s();
	c0 = cpu_s(&u0, &s0);
	if (run(l) < 0) {
		disconnect(l, false);
		goto out;
	}
	t1 = now_s();
	c1 = cpu_s(&u1, &s1);
	printf("%s %" PRIu64 " bytes in %.3f s: %.1f MiB/s, CPU %.2f s (user %.2f, system %.2f)\n",
	       l->writing ? "wrote" : "read", bytes, t1 - t0, (double)size_mib / (t1 - t0),
	       c1 - c0, u1 - u0, s1 - s0);
	rc = 0;
disconnect:
	disconnect(l, true);
out:
	tls_ctx_free(hs.ctx);
	free(l->txbuf);
	free(l->sink);
	free(l);
	return rc;
bad_usage:
	usage(stderr);
usage_error:
	free(l);
	return 2;
}
