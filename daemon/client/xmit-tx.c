// SPDX-License-Identifier: GPL-2.0
/*
 * Requests out: the send queue of a channel in transmission (xmit.c), a
 * fetched request checked against what the server accepts, cut into parts
 * of at most the server's maximum payload, and written with non-blocking
 * sendmsg() in bounded batches.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "log.h"
#include "nbd-proto.h"
#include "xmit.h"

#define TX_IOV		64		/* iovecs per sendmsg */
#define TX_BATCH	(1u << 20)	/* bytes per sendmsg */
#define TX_TLS_RECORD	(16u << 10)	/* the most one TLS record carries */
#define SENDQ_LEN	(CHAN_SLOTS + 1)	/* every slot and the probe */

static uint64_t mk_cookie(unsigned int idx, unsigned int part, uint32_t gen)
{
	return (uint64_t)gen << 32 | (uint64_t)part << 16 | idx;
}

uint32_t part_len(const struct channel *c, const struct slot *s, unsigned int p)
{
	uint32_t off = p * c->part_size;

	if (s->nparts == 1)
		return s->req.length;
	return s->req.length - off < c->part_size ? s->req.length - off : c->part_size;
}

/* Bytes of part @p on the wire: header, plus the payload of a WRITE. */
static uint32_t part_wire_len(const struct channel *c, const struct slot *s, unsigned int p)
{
	return sizeof(struct nbd_request) +
	       (s->req.type == ENBD_CMD_WRITE ? part_len(c, s, p) : 0);
}

static void part_header(const struct channel *c, const struct slot *s, unsigned int p,
			struct nbd_request *h)
{
	uint16_t flags = 0;

	if (s->req.flags & ENBD_CMD_FLAG_FUA)
		flags |= NBD_CMD_FLAG_FUA;
	if (s->req.flags & ENBD_CMD_FLAG_NO_HOLE)
		flags |= NBD_CMD_FLAG_NO_HOLE;
	h->magic = htobe32(NBD_REQUEST_MAGIC);
	h->flags = htobe16(flags);
	h->type = htobe16(s->req.type);	/* ENBD_CMD_* == NBD_CMD_* */
	h->cookie = htobe64(mk_cookie((unsigned int)(s - c->slots), p, s->gen));
	h->offset = htobe64(s->req.offset + (uint64_t)p * c->part_size);
	h->length = htobe32(part_len(c, s, p));
	if (s->req.type == ENBD_CMD_FLUSH) {
		/* NBD wants 0 and 0 (nbdkit refuses anything else). */
		h->offset = 0;
		h->length = 0;
	}
}

/*
 * Check a fetched request against what the server accepts.  Returns 0, or
 * the negative errno to complete it with at once.
 */
int check_request(struct channel *c, struct slot *s)
{
	const struct enbd_request *r = &s->req;
	uint16_t tf = c->ex.tflags;
	uint32_t min = c->ex.min_block ? c->ex.min_block : 1;

	if (r->flags & ~(ENBD_CMD_FLAG_FUA | ENBD_CMD_FLAG_NO_HOLE))
		return -EINVAL;
	if ((r->flags & ENBD_CMD_FLAG_FUA) && !(tf & NBD_FLAG_SEND_FUA))
		return -EOPNOTSUPP;
	if ((r->flags & ENBD_CMD_FLAG_NO_HOLE) && r->type != ENBD_CMD_WRITE_ZEROES)
		return -EINVAL;
	switch (r->type) {
	case ENBD_CMD_READ:
	case ENBD_CMD_WRITE:
		if (r->length == 0 || r->length > ENBD_MAX_IO_BYTES)
			return -EINVAL;
		break;
	case ENBD_CMD_FLUSH:
		return (tf & NBD_FLAG_SEND_FLUSH) ? 0 : -EOPNOTSUPP;
	case ENBD_CMD_TRIM:
		if (!(tf & NBD_FLAG_SEND_TRIM))
			return -EOPNOTSUPP;
		break;
	case ENBD_CMD_WRITE_ZEROES:
		if (!(tf & NBD_FLAG_SEND_WRITE_ZEROES))
			return -EOPNOTSUPP;
		break;
	default:
		return -EOPNOTSUPP;
	}
	if (r->type != ENBD_CMD_READ && (tf & NBD_FLAG_READ_ONLY))
		return -EPERM;
	if (r->offset > c->ex.size || r->length > c->ex.size - r->offset)
		return -EINVAL;
	if ((r->offset | r->length) & (min - 1))
		return -EINVAL;
	if (r->type == ENBD_CMD_READ || r->type == ENBD_CMD_WRITE)
		s->nparts = (r->length + c->part_size - 1) / c->part_size;
	return 0;
}

void sendq_push(struct channel *c, struct slot *s)
{
	c->sendq[(c->sq_head + c->sq_len) % SENDQ_LEN] = (unsigned int)(s - c->slots);
	c->sq_len++;
	s->queued = true;
}

struct slot *sendq_at(struct channel *c, unsigned int i)
{
	return &c->slots[c->sendq[(c->sq_head + i) % SENDQ_LEN]];
}

static void sendq_pop(struct channel *c)
{
	sendq_at(c, 0)->queued = false;
	c->sq_head = (c->sq_head + 1) % SENDQ_LEN;
	c->sq_len--;
}

/* Account @n bytes written to the socket. */
static void tx_advance(struct channel *c, size_t n)
{
	while (n && c->sq_len) {
		struct slot *s = sendq_at(c, 0);
		uint32_t left = part_wire_len(c, s, s->parts_sent) - c->send_off;

		if (n < left) {
			c->send_off += n;
			return;
		}
		n -= left;
		c->send_off = 0;
		if (s->req.type == ENBD_CMD_WRITE)
			c->st.bytes_written += part_len(c, s, s->parts_sent);
		if (++s->parts_sent == s->nparts)
			sendq_pop(c);
	}
	c->disc_off += n;
}

/*
 * One sendmsg's worth of output.  Every append is bounded: a part may be cut
 * anywhere (the socket may take any prefix anyway), so a full batch simply
 * ends where it is.  A header is built only where an iovec points at it.
 */
struct tx_batch {
	struct iovec iov[TX_IOV];
	struct nbd_request hdr[TX_IOV];
	unsigned int niov, nhdr;
	size_t bytes;
};

static bool batch_full(const struct tx_batch *b)
{
	return b->niov == TX_IOV || b->bytes >= TX_BATCH;
}

/* Append @len bytes at @base.  false: the batch is full, nothing appended. */
static bool batch_add(struct tx_batch *b, void *base, size_t len)
{
	if (batch_full(b))
		return false;
	b->iov[b->niov].iov_base = base;
	b->iov[b->niov++].iov_len = len;
	b->bytes += len;
	return true;
}

/* Append what is left of part @p of @s, @skip bytes of it already sent. */
static bool batch_add_part(struct tx_batch *b, const struct channel *c, const struct slot *s,
			   unsigned int p, uint32_t skip)
{
	uint32_t hlen = sizeof(struct nbd_request);
	uint32_t dlen = part_wire_len(c, s, p) - hlen;

	if (skip < hlen) {
		struct nbd_request *h = &b->hdr[b->nhdr];

		if (batch_full(b))
			return false;
		part_header(c, s, p, h);
		b->nhdr++;
		batch_add(b, (uint8_t *)h + skip, hlen - skip);
		skip = 0;
	} else {
		skip -= hlen;
	}
	return !dlen || batch_add(b, s->buf + (size_t)p * c->part_size + skip, dlen - skip);
}

/* Gather the pending output: the send queue, then any NBD_CMD_DISC. */
static void batch_fill(struct tx_batch *b, struct channel *c)
{
	uint32_t skip = c->send_off;
	unsigned int q, p;

	b->niov = b->nhdr = 0;
	b->bytes = 0;
	for (q = 0; q < c->sq_len; q++) {
		struct slot *s = sendq_at(c, q);

		for (p = s->parts_sent; p < s->nparts; p++) {
			if (!batch_add_part(b, c, s, p, skip))
				return;
			skip = 0;
		}
	}
	if (c->disc_off < c->disc_len)
		batch_add(b, c->disc + c->disc_off, c->disc_len - c->disc_off);
}

/*
 * The batch through TLS: small pieces (headers, short payloads) gathered
 * into one record, a large payload written from where it is.  A write that
 * must wait is repeated with the same leading bytes, as OpenSSL requires:
 * the batch is rebuilt from the same state, and the choice between the two
 * depends only on its first piece.
 */
static ssize_t send_tls(struct channel *c, const struct tx_batch *b)
{
	uint8_t stage[TX_TLS_RECORD];
	const void *buf = b->iov[0].iov_base;
	size_t len = b->iov[0].iov_len;
	bool want_out = false;
	unsigned int i;
	ssize_t n;

	if (len < sizeof(stage)) {
		for (i = 0, len = 0; i < b->niov && len < sizeof(stage); i++) {
			size_t take = b->iov[i].iov_len < sizeof(stage) - len ?
				      b->iov[i].iov_len : sizeof(stage) - len;

			memcpy(stage + len, b->iov[i].iov_base, take);
			len += take;
		}
		buf = stage;
	}
	n = tls_send_nb(c->tls, buf, len, &want_out);
	c->tx_committed = n < 0 && errno == EAGAIN ? (uint32_t)len : 0;
	c->tx_wants_in = n < 0 && errno == EAGAIN && !want_out;
	return n;
}

/*
 * Send queue entries with bytes already on their way: the head when partly
 * written, and those of a TLS write that must be finished.
 */
unsigned int sendq_committed(const struct channel *c)
{
	uint64_t left = (uint64_t)c->send_off + c->tx_committed;
	unsigned int q, p;

	if (c->sq_len && c->slots[c->sendq[c->sq_head]].parts_sent && !left)
		return 1;
	for (q = 0; q < c->sq_len && left; q++) {
		const struct slot *s = &c->slots[c->sendq[(c->sq_head + q) % SENDQ_LEN]];

		for (p = s->parts_sent; p < s->nparts && left; p++) {
			uint32_t len = part_wire_len(c, s, p);

			left = left > len ? left - len : 0;
		}
	}
	return q;
}

/* Write as much pending output as the socket takes.  0, or -1: broken. */
int xmit_tx(struct channel *c)
{
	struct tx_batch b;
	struct msghdr msg = { .msg_iov = b.iov };
	ssize_t n;

	for (;;) {
		batch_fill(&b, c);
		if (b.niov == 0)
			return 0;
		msg.msg_iovlen = b.niov;
		n = c->tls ? send_tls(c, &b) : sendmsg(c->sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EINTR)
				continue;
			log_warn("sending to the server: %s", strerror(errno));
			return want(c, XMIT_BROKEN);
		}
		tx_advance(c, (size_t)n);
	}
}

bool output_pending(const struct channel *c)
{
	return c->sq_len || c->disc_off < c->disc_len;
}
