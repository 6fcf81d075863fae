// SPDX-License-Identifier: GPL-2.0
/* Carrying out a checked request on the export's backend, one command each. */
#include <errno.h>
#include <endian.h>

#include "buffer.h"
#include "conn.h"
#include "log.h"
#include "migrate.h"
#include "nbd-proto.h"
#include "transmission.h"

/* Most descriptors in one block status reply (proto.md allows 2^20). */
#define MAX_EXTENTS	(64u << 10)

static int send_block_status(struct conn *c, const struct request *r, struct buffer *buf)
{
	struct backend *b = c->exp->backend;
	unsigned int max = r->flags & NBD_CMD_FLAG_REQ_ONE ? 1 : MAX_EXTENTS;
	struct nbd_block_descriptor *d;
	struct extents ex;
	uint32_t id = htobe32(META_ID_BASE_ALLOCATION);
	unsigned int i;
	int rc;

	extents_init(&ex, r->offset, r->length, max);
	rc = b->ops->extents(b, &ex);
	if (rc == 0 && ex.count == 0)
		rc = -EIO;
	if (rc == 0 && buffer_reserve(buf, ex.count * sizeof(*d)) < 0)
		rc = -ENOMEM;
	if (rc < 0) {
		extents_free(&ex);
		return send_backend_error(c, r, rc);
	}
	d = buf->p;
	for (i = 0; i < ex.count; i++) {
		/* runs are clipped to the request, so each fits in 32 bits */
		d[i].length = htobe32((uint32_t)ex.runs[i].length);
		d[i].status = htobe32(ex.runs[i].flags & (NBD_STATE_HOLE | NBD_STATE_ZERO));
	}
	rc = send_chunk(c, r, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_BLOCK_STATUS, &id, sizeof(id),
			d, ex.count * sizeof(*d));
	extents_free(&ex);
	return rc;
}

void do_request(struct conn *c, const struct request *r, struct buffer *buf)
{
	struct backend *b = c->exp->backend;
	bool fua = r->flags & NBD_CMD_FLAG_FUA;
	unsigned int zflags = 0;
	int rc = 0;

	if (log_enabled(LOG_LEVEL_DEBUG))
		log_debug("%s: %s flags 0x%x offset %llu length %u", c->peer, cmd_name(r->type),
			  r->flags, (unsigned long long)r->offset, r->length);
	if (r->error) {
		send_error(c, r, r->error, r->why);
		return;
	}
	if (!migrate_request_begin(r->type)) {
		send_error(c, r, NBD_ESHUTDOWN, "the export has migrated to another server");
		return;
	}
	switch (r->type) {
	case NBD_CMD_READ:
		if (r->length >= SPLICE_MIN && b->ops->read_source && c->splice) {
			int fd;
			uint64_t off;

			if (b->ops->read_source(b, r->offset, r->length, &fd, &off) == 0 &&
			    send_read_spliced(c, r, buf, fd, off) <= 0) {
				migrate_request_end(r->type, r->offset, r->length, 0);
				return;
			}
		}
		if (buffer_reserve(buf, r->length) < 0) {
			send_error(c, r, NBD_ENOMEM, "out of memory");
			return;
		}
		rc = r->length ? b->ops->pread(b, buf->p, r->length, r->offset) : 0;
		if (rc == 0)
			send_read(c, r, buf->p);
		break;
	case NBD_CMD_WRITE:
		rc = r->length ? b->ops->pwrite(b, buf->p, r->length, r->offset, fua) : 0;
		break;
	case NBD_CMD_FLUSH:
		rc = b->ops->flush(b);
		break;
	case NBD_CMD_TRIM:
		rc = r->length ? b->ops->trim(b, r->length, r->offset, fua) : 0;
		break;
	case NBD_CMD_WRITE_ZEROES:
		if (!(r->flags & NBD_CMD_FLAG_NO_HOLE))
			zflags |= ZERO_MAY_TRIM;
		if (r->flags & NBD_CMD_FLAG_FAST_ZERO)
			zflags |= ZERO_FAST;
		rc = r->length ? b->ops->zero(b, r->length, r->offset, zflags, fua) : 0;
		break;
	case NBD_CMD_CACHE:
		rc = r->length ? b->ops->cache(b, r->length, r->offset) : 0;
		break;
	case NBD_CMD_BLOCK_STATUS:
		send_block_status(c, r, buf);
		break;
	}
	migrate_request_end(r->type, r->offset, r->length, rc);
	if (r->type == NBD_CMD_BLOCK_STATUS)
		return;
	if (rc < 0)
		send_backend_error(c, r, rc);
	else if (r->type != NBD_CMD_READ)
		send_simple(c, r, 0, NULL, 0);
}

