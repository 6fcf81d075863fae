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
		n = sendmsg(c->sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
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
