// SPDX-License-Identifier: GPL-2.0
/*
 * Sending replies, simple or structured, each one whole under the
 * connection's write lock; READ replies copied or spliced from a file.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include "buffer.h"
#include "conn.h"
#include "log.h"
#include "nbd-proto.h"
#include "transmission.h"


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
	if (c->tls && !tls_ktls_send(c->tls))
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
	bool separate = c->wsock && (!c->tls || tls_ktls_send(c->tls)) && n > 1 &&
			iov[n - 1].iov_len >= SEPARATE_PAYLOAD_MIN;
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

int send_simple(struct conn *c, const struct request *r, uint32_t error,
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
int send_chunk(struct conn *c, const struct request *r, uint16_t flags, uint16_t type,
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

int send_error(struct conn *c, const struct request *r, uint32_t error, const char *why)
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

int send_backend_error(struct conn *c, const struct request *r, int rc)
{
	return send_error(c, r, nbd_error_from_errno(-rc), strerror(-rc));
}

int send_read(struct conn *c, const struct request *r, const void *data)
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
int send_read_spliced(struct conn *c, const struct request *r, struct buffer *buf,
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

