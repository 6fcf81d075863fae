// SPDX-License-Identifier: GPL-2.0
/*
 * Transmission phase: read requests, check every field, carry them out on
 * the export's backend and reply (simple or structured), many at once.
 * See conn.h for the threading.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "nbd-proto.h"
#include "sock.h"
#include "transmission.h"

/* Most descriptors in one block status reply (proto.md allows 2^20). */
#define MAX_EXTENTS	(64u << 10)

/* Reads at least this large are spliced from files, smaller ones copied. */
#define SPLICE_MIN	(64u << 10)
#define PIPE_SIZE	(1u << 20)

struct buffer {
	void *p;
	size_t cap;
	int pipe[2];		/* for splicing, when has_pipe */
	bool has_pipe;
	size_t pipe_size;
	struct buffer *next;	/* in the connection's pool */
};

/* Close the pipe of @b (after a failure it may hold stale data). */
static void buffer_drop_pipe(struct buffer *b)
{
	if (b->has_pipe) {
		close(b->pipe[0]);
		close(b->pipe[1]);
		b->has_pipe = false;
	}
}

static struct buffer *buffer_get(struct conn *c)
{
	struct buffer *b;

	pthread_mutex_lock(&c->pool_lock);
	b = c->pool;
	if (b)
		c->pool = b->next;
	pthread_mutex_unlock(&c->pool_lock);
	return b ? b : calloc(1, sizeof(*b));
}

static void buffer_put(struct conn *c, struct buffer *b)
{
	pthread_mutex_lock(&c->pool_lock);
	b->next = c->pool;
	c->pool = b;
	pthread_mutex_unlock(&c->pool_lock);
}

static void buffer_pool_free(struct conn *c)
{
	while (c->pool) {
		struct buffer *b = c->pool;

		c->pool = b->next;
		buffer_drop_pipe(b);
		free(b->p);
		free(b);
	}
}

static int buffer_reserve(struct buffer *b, size_t len)
{
	void *p;

	if (len <= b->cap)
		return 0;
	free(b->p);
	p = malloc(len);
	b->p = p;
	b->cap = p ? len : 0;
	return p ? 0 : -1;
}

static const char *cmd_name(uint16_t type)
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

/* ---- how the connection ends ---- */

static int conn_state(struct conn *c)
{
	return __atomic_load_n(&c->end, __ATOMIC_ACQUIRE);
}

/* The connection ends @how (unless it already ended some other way): no
 * more requests are read. */
static void conn_end(struct conn *c, int how)
{
	int open = CONN_OPEN;

	__atomic_compare_exchange_n(&c->end, &open, how, false, __ATOMIC_ACQ_REL,
				    __ATOMIC_ACQUIRE);
	__atomic_store_n(&c->quit, true, __ATOMIC_RELEASE);
}

void conn_stop(struct conn *c)
{
	conn_end(c, CONN_STOP);
}

/* Drop the connection: no more requests are read or started, and blocked
 * I/O ends. */
static void conn_abort(struct conn *c)
{
	conn_end(c, CONN_DROPPED);
	shutdown(c->rfd, SHUT_RDWR);
}

/* ---- replies ---- */

/*
 * A payload at least this large goes out in a call of its own, after the
 * headers were handed over with MSG_MORE.  For 1 MiB reads over loopback
 * that carried 25-40 % more per second, with about a fifth less CPU per GiB,
 * than one writev() of headers and payload (fio, queue depth 8, in
 * interleaved rounds); from 32 KiB to 256 KiB it made no difference, and
 * for 4 KiB reads the second system call cost about a tenth of the IOPS.
 */
#define SEPARATE_PAYLOAD_MIN	(256u << 10)

/* Write all of @n pieces, with MSG_MORE if @more follows. */
static int send_all(struct conn *c, struct iovec *iov, int n, bool more)
{
	if (c->tls)
		return io_writev_full(c->tls, c->wfd, iov, n);
	while (n > 0) {
		struct msghdr m = { .msg_iov = iov, .msg_iovlen = (size_t)n };
		ssize_t w = c->wsock ? sendmsg(c->wfd, &m, MSG_NOSIGNAL | (more ? MSG_MORE : 0))
				     : writev(c->wfd, iov, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* Send a whole reply made of @n pieces, the last of them its payload if
 * it has one, atomically with respect to the other threads of this
 * connection. */
static int send_iov(struct conn *c, struct iovec *iov, int n)
{
	bool separate = c->wsock && !c->tls && n > 1 && iov[n - 1].iov_len >= SEPARATE_PAYLOAD_MIN;
	int rc;

	pthread_mutex_lock(&c->wlock);
	if (separate) {
		rc = send_all(c, iov, n - 1, true);
		if (rc == 0)
			rc = send_all(c, &iov[n - 1], 1, false);
	} else {
		rc = send_all(c, iov, n, false);
	}
	pthread_mutex_unlock(&c->wlock);
	if (rc < 0) {
		log_debug("%s: cannot send reply: %s", c->peer, strerror(errno));
		conn_abort(c);
	}
	return rc;
}

static int send_simple(struct conn *c, const struct request *r, uint32_t error,
		       const void *data, size_t len)
{
	struct nbd_simple_reply h = {
		.magic = htobe32(NBD_SIMPLE_REPLY_MAGIC),
		.error = htobe32(error),
		.cookie = htobe64(r->cookie),
	};
	struct iovec iov[2] = {
		{ .iov_base = &h, .iov_len = sizeof(h) },
		{ .iov_base = (void *)data, .iov_len = len },
	};

	return send_iov(c, iov, len ? 2 : 1);
}

/* One structured chunk: header, a fixed part and a variable part. */
static int send_chunk(struct conn *c, const struct request *r, uint16_t flags, uint16_t type,
		      const void *fixed, size_t flen, const void *data, size_t dlen)
{
	struct nbd_structured_reply h = {
		.magic = htobe32(NBD_STRUCTURED_REPLY_MAGIC),
		.flags = htobe16(flags),
		.type = htobe16(type),
		.cookie = htobe64(r->cookie),
		.length = htobe32((uint32_t)(flen + dlen)),
	};
	struct iovec iov[3] = {
		{ .iov_base = &h, .iov_len = sizeof(h) },
		{ .iov_base = (void *)fixed, .iov_len = flen },
		{ .iov_base = (void *)data, .iov_len = dlen },
	};

	return send_iov(c, iov, dlen ? 3 : flen ? 2 : 1);
}

static int send_error(struct conn *c, const struct request *r, uint32_t error, const char *why)
{
	log_debug("%s: %s offset %llu length %u: error %u: %s", c->peer, cmd_name(r->type),
		  (unsigned long long)r->offset, r->length, error, why);
	if (c->structured) {
		size_t len = strnlen(why, NBD_MAX_STRING);
		struct nbd_chunk_error e = {
			.error = htobe32(error),
			.msglen = htobe16((uint16_t)len),
		};

		return send_chunk(c, r, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_ERROR, &e, sizeof(e),
				  why, len);
	}
	return send_simple(c, r, error, NULL, 0);
}

static int send_backend_error(struct conn *c, const struct request *r, int rc)
{
	return send_error(c, r, nbd_error_from_errno(-rc), strerror(-rc));
}

static int send_read(struct conn *c, const struct request *r, const void *data)
{
	struct nbd_chunk_offset_data d = { .offset = htobe64(r->offset) };

	if (!c->structured)
		return send_simple(c, r, 0, data, r->length);
	if (r->length == 0)
		return send_chunk(c, r, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_NONE, NULL, 0, NULL, 0);
	/* The data is in hand: no error can follow, so this chunk is the last. */
	return send_chunk(c, r, NBD_REPLY_FLAG_DONE, NBD_REPLY_TYPE_OFFSET_DATA, &d, sizeof(d),
			  data, r->length);
}

/* ---- zero-copy reads ---- */

static int buffer_pipe(struct buffer *b)
{
	int size;

	if (b->has_pipe)
		return 0;
	if (pipe2(b->pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	b->has_pipe = true;
	fcntl(b->pipe[1], F_SETPIPE_SZ, PIPE_SIZE);	/* a smaller pipe works too */
	size = fcntl(b->pipe[0], F_GETPIPE_SZ);
	b->pipe_size = size > 0 ? (size_t)size : 4096;
	return 0;
}

/* Splice up to @len bytes of @fd from @*off into the (empty) pipe of @b:
 * the page cache pages are referenced, not copied.  Bytes moved, or -1. */
static ssize_t fill_pipe(struct buffer *b, int fd, uint64_t *off, size_t len)
{
	size_t done = 0;

	if (len > b->pipe_size)
		len = b->pipe_size;
	while (done < len) {
		loff_t o = (loff_t)*off;
		ssize_t n = splice(fd, &o, b->pipe[1], NULL, len - done,
				   SPLICE_F_MOVE | SPLICE_F_NONBLOCK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN && done)
			break;		/* pipe full (unaligned pages) */
		if (n <= 0)
			return -1;	/* error, or the file shrank */
		*off += (uint64_t)n;
		done += (size_t)n;
	}
	return (ssize_t)done;
}

/*
 * Send a READ reply straight from the file: reply header, then the data
 * spliced pipe -> socket.  The first pipeful is read before taking the
 * write lock, so a read from disk does not hold up other replies.
 * Returns 1 when nothing was sent and the caller should copy instead,
 * 0 when sent, -1 when the connection failed part way (it is aborted).
 */
static int send_read_spliced(struct conn *c, const struct request *r, struct buffer *buf,
			     int fd, uint64_t off)
{
	struct {
		struct nbd_structured_reply h;
		struct nbd_chunk_offset_data d;
	} __attribute__((packed)) sh = {
		.h.magic = htobe32(NBD_STRUCTURED_REPLY_MAGIC),
		.h.flags = htobe16(NBD_REPLY_FLAG_DONE),
		.h.type = htobe16(NBD_REPLY_TYPE_OFFSET_DATA),
		.h.cookie = htobe64(r->cookie),
		.h.length = htobe32(r->length + (uint32_t)sizeof(sh.d)),
		.d.offset = htobe64(r->offset),
	};
	struct nbd_simple_reply h = {
		.magic = htobe32(NBD_SIMPLE_REPLY_MAGIC),
		.cookie = htobe64(r->cookie),
	};
	size_t left = r->length, in_pipe;
	ssize_t n;

	if (buffer_pipe(buf) < 0)
		return 1;
	n = fill_pipe(buf, fd, &off, left);
	if (n <= 0) {
		buffer_drop_pipe(buf);
		return 1;	/* let pread() report the error, or do the work */
	}
	in_pipe = (size_t)n;
	pthread_mutex_lock(&c->wlock);
	if (c->structured ? send(c->wfd, &sh, sizeof(sh), MSG_MORE | MSG_NOSIGNAL) != sizeof(sh)
			  : send(c->wfd, &h, sizeof(h), MSG_MORE | MSG_NOSIGNAL) != sizeof(h))
		goto fail;
	while (left) {
		if (in_pipe == 0) {
			n = fill_pipe(buf, fd, &off, left);
			if (n <= 0)
				goto fail;
			in_pipe = (size_t)n;
		}
		n = splice(buf->pipe[0], NULL, c->wfd, NULL, in_pipe,
			   SPLICE_F_MOVE | (left > in_pipe ? SPLICE_F_MORE : 0));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		in_pipe -= (size_t)n;
		left -= (size_t)n;
	}
	pthread_mutex_unlock(&c->wlock);
	return 0;
fail:
	/* Part of a reply is out: the stream cannot be repaired. */
	pthread_mutex_unlock(&c->wlock);
	log_info("%s: spliced read failed: %s", c->peer, strerror(errno));
	buffer_drop_pipe(buf);
	conn_abort(c);
	return -1;
}

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

/* ---- requests ---- */

/*
 * Read the next request (and a WRITE's payload into @buf), holding @rlock.
 * Returns 0 with @r filled in (r->error set if it must fail), or -1 when no
 * more requests are to be read (the connection's end is set then).
 */
static int read_request(struct conn *c, struct request *r, struct buffer *buf)
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
		} else if (buffer_reserve(buf, r->length) < 0) {
			if (conn_skip(c, r->length) < 0)
				goto dropped;
			r->error = NBD_ENOMEM;
			r->why = "out of memory";
		} else if (conn_read(c, buf->p, r->length) < 0) {
			log_info("%s: connection lost in a write payload", c->peer);
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

static void do_request(struct conn *c, const struct request *r, struct buffer *buf)
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
	switch (r->type) {
	case NBD_CMD_READ:
		if (r->length >= SPLICE_MIN && b->ops->read_source && c->splice) {
			int fd;
			uint64_t off;

			if (b->ops->read_source(b, r->offset, r->length, &fd, &off) == 0 &&
			    send_read_spliced(c, r, buf, fd, off) <= 0)
				return;
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
		return;
	}
	if (rc < 0)
		send_backend_error(c, r, rc);
	else if (r->type != NBD_CMD_READ)
		send_simple(c, r, 0, NULL, 0);
}

/* A request of a dropped connection that was read but not started. */
static void discard(struct conn *c, const struct request *r)
{
	__atomic_add_fetch(&c->discarded, 1, __ATOMIC_RELAXED);
	log_debug("%s: %s offset %llu length %u discarded: the connection was dropped",
		  c->peer, cmd_name(r->type), (unsigned long long)r->offset, r->length);
}

/* Requests that change data: a stale copy of one could overwrite newer data. */
static bool changes_data(const struct request *r)
{
	return !r->error && (r->type == NBD_CMD_WRITE || r->type == NBD_CMD_TRIM ||
			     r->type == NBD_CMD_WRITE_ZEROES);
}

/* A request read while reading the stream to its end (read_to_end). */
struct pending {
	struct request r;
	struct buffer *buf;	/* a WRITE's payload, else NULL */
	struct pending *next;
};

/*
 * The client half-closed the connection (FIN): everything it will send is
 * in the socket already.  Read the rest now to learn how the stream ends:
 * with NBD_CMD_DISC (a soft disconnect) every request read is carried out;
 * without (a hard disconnect, e.g. the client process died) the connection
 * is CONN_DROPPED and they are discarded.  This thread carries out or
 * discards what it reads here.  No read blocks: the data is all there.
 */
static void read_to_end(struct conn *c)
{
	struct pending *head = NULL, **tail = &head, *p;
	struct buffer *buf = NULL, *scratch;

	pthread_mutex_lock(&c->rlock);
	while (!__atomic_load_n(&c->quit, __ATOMIC_ACQUIRE)) {
		p = malloc(sizeof(*p));
		if (!buf)
			buf = buffer_get(c);
		if (!p || !buf) {
			log_err("%s: out of memory", c->peer);
			free(p);
			conn_end(c, CONN_DROPPED);
			break;
		}
		if (read_request(c, &p->r, buf) < 0) {
			free(p);
			break;
		}
		p->buf = NULL;
		if (p->r.type == NBD_CMD_WRITE && !p->r.error) {
			p->buf = buf;	/* keep the payload; the next one needs a new buffer */
			buf = NULL;
		}
		p->next = NULL;
		*tail = p;
		tail = &p->next;
	}
	pthread_mutex_unlock(&c->rlock);

	scratch = buf ? buf : buffer_get(c);
	while ((p = head)) {
		head = p->next;
		if (conn_state(c) == CONN_DROPPED || (!p->buf && !scratch))
			discard(c, &p->r);
		else
			do_request(c, &p->r, p->buf ? p->buf : scratch);
		if (p->buf)
			buffer_put(c, p->buf);
		free(p);
	}
	if (scratch)
		buffer_put(c, scratch);
}

/*
 * Whether a request read from the connection may be carried out now.  Not
 * once the connection was dropped: the client gets no reply, and it may
 * already have sent the request again on another connection, where a stale
 * copy starting late could overwrite the newer write.  A request that
 * changes data looks at the socket first, because a reset or a FIN is not
 * seen by reading while earlier data is still queued: Linux keeps what was
 * received before a reset readable.
 */
static bool may_start(struct conn *c, const struct request *r)
{
	struct pollfd p = { .fd = c->rfd, .events = POLLRDHUP };
	int end = conn_state(c);

	if (end != CONN_OPEN || !changes_data(r))
		return end != CONN_DROPPED;
	if (poll(&p, 1, 0) == 1) {
		if (p.revents & (POLLERR | POLLHUP | POLLNVAL))
			conn_end(c, CONN_DROPPED);	/* reset, or shut down */
		else if ((p.revents & POLLRDHUP) && conn_state(c) == CONN_OPEN)
			read_to_end(c);			/* FIN */
	}
	return conn_state(c) != CONN_DROPPED;
}

/* One transmission thread. */
struct worker {
	struct conn *c;
	bool lead;		/* holds c->rlock: reads the next request */
};

static void *worker_main(void *arg);

/*
 * Called with @rlock held after a request was read: if nobody else is
 * waiting to read the next one and every other thread waits for storage,
 * start another thread to do so.  A thread that copies from the page cache
 * or sends a reply will be back soon: when the data is cached the CPUs and
 * the socket are the limit, and extra threads only add hand-offs (on two
 * cores, 16 threads took about a quarter more CPU per GiB than 2 for reads
 * over loopback, and served fewer 4 KiB reads per second).
 */
static void maybe_add_thread(struct conn *c)
{
	if (c->nthreads + 1 >= c->max_threads ||
	    __atomic_load_n(&c->waiting, __ATOMIC_ACQUIRE) > 0 ||
	    __atomic_load_n(&c->storage_waits, __ATOMIC_ACQUIRE) < c->nthreads)
		return;
	if (pthread_create(&c->threads[c->nthreads], NULL, worker_main, c) == 0)
		c->nthreads++;
}

/*
 * Reads smaller than this are served by the thread that read the request,
 * which keeps @rlock and reads the next request when done: no hand-off to
 * another thread, and no wake-up of it, per request.  Should the read have
 * to wait for storage, the thread lets go of @rlock first (worker_wait_begin)
 * and another thread reads on.  For 4 KiB random reads from the page cache
 * this took about 15 % less CPU per GiB.  Larger reads are left to run
 * beside the reading of the next request, so that copying a read's data
 * and sending the previous reply use both CPUs; they are also the ones that
 * may be spliced (SPLICE_MIN), which may block without telling.
 */
#define INLINE_READ_MAX	(SPLICE_MIN - 1)

static bool serve_inline(struct conn *c, const struct request *r)
{
	return r->type == NBD_CMD_READ && !r->error && r->length <= INLINE_READ_MAX &&
	       conn_state(c) == CONN_OPEN;
}

static void worker_wait_begin(void *arg)
{
	struct worker *w = arg;

	__atomic_add_fetch(&w->c->storage_waits, 1, __ATOMIC_ACQ_REL);
	if (w->lead) {
		w->lead = false;
		pthread_mutex_unlock(&w->c->rlock);
	}
}

static void worker_wait_end(void *arg)
{
	struct worker *w = arg;

	__atomic_sub_fetch(&w->c->storage_waits, 1, __ATOMIC_ACQ_REL);
}

static void worker_take_lead(struct worker *w)
{
	struct conn *c = w->c;

	if (w->lead)
		return;
	__atomic_add_fetch(&c->waiting, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_lock(&c->rlock);
	__atomic_sub_fetch(&c->waiting, 1, __ATOMIC_ACQ_REL);
	w->lead = true;
}

static void worker_drop_lead(struct worker *w)
{
	if (w->lead) {
		w->lead = false;
		pthread_mutex_unlock(&w->c->rlock);
	}
}

static void *worker_main(void *arg)
{
	struct conn *c = arg;
	struct worker wk = { .c = c }, *w = &wk;
	const struct storage_wait_hook hook = {
		.begin = worker_wait_begin, .end = worker_wait_end, .arg = w,
	};
	struct request r;

	backend_set_wait_hook(&hook);
	for (;;) {
		struct buffer *buf;

		worker_take_lead(w);
		buf = buffer_get(c);
		if (!buf) {
			log_err("%s: out of memory", c->peer);
			conn_end(c, CONN_DROPPED);
		}
		if (!buf || __atomic_load_n(&c->quit, __ATOMIC_ACQUIRE) ||
		    read_request(c, &r, buf) < 0) {
			worker_drop_lead(w);
			if (buf)
				buffer_put(c, buf);
			break;
		}
		maybe_add_thread(c);
		if (serve_inline(c, &r)) {
			do_request(c, &r, buf);		/* may drop the lead */
			buffer_put(c, buf);
			continue;
		}
		worker_drop_lead(w);
		if (may_start(c, &r))
			do_request(c, &r, buf);
		else
			discard(c, &r);
		buffer_put(c, buf);
	}
	backend_set_wait_hook(NULL);
	return NULL;
}

void transmission(struct conn *c)
{
	struct stat st;
	unsigned int i;

	c->wsock = fstat(c->wfd, &st) == 0 && S_ISSOCK(st.st_mode);
	/* Userspace TLS encrypts from memory: nothing to splice. */
	c->splice = c->srv->splice && c->wsock && !c->tls;
	worker_main(c);
	/* No thread is started once quit is set, and it is set by now. */
	pthread_mutex_lock(&c->rlock);
	pthread_mutex_unlock(&c->rlock);
	for (i = 0; i < c->nthreads; i++)
		pthread_join(c->threads[i], NULL);
	buffer_pool_free(c);
	if (c->discarded)
		log_info("%s: connection dropped: %u request%s read but not started discarded",
			 c->peer, c->discarded, c->discarded == 1 ? "" : "s");
}
