// SPDX-License-Identifier: GPL-2.0
/* A minimal synchronous NBD client (see nbd-peer.h). */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "nbd-peer.h"
#include "nbd-proto.h"
#include "sock.h"

#define PEER_CONNECT_MS		10000
#define PEER_IO_MS		60000	/* a destination silent this long has failed */

static int fail(char *why, size_t len, const char *what)
{
	snprintf(why, len, "%s: %s", what, errno ? strerror(errno) : "protocol error");
	return -1;
}

static int send_go(int fd, const char *name)
{
	uint32_t nlen = (uint32_t)strlen(name);
	struct nbd_option opt = {
		.magic = htobe64(NBD_IHAVEOPT), .option = htobe32(NBD_OPT_GO),
		.length = htobe32(4 + nlen + 2),
	};
	uint32_t be_nlen = htobe32(nlen);
	uint16_t ninfo = 0;

	if (write_full(fd, &opt, sizeof(opt)) < 0 || write_full(fd, &be_nlen, 4) < 0 ||
	    write_full(fd, name, nlen) < 0 || write_full(fd, &ninfo, 2) < 0)
		return -1;
	return 0;
}

/* Option replies to NBD_OPT_GO until the ACK: NBD_INFO_EXPORT gives the
 * size and flags; the rest is skipped. */
static int read_go_replies(struct nbd_peer *p, char *why, size_t why_len)
{
	bool have_export = false;

	for (;;) {
		struct nbd_option_reply rep;
		unsigned char data[NBD_MAX_STRING + 64];
		uint32_t type, len;

		errno = 0;
		if (read_full(p->fd, &rep, sizeof(rep)) < 0)
			return fail(why, why_len, "reading an option reply");
		type = be32toh(rep.reply);
		len = be32toh(rep.length);
		if (be64toh(rep.magic) != NBD_REP_MAGIC || len > sizeof(data)) {
			snprintf(why, why_len, "bad option reply");
			return -1;
		}
		if (read_full(p->fd, data, len) < 0)
			return fail(why, why_len, "reading an option reply");
		if (type & NBD_REP_FLAG_ERROR) {
			snprintf(why, why_len, "the server refused the export: %s",
				 nbd_reply_name(type));
			return -1;
		}
		if (type == NBD_REP_ACK)
			break;
		if (type == NBD_REP_INFO && len >= sizeof(struct nbd_info_export) &&
		    be16toh(((struct nbd_info_export *)data)->info) == NBD_INFO_EXPORT) {
			const struct nbd_info_export *ie = (const void *)data;

			p->size = be64toh(ie->size);
			p->flags = be16toh(ie->flags);
			have_export = true;
		}
	}
	if (!have_export) {
		snprintf(why, why_len, "the server sent no export size");
		return -1;
	}
	return 0;
}

int nbd_peer_open(struct nbd_peer *p, const char *host, const char *port, const char *name,
		  int cancel_fd, char *why, size_t why_len)
{
	struct nbd_greeting g;
	uint32_t cflags = htobe32(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);

	memset(p, 0, sizeof(*p));
	p->fd = sock_connect(host, port, NULL, PEER_CONNECT_MS, cancel_fd, why, why_len);
	if (p->fd < 0)
		return -1;
	sock_set_nodelay(p->fd);
	sock_set_timeouts(p->fd, PEER_IO_MS);
	errno = 0;
	if (read_full(p->fd, &g, sizeof(g)) < 0) {
		fail(why, why_len, "reading the greeting");
		goto out;
	}
	if (be64toh(g.magic) != NBD_MAGIC || be64toh(g.ihaveopt) != NBD_IHAVEOPT ||
	    !(be16toh(g.flags) & NBD_FLAG_FIXED_NEWSTYLE)) {
		snprintf(why, why_len, "not a fixed newstyle NBD server");
		goto out;
	}
	if (write_full(p->fd, &cflags, sizeof(cflags)) < 0 || send_go(p->fd, name) < 0) {
		fail(why, why_len, "sending options");
		goto out;
	}
	if (read_go_replies(p, why, why_len) == 0)
		return 0;
out:
	close(p->fd);
	p->fd = -1;
	return -1;
}

static int send_request(struct nbd_peer *p, uint16_t type, uint16_t flags, uint64_t offset,
			uint32_t length)
{
	struct nbd_request rq = {
		.magic = htobe32(NBD_REQUEST_MAGIC), .flags = htobe16(flags),
		.type = htobe16(type), .cookie = htobe64(++p->cookie),
		.offset = htobe64(offset), .length = htobe32(length),
	};

	return write_full(p->fd, &rq, sizeof(rq));
}

/* Read one simple reply; a READ's data into @data. */
static int read_reply(struct nbd_peer *p, void *data, uint32_t length, char *why, size_t why_len)
{
	struct nbd_simple_reply rep;
	uint32_t err;

	errno = 0;
	if (read_full(p->fd, &rep, sizeof(rep)) < 0) {
		fail(why, why_len, "reading a reply");
		return -(errno ? errno : EIO);
	}
	if (be32toh(rep.magic) != NBD_SIMPLE_REPLY_MAGIC || be64toh(rep.cookie) > p->cookie) {
		snprintf(why, why_len, "bad reply from the server");
		return -EPROTO;
	}
	p->inflight--;
	err = be32toh(rep.error);
	if (err) {
		snprintf(why, why_len, "request %llu failed: %s",
			 (unsigned long long)be64toh(rep.cookie), strerror(nbd_error_to_errno(err)));
		return -nbd_error_to_errno(err);
	}
	if (data && read_full(p->fd, data, length) < 0) {
		fail(why, why_len, "reading data");
		return -(errno ? errno : EIO);
	}
	return 0;
}

int nbd_peer_send(struct nbd_peer *p, uint16_t type, uint16_t flags, uint64_t offset,
		  uint32_t length, const void *data, char *why, size_t why_len)
{
	int rc;

	while (p->inflight >= NBD_PEER_MAX_INFLIGHT)
		if ((rc = read_reply(p, NULL, 0, why, why_len)) < 0)
			return rc;
	errno = 0;
	if (send_request(p, type, flags, offset, length) < 0 ||
	    (type == NBD_CMD_WRITE && write_full(p->fd, data, length) < 0)) {
		fail(why, why_len, "sending a request");
		return -(errno ? errno : EIO);
	}
	p->inflight++;
	return 0;
}

int nbd_peer_sync(struct nbd_peer *p, char *why, size_t why_len)
{
	int rc;

	while (p->inflight)
		if ((rc = read_reply(p, NULL, 0, why, why_len)) < 0)
			return rc;
	return 0;
}

int nbd_peer_request(struct nbd_peer *p, uint16_t type, uint16_t flags, uint64_t offset,
		     uint32_t length, void *data, char *why, size_t why_len)
{
	bool reading = type == NBD_CMD_READ;
	int rc = nbd_peer_sync(p, why, why_len);

	if (rc == 0)
		rc = nbd_peer_send(p, type, flags, offset, length, reading ? NULL : data, why,
				   why_len);
	return rc < 0 ? rc : read_reply(p, reading ? data : NULL, length, why, why_len);
}

int nbd_peer_disconnect(struct nbd_peer *p)
{
	char byte;
	int rc = -1;

	sock_set_abortive(p->fd, 0);
	if (send_request(p, NBD_CMD_DISC, 0, 0, 0) == 0 && shutdown(p->fd, SHUT_WR) == 0 &&
	    read(p->fd, &byte, 1) == 0)
		rc = 0;
	close(p->fd);
	p->fd = -1;
	return rc;
}

void nbd_peer_close(struct nbd_peer *p)
{
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
}
