// SPDX-License-Identifier: GPL-2.0
/*
 * Reading requests: decode the header, check every field against the
 * export and what was negotiated, and read a WRITE's payload.
 */
#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>

#include "buffer.h"
#include "conn.h"
#include "log.h"
#include "nbd-proto.h"
#include "transmission.h"

const char *cmd_name(uint16_t type)
{
	static const char *const names[] = {
		"READ", "WRITE", "DISC", "FLUSH", "TRIM", "CACHE", "WRITE_ZEROES", "BLOCK_STATUS",
	};

	return type < sizeof(names) / sizeof(names[0]) ? names[type] : "unknown";
}

uint32_t request_check(const struct request_ctx *ctx, const struct request *r,
		       const char **why)
{
	uint16_t allowed = 0;
	bool writes = false, ranged = true;

	switch (r->type) {
	case NBD_CMD_READ:
		if (ctx->tflags & NBD_FLAG_SEND_DF)
			allowed |= NBD_CMD_FLAG_DF;
		break;
	case NBD_CMD_WRITE:
		writes = true;
		break;
	case NBD_CMD_DISC:
	case NBD_CMD_FLUSH:
		ranged = false;
		break;
	case NBD_CMD_TRIM:
		writes = true;
		break;
	case NBD_CMD_CACHE:
		break;
	case NBD_CMD_WRITE_ZEROES:
		writes = true;
		allowed |= NBD_CMD_FLAG_NO_HOLE;
		if (ctx->tflags & NBD_FLAG_SEND_FAST_ZERO)
			allowed |= NBD_CMD_FLAG_FAST_ZERO;
		break;
	case NBD_CMD_BLOCK_STATUS:
		allowed |= NBD_CMD_FLAG_REQ_ONE;
		if (r->length == 0) {
			*why = "block status of an empty range";
			return NBD_EINVAL;
		}
		break;
	default:
		*why = "unknown command";
		return NBD_EINVAL;
	}
	if (ctx->tflags & NBD_FLAG_SEND_FUA)	/* valid on every command */
		allowed |= NBD_CMD_FLAG_FUA;
	if (r->flags & ~allowed) {
		*why = "command flags not valid for this command";
		return NBD_EINVAL;
	}
	if (writes && (ctx->tflags & NBD_FLAG_READ_ONLY)) {
		*why = "the export is read-only";
		return NBD_EPERM;
	}
	if (r->type == NBD_CMD_TRIM && !(ctx->tflags & NBD_FLAG_SEND_TRIM)) {
		*why = "trim not supported on this export";
		return NBD_EINVAL;
	}
	if (r->type == NBD_CMD_BLOCK_STATUS && !ctx->meta_alloc) {
		*why = "no metadata context was selected";
		return NBD_EINVAL;
	}
	if (!ranged) {
		if (r->type == NBD_CMD_FLUSH && (r->offset || r->length)) {
			*why = "flush offset and length must be zero";
			return NBD_EINVAL;
		}
		return 0;
	}
	if ((r->type == NBD_CMD_READ || r->type == NBD_CMD_WRITE) &&
	    r->length > NBD_MAX_PAYLOAD) {
		*why = "request larger than the maximum payload";
		return ctx->structured && r->type == NBD_CMD_READ ? NBD_EOVERFLOW : NBD_EINVAL;
	}
	if (r->offset > ctx->size || r->length > ctx->size - r->offset) {
		*why = "request beyond the end of the export";
		return r->type == NBD_CMD_WRITE || r->type == NBD_CMD_WRITE_ZEROES ?
			NBD_ENOSPC : NBD_EINVAL;
	}
	return 0;
}

/* Whether @len bytes are in hand already: buffered, or queued in the socket.
 * Through TLS the socket holds ciphertext and OpenSSL buffers some of it,
 * so neither count tells: take the payload as come, which costs at most a
 * read that ends at the end of the stream the client already closed. */
static bool received(struct conn *c, uint32_t len)
{
	size_t have = c->in_len - c->in_pos;
	int queued;

	return c->tls || have >= len ||
	       (ioctl(c->rfd, FIONREAD, &queued) == 0 && queued > 0 && have + (size_t)queued >= len);
}

/*
 * Read the next request (and a WRITE's payload into @buf), holding @rlock.
 * Returns 0 with @r filled in (r->error set if it must fail), or -1 when no
 * more requests are to be read (the connection's end is set then).
 * @draining: the client half-closed the connection, so a payload is
 * either all in the socket already or never comes, and its buffer is taken
 * without waiting for the memory budget (buffer_reserve_received).
 */
int read_request(struct conn *c, struct request *r, struct buffer *buf, bool draining)
{
	struct request_ctx ctx = {
		.tflags = c->tflags, .size = c->exp->backend->size,
		.structured = c->structured, .meta_alloc = c->meta_alloc,
	};
	struct nbd_request h;

	if (conn_read(c, &h, sizeof(h)) < 0) {
		if (errno == ECONNRESET)
			log_debug("%s: end of stream", c->peer);
		else
			log_info("%s: read failed: %s", c->peer, strerror(errno));
		goto dropped;
	}
	if (be32toh(h.magic) != NBD_REQUEST_MAGIC) {
		log_warn("%s: bad request magic 0x%08x, hanging up", c->peer, be32toh(h.magic));
		goto dropped;
	}
	r->flags = be16toh(h.flags);
	r->type = be16toh(h.type);
	r->cookie = be64toh(h.cookie);
	r->offset = be64toh(h.offset);
	r->length = be32toh(h.length);
	r->why = NULL;
	r->error = request_check(&ctx, r, &r->why);

	if (r->type == NBD_CMD_WRITE) {
		/* The payload follows whatever we think of the request. */
		if (r->length > NBD_MAX_PAYLOAD || r->error) {
			if (conn_skip(c, r->length) < 0)
				goto dropped;
		} else if (draining && !received(c, r->length)) {
			log_info("%s: the stream ends in a write payload", c->peer);
			goto dropped;
		} else if ((draining ? buffer_reserve_received(buf, r->length)
				     : buffer_reserve(buf, r->length)) < 0) {
			if (conn_skip(c, r->length) < 0)
				goto dropped;
			r->error = NBD_ENOMEM;
			r->why = "out of memory";
		} else if (conn_read(c, buf->p, r->length) < 0) {
			log_info("%s: connection lost in a write payload: %s", c->peer,
				 strerror(errno));
			goto dropped;
		}
	}
	if (r->type == NBD_CMD_DISC) {
		log_info("%s: NBD_CMD_DISC: finishing, then disconnecting", c->peer);
		conn_end(c, CONN_DISC);
		return -1;
	}
	return 0;
dropped:
	conn_end(c, CONN_DROPPED);
	return -1;
}
