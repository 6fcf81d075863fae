// SPDX-License-Identifier: GPL-2.0
/*
 * Fixed newstyle handshake and option haggling (proto.md "Option types").
 * Every option has a small handler that parses the option data with a
 * bounds-checked cursor and answers with option replies.
 */
#include <endian.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "log.h"
#include "nbd-proto.h"
#include "sock.h"

/* What a handler tells the option loop */
enum opt_result { OPT_NEXT, OPT_TRANSMIT, OPT_CLOSE };

struct option_req {
	uint32_t opt;
	uint32_t len;
	unsigned char *data;
};

/* Bounds-checked reading of option data */
struct cursor {
	const unsigned char *p;
	size_t left;
};

static bool get_bytes(struct cursor *cur, void *out, size_t n)
{
	if (cur->left < n)
		return false;
	memcpy(out, cur->p, n);
	cur->p += n;
	cur->left -= n;
	return true;
}

static bool get_u16(struct cursor *cur, uint16_t *v)
{
	if (!get_bytes(cur, v, 2))
		return false;
	*v = be16toh(*v);
	return true;
}

static bool get_u32(struct cursor *cur, uint32_t *v)
{
	if (!get_bytes(cur, v, 4))
		return false;
	*v = be32toh(*v);
	return true;
}

/* Control characters (NUL included) have no place in names, and would let
 * a client forge our log lines. */
static bool has_control_chars(const unsigned char *p, size_t len)
{
	while (len--) {
		if (*p < 0x20 || *p == 0x7f)
			return true;
		p++;
	}
	return false;
}

/* A string of @len bytes: at most NBD_MAX_STRING, no control characters.
 * Returns a NUL-terminated copy the caller frees, or NULL. */
static char *get_string(struct cursor *cur, uint32_t len)
{
	char *s;

	if (len > cur->left || len > NBD_MAX_STRING || has_control_chars(cur->p, len))
		return NULL;
	s = malloc(len + 1);
	if (!s)
		return NULL;
	memcpy(s, cur->p, len);
	s[len] = 0;
	cur->p += len;
	cur->left -= len;
	return s;
}

/* A u32 length followed by that many bytes of string */
static char *get_lstring(struct cursor *cur)
{
	uint32_t len;

	return get_u32(cur, &len) ? get_string(cur, len) : NULL;
}

static int send_data(struct conn *c, const void *buf, size_t len)
{
	if (io_write_full(c->tls, c->wfd, buf, len) < 0) {
		log_debug("%s: write failed: %s", c->peer, strerror(errno));
		return -1;
	}
	return 0;
}

/* One option reply: header and @len bytes from up to two pieces. */
static int send_reply2(struct conn *c, uint32_t opt, uint32_t type, const void *a,
		       uint32_t alen, const void *b, uint32_t blen)
{
	struct nbd_option_reply h = {
		.magic = htobe64(NBD_REP_MAGIC),
		.option = htobe32(opt),
		.reply = htobe32(type),
		.length = htobe32(alen + blen),
	};

	if (send_data(c, &h, sizeof(h)) < 0 || (alen && send_data(c, a, alen) < 0) ||
	    (blen && send_data(c, b, blen) < 0))
		return -1;
	return 0;
}

static int send_reply(struct conn *c, uint32_t opt, uint32_t type, const void *data,
		      uint32_t len)
{
	return send_reply2(c, opt, type, data, len, NULL, 0);
}

/* An error reply carrying a message for the user; returns OPT_NEXT or OPT_CLOSE. */
static enum opt_result __attribute__((format(printf, 4, 5)))
send_error(struct conn *c, uint32_t opt, uint32_t type, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	log_debug("%s: %s: %s: %s", c->peer, nbd_option_name(opt), nbd_reply_name(type), msg);
	return send_reply(c, opt, type, msg, (uint32_t)n) < 0 ? OPT_CLOSE : OPT_NEXT;
}

static enum opt_result send_ack(struct conn *c, uint32_t opt)
{
	return send_reply(c, opt, NBD_REP_ACK, NULL, 0) < 0 ? OPT_CLOSE : OPT_NEXT;
}

/* The transmission phase starts with @e: remember it. */
static void choose_export(struct conn *c, const struct export *e, const char *name)
{
	c->exp = e;
	c->tflags = export_flags(e, c->structured);
	/* Block status only for the export base:allocation was set for. */
	if (c->meta_alloc && (!c->meta_export || export_find(c->srv, c->meta_export) != e))
		c->meta_alloc = false;
	log_info("%s: serving export \"%s\" (%s)%s", c->peer, name, e->backend->desc,
		 c->structured ? ", structured replies" : "");
}

static enum opt_result opt_export_name(struct conn *c, struct option_req *o)
{
	struct cursor cur = { o->data, o->len };
	struct nbd_export_name_reply r;
	static const char zeroes[124];
	const struct export *e;
	char *name;

	/* No way to return an error here: hang up instead. */
	name = get_string(&cur, o->len);
	if (!name) {
		log_warn("%s: NBD_OPT_EXPORT_NAME with an invalid name", c->peer);
		return OPT_CLOSE;
	}
	e = export_find(c->srv, name);
	if (!e) {
		log_warn("%s: NBD_OPT_EXPORT_NAME: no export \"%s\"", c->peer, name);
		free(name);
		return OPT_CLOSE;
	}
	choose_export(c, e, name);
	free(name);
	r.size = htobe64(e->backend->size);
	r.flags = htobe16(c->tflags);
	if (send_data(c, &r, sizeof(r)) < 0 ||
	    (!c->no_zeroes && send_data(c, zeroes, sizeof(zeroes)) < 0))
		return OPT_CLOSE;
	return OPT_TRANSMIT;
}

static enum opt_result opt_abort(struct conn *c, struct option_req *o)
{
	/* Data is allowed and ignored; the client may not wait for the ACK. */
	send_ack(c, o->opt);
	log_debug("%s: client aborted the handshake", c->peer);
	return OPT_CLOSE;
}

static enum opt_result opt_list(struct conn *c, struct option_req *o)
{
	unsigned int i;

	if (o->len)
		return send_error(c, o->opt, NBD_REP_ERR_INVALID, "NBD_OPT_LIST takes no data");
	for (i = 0; i < c->srv->nexports; i++) {
		const struct export *e = &c->srv->exports[i];
		uint32_t nlen = (uint32_t)strlen(e->name);
		uint32_t dlen = e->description ? (uint32_t)strlen(e->description) : 0;
		uint32_t be_nlen = htobe32(nlen);
		unsigned char head[4 + NBD_MAX_STRING];

		memcpy(head, &be_nlen, 4);
		memcpy(head + 4, e->name, nlen);
		if (send_reply2(c, o->opt, NBD_REP_SERVER, head, 4 + nlen,
				e->description, dlen) < 0)
			return OPT_CLOSE;
	}
	return send_ack(c, o->opt);
}

/* NBD_OPT_STARTTLS: ACK, then the TLS handshake; options go on inside TLS. */
static enum opt_result opt_starttls(struct conn *c, struct option_req *o)
{
	char why[256];

	if (c->srv->tls_mode == TLS_OFF)
		return send_error(c, o->opt, NBD_REP_ERR_UNSUP, "this server does not support TLS");
	if (c->tls)
		return send_error(c, o->opt, NBD_REP_ERR_INVALID, "TLS is already on");
	if (o->len)
		return send_error(c, o->opt, NBD_REP_ERR_INVALID, "NBD_OPT_STARTTLS takes no data");
	/* Bytes sent before our ACK would be taken as if they came through
	 * TLS: a client does not do that, an attacker in the middle might. */
	if (c->in_pos != c->in_len) {
		log_warn("%s: data after NBD_OPT_STARTTLS before its reply, hanging up", c->peer);
		return OPT_CLOSE;
	}
	if (send_ack(c, o->opt) == OPT_CLOSE)
		return OPT_CLOSE;
	c->tls = tls_accept(c->srv->tls, c->rfd, why, sizeof(why));
	if (!c->tls) {
		log_warn("%s: TLS handshake failed: %s", c->peer, why);
		return OPT_CLOSE;
	}
	/* What was negotiated in the clear does not carry over (proto.md). */
	c->structured = false;
	c->meta_alloc = false;
	free(c->meta_export);
	c->meta_export = NULL;
	log_info("%s: TLS: %s", c->peer, tls_describe(c->tls));
	log_debug("%s: kernel TLS: send %s, receive %s", c->peer,
		  tls_ktls_send(c->tls) ? "on" : "off", tls_ktls_recv(c->tls) ? "on" : "off");
	return OPT_NEXT;
}

static int send_info(struct conn *c, uint32_t opt, uint16_t type, const void *data,
		     uint32_t len)
{
	uint16_t be_type = htobe16(type);

	return send_reply2(c, opt, NBD_REP_INFO, &be_type, 2, data, len);
}

/* NBD_OPT_INFO and NBD_OPT_GO */
static enum opt_result opt_info_go(struct conn *c, struct option_req *o)
{
	struct cursor cur = { o->data, o->len };
	bool want_name = false, want_desc = false;
	const struct export *e;
	enum opt_result rc = OPT_NEXT;
	uint16_t nreq, req = 0, i;
	char *name;

	name = get_lstring(&cur);
	if (!name)
		return send_error(c, o->opt, NBD_REP_ERR_INVALID, "bad export name");
	if (!get_u16(&cur, &nreq) || cur.left != 2u * nreq) {
		rc = send_error(c, o->opt, NBD_REP_ERR_INVALID, "bad information request list");
		goto out;
	}
	for (i = 0; i < nreq; i++) {
		get_u16(&cur, &req);
		want_name |= req == NBD_INFO_NAME;
		want_desc |= req == NBD_INFO_DESCRIPTION;
	}
	e = export_find(c->srv, name);
	if (!e) {
		rc = send_error(c, o->opt, NBD_REP_ERR_UNKNOWN, "no export \"%s\"", name);
		goto out;
	}

	struct nbd_info_export ie = {
		.info = htobe16(NBD_INFO_EXPORT),
		.size = htobe64(e->backend->size),
		.flags = htobe16(export_flags(e, c->structured)),
	};
	struct nbd_info_block_size bs = {
		.info = htobe16(NBD_INFO_BLOCK_SIZE),
		.minimum = htobe32(SERVER_MIN_BLOCK),
		.preferred = htobe32(SERVER_PREF_BLOCK),
		.maximum = htobe32(NBD_MAX_PAYLOAD),
	};
	/* The structs start with the info type already: send them whole. */
	if (send_reply(c, o->opt, NBD_REP_INFO, &ie, sizeof(ie)) < 0 ||
	    send_reply(c, o->opt, NBD_REP_INFO, &bs, sizeof(bs)) < 0 ||
	    (want_name && send_info(c, o->opt, NBD_INFO_NAME, e->name,
				    (uint32_t)strlen(e->name)) < 0) ||
	    (want_desc && e->description &&
	     send_info(c, o->opt, NBD_INFO_DESCRIPTION, e->description,
		       (uint32_t)strlen(e->description)) < 0) ||
	    send_ack(c, o->opt) == OPT_CLOSE) {
		rc = OPT_CLOSE;
		goto out;
	}
	if (o->opt == NBD_OPT_GO) {
		choose_export(c, e, name);
		rc = OPT_TRANSMIT;
	}
out:
	free(name);
	return rc;
}

static enum opt_result opt_structured_reply(struct conn *c, struct option_req *o)
{
	if (o->len)
		return send_error(c, o->opt, NBD_REP_ERR_INVALID,
				  "NBD_OPT_STRUCTURED_REPLY takes no data");
	c->structured = true;
	return send_ack(c, o->opt);
}

/*
 * Does metadata context query @q select base:allocation?  "base:" is a
 * wildcard only when listing; other namespaces and leaves are ignored.
 */
static bool query_selects_allocation(const char *q, bool listing)
{
	return !strcmp(q, "base:allocation") || (listing && !strcmp(q, "base:"));
}

/* NBD_OPT_LIST_META_CONTEXT and NBD_OPT_SET_META_CONTEXT */
static enum opt_result opt_meta_context(struct conn *c, struct option_req *o)
{
	bool listing = o->opt == NBD_OPT_LIST_META_CONTEXT, found = false;
	struct cursor cur = { o->data, o->len };
	enum opt_result rc;
	uint32_t nq, i;
	char *name, *q;

	if (!listing) {		/* replaces the selection, even on failure */
		c->meta_alloc = false;
		free(c->meta_export);
		c->meta_export = NULL;
	}
	if (!c->structured)
		return send_error(c, o->opt, NBD_REP_ERR_INVALID,
				  "negotiate structured replies first");
	name = get_lstring(&cur);
	if (!name)
		return send_error(c, o->opt, NBD_REP_ERR_INVALID, "bad export name");
	if (!get_u32(&cur, &nq) || nq > cur.left / 4) {
		rc = send_error(c, o->opt, NBD_REP_ERR_INVALID, "bad query count");
		goto out;
	}
	/* Parse every query before answering: a bad one fails the option. */
	for (i = 0; i < nq; i++) {
		q = get_lstring(&cur);
		if (!q || !strchr(q, ':')) {
			free(q);
			rc = send_error(c, o->opt, NBD_REP_ERR_INVALID, "bad query %u", i);
			goto out;
		}
		found |= query_selects_allocation(q, listing);
		free(q);
	}
	if (cur.left) {
		rc = send_error(c, o->opt, NBD_REP_ERR_INVALID, "trailing option data");
		goto out;
	}
	if (!export_find(c->srv, name)) {
		rc = send_error(c, o->opt, NBD_REP_ERR_UNKNOWN, "no export \"%s\"", name);
		goto out;
	}
	if (listing && nq == 0)
		found = true;
	if (found) {
		static const char ctx[] = "base:allocation";
		uint32_t id = htobe32(listing ? 0 : META_ID_BASE_ALLOCATION);

		if (send_reply2(c, o->opt, NBD_REP_META_CONTEXT, &id, 4, ctx,
				sizeof(ctx) - 1) < 0) {
			rc = OPT_CLOSE;
			goto out;
		}
		if (!listing) {
			c->meta_alloc = true;
			c->meta_export = name;
			name = NULL;
		}
	}
	rc = send_ack(c, o->opt);
out:
	free(name);
	return rc;
}

static const struct option_handler {
	uint32_t opt;
	enum opt_result (*fn)(struct conn *c, struct option_req *o);
} option_handlers[] = {
	{ NBD_OPT_EXPORT_NAME, opt_export_name },
	{ NBD_OPT_ABORT, opt_abort },
	{ NBD_OPT_LIST, opt_list },
	{ NBD_OPT_STARTTLS, opt_starttls },
	{ NBD_OPT_INFO, opt_info_go },
	{ NBD_OPT_GO, opt_info_go },
	{ NBD_OPT_STRUCTURED_REPLY, opt_structured_reply },
	{ NBD_OPT_LIST_META_CONTEXT, opt_meta_context },
	{ NBD_OPT_SET_META_CONTEXT, opt_meta_context },
};

static enum opt_result dispatch(struct conn *c, struct option_req *o)
{
	size_t i;

	log_debug("%s: option %s (%u), %u bytes", c->peer, nbd_option_name(o->opt), o->opt,
		  o->len);
	if (c->srv->tls_mode == TLS_REQUIRE && !c->tls && o->opt != NBD_OPT_STARTTLS &&
	    o->opt != NBD_OPT_ABORT) {
		if (o->opt == NBD_OPT_EXPORT_NAME) {	/* no error reply exists for it */
			log_warn("%s: NBD_OPT_EXPORT_NAME without TLS, which is required: "
				 "hanging up", c->peer);
			return OPT_CLOSE;
		}
		log_warn("%s: %s without TLS, which is required: refused", c->peer,
			 nbd_option_name(o->opt));
		return send_error(c, o->opt, NBD_REP_ERR_TLS_REQD,
				  "TLS is required: use NBD_OPT_STARTTLS first");
	}
	for (i = 0; i < sizeof(option_handlers) / sizeof(option_handlers[0]); i++)
		if (option_handlers[i].opt == o->opt)
			return option_handlers[i].fn(c, o);
	return send_error(c, o->opt, NBD_REP_ERR_UNSUP, "option %u not supported", o->opt);
}

/* Greeting and client flags; 0 or -1. */
static int greet(struct conn *c)
{
	struct nbd_greeting g = {
		.magic = htobe64(NBD_MAGIC),
		.ihaveopt = htobe64(NBD_IHAVEOPT),
		.flags = htobe16(NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES),
	};
	uint32_t cflags;

	if (send_data(c, &g, sizeof(g)) < 0)
		return -1;
	if (conn_read(c, &cflags, sizeof(cflags)) < 0) {
		log_debug("%s: no client flags: %s", c->peer, strerror(errno));
		return -1;
	}
	cflags = be32toh(cflags);
	if (cflags & ~(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES)) {
		log_warn("%s: unknown client flags 0x%x", c->peer, cflags);
		return -1;
	}
	c->no_zeroes = cflags & NBD_FLAG_C_NO_ZEROES;
	return 0;
}

int handshake(struct conn *c)
{
	unsigned int n;

	if (greet(c) < 0)
		return -1;
	for (n = 0; n < CONN_MAX_OPTIONS; n++) {
		struct nbd_option h;
		struct option_req o;
		enum opt_result rc;

		if (conn_read(c, &h, sizeof(h)) < 0) {
			log_debug("%s: handshake ended: %s", c->peer, strerror(errno));
			return -1;
		}
		if (be64toh(h.magic) != NBD_IHAVEOPT) {
			log_warn("%s: bad option magic, hanging up", c->peer);
			return -1;
		}
		o.opt = be32toh(h.option);
		o.len = be32toh(h.length);
		if (o.len > NBD_MAX_OPTION_DATA) {
			if (o.opt == NBD_OPT_EXPORT_NAME || conn_skip(c, o.len) < 0)
				return -1;
			if (send_error(c, o.opt, NBD_REP_ERR_TOO_BIG, "option data too long") ==
			    OPT_CLOSE)
				return -1;
			continue;
		}
		o.data = malloc(o.len ? o.len : 1);
		if (!o.data || conn_read(c, o.data, o.len) < 0) {
			free(o.data);
			return -1;
		}
		rc = dispatch(c, &o);
		free(o.data);
		if (rc == OPT_TRANSMIT)
			return 0;
		if (rc == OPT_CLOSE)
			return -1;
	}
	log_warn("%s: more than %u options, hanging up", c->peer, CONN_MAX_OPTIONS);
	return -1;
}
