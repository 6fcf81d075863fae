// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: what an authenticated TLS 1.3 peer may send after the
 * handshake, through lib/tls-record.c's receiving side.
 *
 * The peer is played here with the same secrets the record layer is given,
 * so its records are well encrypted and the parsing behind the AEAD is
 * what gets fuzzed.  The input's first bytes choose the cipher suite, the
 * sequence number the records start at and the sizes asked of
 * tls_records_recv(); then come operations, each making records of the
 * stream (see the OP_* below): application data with any length and
 * padding, records of any inner content type, NewSessionTickets and
 * KeyUpdates fragmented across records anywhere (the peer's key follows
 * its KeyUpdate), alerts, records with
 * a header of the input's, damaged records, raw bytes.  The stream goes
 * through a socketpair, written as the receiver reads, then ends.
 *
 * Besides the sanitizers, the harness aborts when the receiver loops, when
 * it returns data that is not what the peer's application data records
 * held, in order, and when a stream made only of well-formed operations is
 * not read to its end without error.  After reading, a few sends check that
 * the answer to a KeyUpdate request and the record layer's own KeyUpdates
 * (after TLS_RECORD_KEY_USES records, low in this build) open with the key
 * schedule the peer follows.  Run it with tests/host/tls-record-fuzz-brief.sh
 * or tools/run-fuzz tls-record.
 */
#include "../../lib/tls-record.c"

#include <fcntl.h>
#include <stdio.h>

#define STREAM_MAX	(1u << 20)

enum {
	/* CONTENT: u8 count, that many bytes, then a pattern to the length */
	OP_DATA,	/* u16 length, u16 padding, CONTENT: application data */
	OP_TYPED,	/* u8 inner type, u16 length, u16 padding, CONTENT: anything */
	OP_TICKET,	/* u16 length, CONTENT, 3 u16 cuts: a NewSessionTicket */
	OP_KEY_UPDATE,	/* u8 request_update and cut */
	OP_ALERT,	/* u8 level, u8 description */
	OP_HEADER,	/* 5 header bytes, CONTENT: sealed under that header */
	OP_DAMAGED,	/* u16 length, u16 bit, CONTENT: a data record, one bit flipped */
	OP_RAW,		/* u8 count, bytes: straight into the stream */
	OP_COUNT
};

struct input {
	const uint8_t *p;
	size_t left;
};

struct peer {
	struct rec_keys tx;	/* what it seals with, as the receiver opens */
	unsigned char *stream;
	size_t len;
	unsigned char *expect;	/* the application data, in order */
	size_t expect_len;
	bool predictable;	/* every operation so far well-formed */
	bool must_refuse;	/* then one the receiver must refuse (EPROTO) */
	bool closed;		/* close_notify sent */
	bool asked;		/* asked the receiver for its KeyUpdate */
	uint8_t filler;
};

static uint8_t in_u8(struct input *in)
{
	if (!in->left)
		return 0;
	in->left--;
	return *in->p++;
}

static uint16_t in_u16(struct input *in)
{
	uint16_t hi = in_u8(in);

	return (uint16_t)(hi << 8 | in_u8(in));
}

/* @len bytes of content: as many of the input's as its next byte says,
 * then a pattern (so a short input can still make full records). */
static void in_bytes(struct input *in, struct peer *pe, unsigned char *out, size_t len)
{
	size_t take = in_u8(in);

	take = take < len ? take : len;
	take = take < in->left ? take : in->left;
	memcpy(out, in->p, take);
	in->p += take;
	in->left -= take;
	for (; take < len; take++)
		out[take] = pe->filler++;
}

/* @len bytes of the input's, zeroes once it has run out */
static void in_literal(struct input *in, unsigned char *out, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		out[i] = in_u8(in);
}

/* Seal @inner (content, type, padding) into the stream under header @hdr,
 * whatever length that says. */
static void seal_inner(struct peer *pe, const unsigned char hdr[REC_HEADER],
		       const unsigned char *inner, size_t inner_len)
{
	unsigned char iv[REC_IV], *out = pe->stream + pe->len;
	int outl;

	if (pe->len + REC_HEADER + inner_len + REC_TAG > STREAM_MAX) {
		pe->predictable = false;	/* the stream is cut short */
		return;
	}
	memcpy(out, hdr, REC_HEADER);
	nonce(&pe->tx, iv);
	pe->tx.seq++;
	if (EVP_EncryptInit_ex(pe->tx.aead, NULL, NULL, NULL, iv) != 1 ||
	    EVP_EncryptUpdate(pe->tx.aead, NULL, &outl, hdr, REC_HEADER) != 1 ||
	    EVP_EncryptUpdate(pe->tx.aead, out + REC_HEADER, &outl, inner, (int)inner_len) != 1 ||
	    EVP_EncryptFinal_ex(pe->tx.aead, out + REC_HEADER + inner_len, &outl) != 1 ||
	    EVP_CIPHER_CTX_ctrl(pe->tx.aead, EVP_CTRL_AEAD_GET_TAG, REC_TAG,
				out + REC_HEADER + inner_len) != 1)
		abort();
	pe->len += REC_HEADER + inner_len + REC_TAG;
}

/* A record as a peer sends it: @content, then @type, then @pad zeroes. */
static void seal_record(struct peer *pe, uint8_t type, const unsigned char *content, size_t len,
			size_t pad)
{
	static unsigned char inner[REC_BODY_MAX + 1 + 0xffff];
	size_t inner_len = len + 1 + pad, body;
	unsigned char hdr[REC_HEADER] = { REC_TYPE_DATA, 3, 3 };

	memcpy(inner, content, len);
	inner[len] = type;
	memset(inner + len + 1, 0, pad);
	body = inner_len + REC_TAG;
	hdr[3] = (unsigned char)(body >> 8);
	hdr[4] = (unsigned char)body;
	if (body > 0xffff) {
		pe->predictable = false;
		return;
	}
	seal_inner(pe, hdr, inner, inner_len);
}

/* After well-formed records, one that must end the stream with EPROTO. */
static void must_refuse(struct peer *pe)
{
	if (pe->predictable && !pe->closed)
		pe->must_refuse = true;
	pe->predictable = false;
}

static void op_data(struct input *in, struct peer *pe)
{
	static unsigned char content[REC_PLAIN_MAX];
	size_t len = in_u16(in) % (REC_PLAIN_MAX + 1), pad = in_u16(in);

	/* RFC 8446 5.4: the inner plaintext is at most 2^14 + 1 bytes */
	pad %= REC_PLAIN_MAX - len + 1;
	in_bytes(in, pe, content, len);
	if (pe->predictable && !pe->closed && pe->len + REC_HEADER + len + 1 + pad + REC_TAG <= STREAM_MAX) {
		memcpy(pe->expect + pe->expect_len, content, len);
		pe->expect_len += len;
	}
	seal_record(pe, REC_TYPE_DATA, content, len, pad);
}

static void op_typed(struct input *in, struct peer *pe)
{
	static unsigned char content[REC_BODY_MAX];
	uint8_t type = in_u8(in);
	size_t len = in_u16(in) % (REC_BODY_MAX + 1), pad = in_u16(in) % (REC_BODY_MAX + 1);

	size_t end = len;
	uint8_t real = type;	/* a zero type is padding: the last byte that is not */
	bool refuse;

	in_bytes(in, pe, content, len);
	while (!real && end)
		real = content[--end];
	/* RFC 8446 5.1, 5.2 and 5.4: no other types, no inner plaintext
	 * beyond 2^14 + 1 bytes, no empty handshake records */
	refuse = (real != REC_TYPE_DATA && real != REC_TYPE_HANDSHAKE && real != REC_TYPE_ALERT) ||
		 len + 1 + pad > REC_PLAIN_MAX + 1 || (real == REC_TYPE_HANDSHAKE && end == 0);
	seal_record(pe, type, content, len, pad);
	if (refuse)
		must_refuse(pe);	/* only if it went into the stream */
	pe->predictable = false;
}

/* A NewSessionTicket of @len bytes of body in up to 4 records, cut where
 * the input says (RFC 8446 5.1: anywhere, its header too). */
static void op_ticket(struct input *in, struct peer *pe)
{
	static unsigned char msg[4 + 4096];
	size_t len = in_u16(in) % 4096, done = 0, i;

	msg[0] = HS_NEW_SESSION_TICKET;
	msg[1] = 0;
	msg[2] = (unsigned char)(len >> 8);
	msg[3] = (unsigned char)len;
	in_bytes(in, pe, msg + 4, len);
	for (i = 0; i < 3 && done < 4 + len; i++) {
		size_t cut = done + 1 + in_u16(in) % (4 + len - done);

		seal_record(pe, REC_TYPE_HANDSHAKE, msg + done, cut - done, 0);
		done = cut;
	}
	if (done < 4 + len)
		seal_record(pe, REC_TYPE_HANDSHAKE, msg + done, 4 + len - done, 0);
}

/* u8: bit 0 request_update, the rest where to cut it in two records (0 or
 * 5 and over: one record). */
static void op_key_update(struct input *in, struct peer *pe)
{
	uint8_t arg = in_u8(in);
	unsigned char msg[5] = { HS_KEY_UPDATE, 0, 0, 1, arg & 1 };
	size_t cut = arg >> 1;

	if (cut == 0 || cut >= sizeof(msg)) {
		seal_record(pe, REC_TYPE_HANDSHAKE, msg, sizeof(msg), 0);
	} else {
		seal_record(pe, REC_TYPE_HANDSHAKE, msg, cut, 0);
		seal_record(pe, REC_TYPE_HANDSHAKE, msg + cut, sizeof(msg) - cut, 0);
	}
	if (keys_update(&pe->tx) < 0)
		abort();
	if (msg[4] && pe->predictable && !pe->closed)
		pe->asked = true;
}

static void op_alert(struct input *in, struct peer *pe)
{
	unsigned char alert[2];

	alert[0] = in_u8(in);
	alert[1] = in_u8(in);
	seal_record(pe, REC_TYPE_ALERT, alert, sizeof(alert), 0);
	if (alert[1] == 0)
		pe->closed = true;	/* close_notify: what follows is not read */
	else
		must_refuse(pe);
}

static void op_header(struct input *in, struct peer *pe)
{
	static unsigned char inner[0xffff];
	unsigned char hdr[REC_HEADER];
	size_t body, inner_len;

	in_literal(in, hdr, REC_HEADER);
	body = (size_t)hdr[3] << 8 | hdr[4];
	inner_len = body > REC_TAG ? body - REC_TAG : 0;
	in_bytes(in, pe, inner, inner_len);
	pe->predictable = false;
	seal_inner(pe, hdr, inner, inner_len);
}

static void op_damaged(struct input *in, struct peer *pe)
{
	static unsigned char content[REC_PLAIN_MAX];
	size_t len = in_u16(in) % (REC_PLAIN_MAX + 1), start = pe->len, bit = in_u16(in);

	in_bytes(in, pe, content, len);
	seal_record(pe, REC_TYPE_DATA, content, len, 0);
	if (pe->len > start)
		pe->stream[start + REC_HEADER + (bit / 8) % (pe->len - start - REC_HEADER)] ^=
			(unsigned char)(1u << (bit % 8));
	must_refuse(pe);
}

static void op_raw(struct input *in, struct peer *pe)
{
	size_t n = in_u8(in) % 33;

	if (pe->len + n <= STREAM_MAX) {
		in_literal(in, pe->stream + pe->len, n);
		pe->len += n;
	}
	pe->predictable = false;
}

static void make_stream(struct input *in, struct peer *pe)
{
	while (in->left) {
		switch (in_u8(in) % OP_COUNT) {
		case OP_DATA:
			op_data(in, pe);
			break;
		case OP_TYPED:
			op_typed(in, pe);
			break;
		case OP_TICKET:
			op_ticket(in, pe);
			break;
		case OP_KEY_UPDATE:
			op_key_update(in, pe);
			break;
		case OP_ALERT:
			op_alert(in, pe);
			break;
		case OP_HEADER:
			op_header(in, pe);
			break;
		case OP_DAMAGED:
			op_damaged(in, pe);
			break;
		default:
			op_raw(in, pe);
			break;
		}
	}
}

/* Read the stream as a daemon does, writing it into the socket as it goes;
 * the bytes read, or -1 when the record layer refused something. */
static ssize_t read_stream(struct tls_records *r, int wfd, struct peer *pe, size_t min,
			   size_t len)
{
	static unsigned char got[STREAM_MAX];
	unsigned char *buf = malloc(len);	/* its own, for ASan to guard */
	size_t written = 0, total = 0;
	/* Each round returns a byte at least, or finds the socket drained so
	 * that the next write adds a byte at least, or ends. */
	size_t rounds, rounds_max = 2 * pe->len + 2;
	bool shut = false;
	ssize_t n = -1;
	int err = 0;

	if (!buf)
		abort();
	for (rounds = 0; rounds < rounds_max; rounds++) {
		ssize_t w = written < pe->len ? write(wfd, pe->stream + written, pe->len - written) : 0;

		if (w > 0)
			written += (size_t)w;
		if (written == pe->len && !shut) {
			shutdown(wfd, SHUT_WR);
			shut = true;
		}
		n = tls_records_recv(r, buf, min, len);
		err = errno;
		/* an error kept for the next call must not wait for poll() */
		if (r->error && !tls_records_buffered(r))
			abort();
		if (n > 0) {
			if ((size_t)n > len || total + (size_t)n > STREAM_MAX)
				abort();
			memcpy(got + total, buf, (size_t)n);
			total += (size_t)n;
			continue;
		}
		if (n == 0 || err != EAGAIN)
			break;
		if (shut)
			abort();	/* the stream has ended: EAGAIN is a lie */
	}
	if (rounds == rounds_max)
		abort();	/* loops */
	/* Whatever came must be the peer's application data, in order. */
	if (memcmp(got, pe->expect, total < pe->expect_len ? total : pe->expect_len))
		abort();
	if (pe->predictable && (n != 0 || total != pe->expect_len))
		abort();	/* a well-formed stream not read to its end */
	if (pe->must_refuse && (n >= 0 || err != EPROTO || total != pe->expect_len))
		abort();	/* read past what it should have refused */
	free(buf);
	return n < 0 ? -1 : (ssize_t)total;
}

/* Send a few small pieces and open them as the peer would: a KeyUpdate
 * first if it asked for one, and one each time the sender's key has sealed
 * TLS_RECORD_KEY_USES records. */
static void check_sends(struct tls_records *r, int wfd, struct rec_keys *peer_rx, uint8_t sends,
			bool asked)
{
	unsigned char piece[64], rec[REC_HEADER + sizeof(piece) + 1 + REC_TAG], open[sizeof(rec)];
	struct iovec iov = { .iov_base = piece, .iov_len = sizeof(piece) };
	unsigned int i, key_updates = 0;
	uint64_t sealed = r->tx.seq;

	memset(piece, 0x5a, sizeof(piece));
	for (i = 0; i < sends; i++) {
		bool update = (i == 0 && asked) || sealed >= TLS_RECORD_KEY_USES;
		uint8_t type;
		ssize_t n;

		if (tls_records_send(r, &iov, 1) != (ssize_t)sizeof(piece))
			abort();
		if (update) {
			if (read(wfd, rec, REC_HEADER + 5 + 1 + REC_TAG) != REC_HEADER + 5 + 1 + REC_TAG ||
			    open_record(peer_rx, rec, open, &type) != 5 || type != REC_TYPE_HANDSHAKE ||
			    open[0] != HS_KEY_UPDATE || open[4] != 0 || keys_update(peer_rx) < 0)
				abort();
			key_updates++;
			sealed = 0;
		}
		if (read(wfd, rec, sizeof(rec)) != (ssize_t)sizeof(rec))
			abort();
		n = open_record(peer_rx, rec, open, &type);
		if (n != (ssize_t)sizeof(piece) || type != REC_TYPE_DATA || memcmp(open, piece, sizeof(piece)))
			abort();
		sealed++;
	}
	if (sends > TLS_RECORD_KEY_USES && !key_updates)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned char rx_secret[48] = "the peer's traffic secret, 48 bytes for SHA384";
	static const unsigned char tx_secret[48] = "our own traffic secret, 48 bytes for SHA-384!";
	static const int nids[] = { NID_aes_128_gcm, NID_aes_256_gcm, NID_chacha20_poly1305 };
	static unsigned char stream[STREAM_MAX], expect[STREAM_MAX];
	struct input in = { data, size };
	struct peer pe = { .stream = stream, .expect = expect, .predictable = true };
	struct rec_keys peer_rx = { 0 };
	struct tls_records *r;
	int nid = nids[in_u8(&in) % 3], sv[2];
	const EVP_MD *md = nid == NID_aes_256_gcm ? EVP_sha384() : EVP_sha256();
	size_t secret_len = (size_t)EVP_MD_get_size(md), len, min;
	uint64_t seq = in_u8(&in);
	uint8_t sends;

	len = in_u16(&in) % (REC_IN_BUFFER + 1) + 1;
	min = in_u16(&in) % len + 1;
	sends = in_u8(&in) % 8;
	if (keys_init(&pe.tx, cipher_of(nid), md, rx_secret, secret_len, seq, 1) < 0 ||
	    keys_init(&peer_rx, cipher_of(nid), md, tx_secret, secret_len, seq, 0) < 0)
		abort();
	make_stream(&in, &pe);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 ||
	    fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0 || fcntl(sv[1], F_SETFL, O_NONBLOCK) < 0)
		abort();
	r = tls_records_new(sv[0], nid, md, rx_secret, tx_secret, secret_len, seq, seq);
	if (!r)
		abort();
	if (read_stream(r, sv[1], &pe, min, len) >= 0 && pe.predictable)
		check_sends(r, sv[1], &peer_rx, sends, pe.asked);
	tls_records_close(r);
	close(sv[0]);
	close(sv[1]);
	keys_free(&pe.tx);
	keys_free(&peer_rx);
	return 0;
}
