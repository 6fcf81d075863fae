// SPDX-License-Identifier: GPL-2.0
/*
 * Replies in: a channel in transmission (xmit.c) reads what the socket has
 * and parses simple replies incrementally, each matched by its cookie to
 * exactly one outstanding part, or the connection is declared broken.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "nbd-proto.h"
#include "xmit.h"

#define RX_ROUNDS	8		/* reads per wakeup, to stay fair */
#define RX_DIRECT_MIN	4096		/* read payloads this big straight into the slot */

/* Part @p of @s was answered with NBD error @nbd_err. */
static int part_done(struct channel *c, struct slot *s, unsigned int p, uint32_t nbd_err)
{
	if (s == probe_slot(c))
		return probe_answered(c, nbd_err);
	s->answered[p / 64] |= 1ull << (p % 64);
	s->parts_done++;
	c->st.replies++;
	c->conn_replies++;
	if (nbd_err == NBD_ESHUTDOWN) {
		/* The server is going away: leave the request to the kernel. */
		if (!s->error)
			log_info("server is shutting down (NBD_ESHUTDOWN); reconnecting");
		s->error = -ESHUTDOWN;
		want(c, XMIT_RECONNECT);
	} else if (nbd_err && !s->error) {
		s->error = -nbd_error_to_errno(nbd_err);
	}
	if (s->parts_done < s->nparts)
		return 0;
	if (s->error == -ESHUTDOWN) {
		s->state = SLOT_HELD;
		c->held++;
		return 0;
	}
	if (s->req.type == ENBD_CMD_READ && !s->error)
		c->st.bytes_read += s->req.length;
	win_sample(c, s);
	xmit_done(c, s);
	return 0;
}

static int bad_reply(struct channel *c, const char *what, uint64_t cookie)
{
	log_warn("malformed reply from the server (%s, cookie 0x%016llx): dropping the connection",
		 what, (unsigned long long)cookie);
	return want(c, XMIT_BROKEN);
}

/* A reply header: find its part, prepare for its payload or finish it. */
static int reply_header(struct channel *c, const struct nbd_simple_reply *r)
{
	uint32_t magic = be32toh(r->magic), err = be32toh(r->error);
	uint64_t cookie = be64toh(r->cookie);
	unsigned int idx = cookie & 0xffff, p = (cookie >> 16) & 0xffff;
	struct slot *s;

	if (magic == NBD_STRUCTURED_REPLY_MAGIC)
		return bad_reply(c, "structured reply that was not negotiated", cookie);
	if (magic != NBD_SIMPLE_REPLY_MAGIC)
		return bad_reply(c, "bad magic", cookie);
	if (idx > CHAN_PROBE)
		return bad_reply(c, "unknown cookie", cookie);
	s = &c->slots[idx];
	if (s->state != SLOT_BUSY || s->gen != (uint32_t)(cookie >> 32) || p >= s->parts_sent)
		return bad_reply(c, "unknown cookie", cookie);
	if (s->answered[p / 64] & (1ull << (p % 64)))
		return bad_reply(c, "second reply", cookie);
	if (s->req.type == ENBD_CMD_READ && err == 0) {
		c->rx_slot = s;
		c->rx_part = p;
		c->rx_dst = s->buf + (size_t)p * c->part_size;
		c->rx_left = part_len(c, s, p);
		return 0;
	}
	return part_done(c, s, p, err);
}

static int rx_payload_done(struct channel *c)
{
	struct slot *s = c->rx_slot;

	c->rx_slot = NULL;
	return part_done(c, s, c->rx_part, 0);
}

/* Consume what is in the receive buffer. */
static int rx_parse(struct channel *c)
{
	for (;;) {
		uint32_t avail = c->rx_end - c->rx_pos;

		if (c->rx_slot) {
			uint32_t take = avail < c->rx_left ? avail : c->rx_left;

			memcpy(c->rx_dst, c->rxbuf + c->rx_pos, take);
			c->rx_dst += take;
			c->rx_left -= take;
			c->rx_pos += take;
			if (c->rx_left)
				return 0;
			if (rx_payload_done(c) < 0)
				return -1;
			continue;
		}
		if (avail < sizeof(struct nbd_simple_reply))
			return 0;
		{
			struct nbd_simple_reply r;

			memcpy(&r, c->rxbuf + c->rx_pos, sizeof(r));
			c->rx_pos += sizeof(r);
			if (reply_header(c, &r) < 0)
				return -1;
		}
	}
}

/* recv() or, through TLS, a record's worth. */
static ssize_t rx_recv(struct channel *c, void *buf, size_t len)
{
	bool want_out = false;
	ssize_t n;

	if (!c->tls)
		return recv(c->sock, buf, len, MSG_DONTWAIT);
	n = tls_recv_nb(c->tls, buf, len, &want_out);
	c->rx_wants_out = n < 0 && errno == EAGAIN && want_out;
	return n;
}

/*
 * Plaintext: a recv() that returned less than it asked for emptied the
 * socket, and poll() says when more comes; another recv() would only find
 * EAGAIN, a system call per reply at queue depth 1.  (Through TLS a read
 * returns at most a record: a short one says nothing of the socket.)
 */
static bool rx_emptied(const struct channel *c, ssize_t n, size_t asked)
{
	return !c->tls && (size_t)n < asked;
}

/* Read what the socket has.  0, or -1 with c->want set. */
static int rx_read(struct channel *c)
{
	int round;

	for (round = 0; round < RX_ROUNDS; round++) {
		size_t asked;
		ssize_t n;

		if (c->rx_slot && c->rx_pos == c->rx_end && c->rx_left >= RX_DIRECT_MIN) {
			/* A large payload: straight into the request's buffer. */
			asked = c->rx_left;
			n = rx_recv(c, c->rx_dst, asked);
			if (n > 0) {
				c->rx_dst += n;
				c->rx_left -= n;
				if (c->rx_left == 0 && rx_payload_done(c) < 0)
					return -1;
				if (rx_emptied(c, n, asked))
					return 0;
				continue;
			}
		} else {
			if (c->rx_pos == c->rx_end) {
				c->rx_pos = c->rx_end = 0;
			} else if (CHAN_RXBUF - c->rx_end < 4096) {
				memmove(c->rxbuf, c->rxbuf + c->rx_pos, c->rx_end - c->rx_pos);
				c->rx_end -= c->rx_pos;
				c->rx_pos = 0;
			}
			asked = CHAN_RXBUF - c->rx_end;
			n = rx_recv(c, c->rxbuf + c->rx_end, asked);
			if (n > 0) {
				c->rx_end += n;
				if (rx_parse(c) < 0)
					return -1;
				if (rx_emptied(c, n, asked))
					return 0;
				continue;
			}
		}
		if (n == 0) {
			if (xmit_in_flight(c) || c->rx_slot || c->rx_pos != c->rx_end)
				log_warn("server closed the connection with %u requests in flight",
					 xmit_in_flight(c));
			else
				log_info("server closed the connection");
			return want(c, XMIT_BROKEN);
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		if (errno == EINTR)
			continue;
		log_warn("receiving from the server: %s", strerror(errno));
		return want(c, XMIT_BROKEN);
	}
	return 0;
}

/*
 * Read what the socket has, then complete the requests it answered, together
 * and with the next fetch (xmit_pump).  0, or -1 with c->want set.
 */
int xmit_rx(struct channel *c)
{
	int rc = rx_read(c);

	/* Also after a break: what was answered before it counts. */
	if (c->ndone && xmit_pump(c) < 0)
		return -1;
	return rc;
}
