// SPDX-License-Identifier: GPL-2.0
/* Client side of the NBD fixed newstyle handshake; see handshake.h. */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "handshake.h"
#include "log.h"
#include "nbd-proto.h"

/* State of one handshake: the socket, the export and where to explain. */
struct hs {
	int fd;
	struct tls_conn *tls;	/* after NBD_OPT_STARTTLS, NULL: plaintext */
	int sigfd;		/* readable: stop (-1: none) */
	struct timespec deadline;	/* CLOCK_MONOTONIC: the whole handshake */
	const char *name;
	struct nbd_export *ex;
	char *why;
	size_t why_len;
	/* the current option reply */
	uint32_t opt, reply, len;
	uint8_t data[NBD_MAX_OPTION_DATA];
};

static int fail(struct hs *h, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct hs *h, int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(h->why, h->why_len, fmt, ap);
	va_end(ap);
	return status;
}

/* A transport error while doing @what. */
static int io_fail(struct hs *h, const char *what)
{
	if (errno == ETIMEDOUT)
		return fail(h, HS_IO, "handshake deadline passed %s", what);
	if (errno == ECANCELED)
		return fail(h, HS_STOPPED, "stopped by a signal %s", what);
	if (errno == ECONNRESET)
		return fail(h, HS_IO, "server closed the connection %s", what);
	return fail(h, HS_IO, "%s %s", strerror(errno), what);
}

/* Milliseconds left before the deadline, at least 0. */
static int ms_left(const struct hs *h)
{
	struct timespec now;
	long long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (h->deadline.tv_sec - now.tv_sec) * 1000LL +
	     (h->deadline.tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : ms > 1000000 ? 1000000 : (int)ms;
}

/*
 * Move exactly @len bytes (@out: send, else receive) before the deadline,
 * watching the signalfd.  0, or -1 with errno: ETIMEDOUT (deadline),
 * ECANCELED (a signal is pending), ECONNRESET (end of stream), other.
 */
static int hs_xfer(struct hs *h, void *buf, size_t len, bool out)
{
	struct pollfd pfd[2] = {
		{ .fd = h->fd, .events = out ? POLLOUT : POLLIN },
		{ .fd = h->sigfd, .events = POLLIN },
	};
	uint8_t *p = buf;
	ssize_t n;
	int left;

	while (len) {
		if (h->tls) {
			/* TLS first: it may hold bytes already read from the socket. */
			bool want_out = false;

			n = out ? tls_send_nb(h->tls, p, len, &want_out) :
				  tls_recv_nb(h->tls, p, len, &want_out);
			if (n > 0) {
				p += n;
				len -= (size_t)n;
				continue;
			}
			if (n == 0) {
				errno = ECONNRESET;
				return -1;
			}
			if (errno != EAGAIN)
				return -1;
			pfd[0].events = want_out ? POLLOUT : POLLIN;
		}
		left = ms_left(h);
		n = poll(pfd, h->sigfd >= 0 ? 2 : 1, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (h->sigfd >= 0 && (pfd[1].revents & POLLIN)) {
			errno = ECANCELED;
			return -1;
		}
		if (n == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (h->tls)
			continue;
		n = out ? send(h->fd, p, len, MSG_DONTWAIT | MSG_NOSIGNAL) :
			  recv(h->fd, p, len, MSG_DONTWAIT);
		if (n == 0 && !out) {
			errno = ECONNRESET;
			return -1;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				continue;
			if (errno == EPIPE)
				errno = ECONNRESET;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int hs_read(struct hs *h, void *buf, size_t len, const char *what)
{
	return hs_xfer(h, buf, len, false) < 0 ? io_fail(h, what) : 0;
}

/* Send one option with its data in a single write. */
static int send_option(struct hs *h, uint32_t opt, const void *data, uint32_t len)
{
	uint8_t buf[sizeof(struct nbd_option) + 4 + NBD_MAX_STRING + 2 + 2 * 4];
	struct nbd_option o = {
		.magic = htobe64(NBD_IHAVEOPT),
		.option = htobe32(opt),
		.length = htobe32(len),
	};

	if (len > sizeof(buf) - sizeof(o))
		return fail(h, HS_PROTO, "option %s too long", nbd_option_name(opt));
	memcpy(buf, &o, sizeof(o));
	if (len)
		memcpy(buf + sizeof(o), data, len);
	if (hs_xfer(h, buf, sizeof(o) + len, true) < 0)
		return io_fail(h, "sending an option");
	log_debug("handshake: sent %s (%u bytes of data)", nbd_option_name(opt), len);
	return 0;
}

/* Soft disconnect during option haggling: the server may or may not answer. */
static void send_abort(struct hs *h)
{
	char why[64];
	struct hs tmp = { .fd = h->fd, .tls = h->tls, .sigfd = h->sigfd,
			  .deadline = h->deadline, .why = why, .why_len = sizeof(why) };

	send_option(&tmp, NBD_OPT_ABORT, NULL, 0);
}

/* Read one option reply header and its data into h->data. */
static int recv_reply(struct hs *h, uint32_t want_opt)
{
	struct nbd_option_reply r;
	int rc;

	rc = hs_read(h, &r, sizeof(r), "waiting for an option reply");
	if (rc)
		return rc;
	if (be64toh(r.magic) != NBD_REP_MAGIC)
		return fail(h, HS_PROTO, "bad option reply magic 0x%016llx",
			    (unsigned long long)be64toh(r.magic));
	h->opt = be32toh(r.option);
	h->reply = be32toh(r.reply);
	h->len = be32toh(r.length);
	if (h->opt != want_opt)
		return fail(h, HS_PROTO, "server answered %s while we asked %s",
			    nbd_option_name(h->opt), nbd_option_name(want_opt));
	if (h->len > sizeof(h->data))
		return fail(h, HS_PROTO, "option reply of %u bytes is too long", h->len);
	rc = hs_read(h, h->data, h->len, "reading an option reply");
	if (rc)
		return rc;
	log_debug("handshake: %s reply %s (0x%x), %u bytes", nbd_option_name(h->opt),
		  nbd_reply_name(h->reply), h->reply, h->len);
	return 0;
}

/* The optional human-readable message of an error reply, made printable. */
static const char *error_message(struct hs *h, char *buf, size_t len)
{
	size_t i, n = h->len < len - 1 ? h->len : len - 1;

	for (i = 0; i < n; i++)
		buf[i] = (h->data[i] >= 0x20 && h->data[i] < 0x7f) ? (char)h->data[i] : '?';
	buf[n] = 0;
	return buf;
}

static int is_pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

/* NBD_REP_INFO for NBD_OPT_GO. */
static int handle_info(struct hs *h, int *have_export)
{
	struct nbd_export *ex = h->ex;
	uint16_t type;

	if (h->len < 2)
		return fail(h, HS_PROTO, "NBD_REP_INFO of %u bytes", h->len);
	memcpy(&type, h->data, 2);
	type = be16toh(type);
	switch (type) {
	case NBD_INFO_EXPORT: {
		struct nbd_info_export ie;

		if (h->len != sizeof(ie))
			return fail(h, HS_PROTO, "NBD_INFO_EXPORT of %u bytes", h->len);
		memcpy(&ie, h->data, sizeof(ie));
		ex->size = be64toh(ie.size);
		ex->tflags = be16toh(ie.flags);
		*have_export = 1;
		break;
	}
	case NBD_INFO_BLOCK_SIZE: {
		struct nbd_info_block_size ib;

		if (h->len != sizeof(ib))
			return fail(h, HS_PROTO, "NBD_INFO_BLOCK_SIZE of %u bytes", h->len);
		memcpy(&ib, h->data, sizeof(ib));
		ex->min_block = be32toh(ib.minimum);
		ex->pref_block = be32toh(ib.preferred);
		ex->max_payload = be32toh(ib.maximum);
		if (!is_pow2(ex->min_block) || ex->min_block > 65536)
			return fail(h, HS_PROTO, "invalid minimum block size %u", ex->min_block);
		if (!is_pow2(ex->pref_block) || ex->pref_block < ex->min_block) {
			log_warn("server sent an invalid preferred block size %u; ignoring it",
				 ex->pref_block);
			ex->pref_block = ex->min_block > 4096 ? ex->min_block : 4096;
		}
		if (ex->max_payload < ex->min_block) {
			log_warn("server sent an invalid maximum payload %u; using %u",
				 ex->max_payload, ex->min_block);
			ex->max_payload = ex->min_block;
		}
		break;
	}
	default:
		/* NBD_INFO_NAME, NBD_INFO_DESCRIPTION, future types: ignored. */
		log_debug("handshake: ignoring NBD_REP_INFO type %u", type);
		break;
	}
	return 0;
}

/* An error reply to @opt: explain it. */
static int option_error(struct hs *h, uint32_t opt)
{
	char msg[200];
	const char *text = error_message(h, msg, sizeof(msg));
	const char *sep = *text ? ": " : "";

	switch (h->reply) {
	case NBD_REP_ERR_UNKNOWN:
		if (!*h->name)
			return fail(h, HS_REFUSED, "server has no default export (use -e NAME)%s%s",
				    sep, text);
		return fail(h, HS_REFUSED, "server has no export named '%s'%s%s",
			    h->name, sep, text);
	case NBD_REP_ERR_TLS_REQD:
		return fail(h, HS_REFUSED, "server requires TLS (use --tls on or require, with "
			    "--tls-certificates or --tls-psk)%s%s", sep, text);
	case NBD_REP_ERR_SHUTDOWN:
		return fail(h, HS_IO, "server is shutting down%s%s", sep, text);
	default:
		return fail(h, HS_REFUSED, "server refused %s for export '%s': %s (0x%x)%s%s",
			    nbd_option_name(opt), h->name, nbd_reply_name(h->reply),
			    h->reply, sep, text);
	}
}

/* Build the data of NBD_OPT_GO / NBD_OPT_INFO: name, one info request. */
static uint32_t go_data(const char *name, uint8_t *buf)
{
	uint32_t nlen = strlen(name), be32 = htobe32(nlen);
	uint16_t n = htobe16(1), info = htobe16(NBD_INFO_BLOCK_SIZE);

	memcpy(buf, &be32, 4);
	memcpy(buf + 4, name, nlen);
	memcpy(buf + 4 + nlen, &n, 2);
	memcpy(buf + 6 + nlen, &info, 2);
	return nlen + 8;
}

/* Returns 0, an hs_status, or 1 if the server does not support GO. */
static int opt_go(struct hs *h)
{
	uint8_t buf[4 + NBD_MAX_STRING + 4];
	int rc, have_export = 0;

	rc = send_option(h, NBD_OPT_GO, buf, go_data(h->name, buf));
	if (rc)
		return rc;
	for (;;) {
		rc = recv_reply(h, NBD_OPT_GO);
		if (rc)
			return rc;
		if (h->reply == NBD_REP_INFO) {
			rc = handle_info(h, &have_export);
			if (rc)
				return rc;
		} else if (h->reply == NBD_REP_ACK) {
			if (!have_export)
				return fail(h, HS_PROTO, "NBD_OPT_GO succeeded without NBD_INFO_EXPORT");
			h->ex->via_go = 1;
			return 0;
		} else if (h->reply == NBD_REP_ERR_UNSUP) {
			return 1;
		} else if (h->reply & NBD_REP_FLAG_ERROR) {
			rc = option_error(h, NBD_OPT_GO);
			send_abort(h);
			return rc;
		} else {
			log_debug("handshake: ignoring unexpected reply %u to NBD_OPT_GO", h->reply);
		}
	}
}

/* NBD_OPT_EXPORT_NAME: no error replies; an unknown export closes the socket. */
static int opt_export_name(struct hs *h)
{
	struct nbd_export_name_reply r;
	uint8_t zeroes[124];
	int rc;

	rc = send_option(h, NBD_OPT_EXPORT_NAME, h->name, strlen(h->name));
	if (rc)
		return rc;
	if (hs_xfer(h, &r, sizeof(r), false) < 0) {
		if (errno == ECONNRESET)
			return fail(h, HS_REFUSED,
				    "server closed the connection: no export named '%s' (or access denied)",
				    h->name);
		return io_fail(h, "after NBD_OPT_EXPORT_NAME");
	}
	if (!h->ex->no_zeroes) {
		rc = hs_read(h, zeroes, sizeof(zeroes), "reading the export reply");
		if (rc)
			return rc;
	}
	h->ex->size = be64toh(r.size);
	h->ex->tflags = be16toh(r.flags);
	h->ex->via_go = 0;
	return 0;
}

/*
 * NBD_OPT_STARTTLS and the TLS handshake: 0 (TLS on, or plaintext with
 * --tls on and a server without it), or an hs_status.
 */
static int opt_starttls(struct hs *h, struct hs_tls *tls)
{
	const char *fallback = tls->mode == TLS_REQUIRE ? NULL : "; going on in plaintext (--tls on)";
	char why[256];
	int rc;

	if (!(h->ex->hflags & NBD_FLAG_FIXED_NEWSTYLE)) {
		if (!fallback)
			return fail(h, HS_REFUSED, "server is not fixed newstyle, so it has no TLS, "
				    "which --tls require requires");
		log_info("server is not fixed newstyle, so it has no TLS%s", fallback);
		return 0;
	}
	rc = send_option(h, NBD_OPT_STARTTLS, NULL, 0);
	if (!rc)
		rc = recv_reply(h, NBD_OPT_STARTTLS);
	if (rc)
		return rc;
	if (h->reply & NBD_REP_FLAG_ERROR) {
		char msg[200];

		error_message(h, msg, sizeof(msg));
		if (!fallback) {
			send_abort(h);
			return fail(h, HS_REFUSED, "server does not offer TLS (%s%s%s), which --tls "
				    "require requires", nbd_reply_name(h->reply), *msg ? ": " : "", msg);
		}
		log_info("server does not offer TLS (%s)%s", nbd_reply_name(h->reply), fallback);
		return 0;
	}
	if (h->reply != NBD_REP_ACK)
		return fail(h, HS_PROTO, "unexpected reply %s to NBD_OPT_STARTTLS",
			    nbd_reply_name(h->reply));
	h->tls = tls_connect(tls->ctx, h->fd, tls->hostname, ms_left(h), h->sigfd, why,
			     sizeof(why));
	if (!h->tls) {
		if (errno == ECANCELED)
			return fail(h, HS_STOPPED, "stopped by a signal during the TLS handshake");
		if (errno == ETIMEDOUT)
			return fail(h, HS_IO, "handshake deadline passed during the TLS handshake");
		return fail(h, HS_REFUSED, "TLS handshake failed: %s", why);
	}
	log_info("TLS: %s", tls_describe(h->tls));
	return 0;
}

int nbd_handshake(int fd, const char *name, struct nbd_export *ex, int sigfd, int timeout_ms,
		  struct hs_tls *tls, char *why, size_t why_len)
{
	struct hs *h;
	struct nbd_greeting g;
	uint32_t cflags;
	int rc;

	memset(ex, 0, sizeof(*ex));
	if (strlen(name) > NBD_MAX_STRING) {
		snprintf(why, why_len, "export name longer than %d bytes", NBD_MAX_STRING);
		return HS_REFUSED;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		snprintf(why, why_len, "out of memory");
		return HS_IO;
	}
	*h = (struct hs){ .fd = fd, .sigfd = sigfd, .name = name, .ex = ex, .why = why,
			  .why_len = why_len };
	clock_gettime(CLOCK_MONOTONIC, &h->deadline);
	h->deadline.tv_sec += timeout_ms / 1000;
	h->deadline.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (h->deadline.tv_nsec >= 1000000000L) {
		h->deadline.tv_sec++;
		h->deadline.tv_nsec -= 1000000000L;
	}

	rc = hs_read(h, &g, 16, "waiting for the server greeting");
	if (rc)
		goto out;
	if (be64toh(g.magic) != NBD_MAGIC) {
		rc = fail(h, HS_PROTO, "not an NBD server (bad greeting magic)");
		goto out;
	}
	if (be64toh(g.ihaveopt) == NBD_OLDSTYLE_MAGIC) {
		rc = fail(h, HS_REFUSED, "server speaks the oldstyle NBD handshake, which is not supported");
		goto out;
	}
	if (be64toh(g.ihaveopt) != NBD_IHAVEOPT) {
		rc = fail(h, HS_PROTO, "not an NBD server (bad greeting magic)");
		goto out;
	}
	rc = hs_read(h, &g.flags, 2, "reading the handshake flags");
	if (rc)
		goto out;
	ex->hflags = be16toh(g.flags);

	/* Only ask for what the server offers: it must drop unknown flags. */
	cflags = 0;
	if (ex->hflags & NBD_FLAG_FIXED_NEWSTYLE)
		cflags |= NBD_FLAG_C_FIXED_NEWSTYLE;
	if (ex->hflags & NBD_FLAG_NO_ZEROES) {
		cflags |= NBD_FLAG_C_NO_ZEROES;
		ex->no_zeroes = 1;
	}
	cflags = htobe32(cflags);
	if (hs_xfer(h, &cflags, 4, true) < 0) {
		rc = io_fail(h, "sending the client flags");
		goto out;
	}

	if (tls && tls->mode != TLS_OFF) {
		rc = opt_starttls(h, tls);
		if (rc)
			goto out;
	}
	/* Future: NBD_OPT_STRUCTURED_REPLY goes here. */
	rc = 1;
	if (ex->hflags & NBD_FLAG_FIXED_NEWSTYLE) {
		rc = opt_go(h);
		if (rc == 1)
			log_debug("server does not support NBD_OPT_GO; using NBD_OPT_EXPORT_NAME");
	} else {
		log_debug("server is not fixed newstyle; using NBD_OPT_EXPORT_NAME");
	}
	if (rc == 1)
		rc = opt_export_name(h);
	if (rc == 0 && !(ex->tflags & NBD_FLAG_HAS_FLAGS))
		ex->tflags = 0;
out:
	/* The NBD handshake's last read hands the records over (lib/tls.c);
	 * tests look for this line. */
	if (rc == 0 && h->tls)
		log_debug("TLS records carried in userspace: %s", tls_userspace_records(h->tls));
	if (rc == 0 && tls)
		tls->conn = h->tls;
	else
		tls_close(h->tls);
	free(h);
	return rc;
}

void nbd_tflags_str(uint16_t tflags, char *buf, size_t len)
{
	static const struct { uint16_t bit; const char *name; } names[] = {
		{ NBD_FLAG_READ_ONLY, "read-only" },
		{ NBD_FLAG_SEND_FLUSH, "flush" },
		{ NBD_FLAG_SEND_FUA, "fua" },
		{ NBD_FLAG_ROTATIONAL, "rotational" },
		{ NBD_FLAG_SEND_TRIM, "trim" },
		{ NBD_FLAG_SEND_WRITE_ZEROES, "write-zeroes" },
		{ NBD_FLAG_SEND_DF, "df" },
		{ NBD_FLAG_CAN_MULTI_CONN, "multi-conn" },
		{ NBD_FLAG_SEND_RESIZE, "resize" },
		{ NBD_FLAG_SEND_CACHE, "cache" },
		{ NBD_FLAG_SEND_FAST_ZERO, "fast-zero" },
	};
	size_t i, off = 0;

	buf[0] = 0;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (!(tflags & names[i].bit))
			continue;
		off += snprintf(buf + off, off < len ? len - off : 0, "%s%s",
				off ? " " : "", names[i].name);
	}
	if (off == 0)
		snprintf(buf, len, "none");
}
