// SPDX-License-Identifier: GPL-2.0
/* TLS 1.3 records in userspace (RFC 8446 section 5): see tls-record.h. */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/kdf.h>
#include <openssl/objects.h>

#include "tls-record.h"

#define REC_HEADER	5
#define REC_TAG		16
#define REC_IV		12
#define REC_PLAIN_MAX	(16u << 10)		/* content of one record */
#define REC_BODY_MAX	(REC_PLAIN_MAX + 256)	/* what a peer may send */
#define REC_IN_MAX	(REC_HEADER + REC_BODY_MAX)
#define REC_OUT_MAX	(REC_HEADER + REC_PLAIN_MAX + 1 + REC_TAG)	/* what we send */
#define REC_TYPE_ALERT		21
#define REC_TYPE_HANDSHAKE	22
#define REC_TYPE_DATA		23
#define HS_NEW_SESSION_TICKET	4
#define HS_KEY_UPDATE		24
/* One read() or write() moves up to this many records (256 KiB). */
#define REC_BATCH	16
#define REC_IN_BUFFER	(REC_BATCH * REC_IN_MAX)
#define REC_OUT_BUFFER	(REC_BATCH * REC_OUT_MAX)
/* RFC 8446 5.5: AES-GCM keys are good for about 2^24.5 full records; a
 * connection that sends more changes its key (KeyUpdate) on the way.  Test
 * builds set it low to see that happen (tests/fuzz, tests/host). */
#ifndef TLS_RECORD_KEY_USES
#define TLS_RECORD_KEY_USES	(1ull << 24)
#endif

struct rec_keys {
	EVP_CIPHER_CTX *aead;
	const EVP_CIPHER *cipher;
	const EVP_MD *md;
	unsigned char secret[EVP_MAX_MD_SIZE];
	size_t secret_len;
	unsigned char iv[REC_IV];
	uint64_t seq;
};

struct tls_records {
	int fd;
	struct rec_keys rx, tx;
	/* Received ciphertext [in_pos, in_end); a record opened in place
	 * leaves its plaintext at [plain_pos, plain_end), returned first. */
	unsigned char *in;
	size_t in_pos, in_end, plain_pos, plain_end;
	/* Handshake messages may come in pieces (RFC 8446 5.1): the header
	 * (and a KeyUpdate's one byte) read so far, a NewSessionTicket's
	 * body still to skip. */
	unsigned char hs_msg[5];
	size_t hs_have, ticket_left;
	bool eof;
	int error;		/* what the peer did wrong, once the data before is read */
	/* Ciphertext to write [out_pos, out_end), made of the first
	 * @out_owed bytes the caller gave (counted once it is written). */
	unsigned char *out;
	size_t out_pos, out_end, out_owed;
	atomic_bool key_update_asked;	/* the peer asked for our KeyUpdate */
};

/* ---- keys ---- */

/* HKDF-Expand-Label(secret, label, "", len) of RFC 8446 7.1. */
static int expand_label(const struct rec_keys *k, const unsigned char *secret,
			const char *label, unsigned char *out, size_t len)
{
	unsigned char info[2 + 1 + 6 + 16 + 1];
	size_t label_len = strlen(label), info_len = 0;
	int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY, rc = -1;
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL);
	EVP_KDF_CTX *kctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	OSSL_PARAM params[5];

	info[info_len++] = (unsigned char)(len >> 8);
	info[info_len++] = (unsigned char)len;
	info[info_len++] = (unsigned char)(6 + label_len);
	memcpy(info + info_len, "tls13 ", 6);
	memcpy(info + info_len + 6, label, label_len);
	info_len += 6 + label_len;
	info[info_len++] = 0;	/* no context */
	params[0] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	params[1] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						     (char *)EVP_MD_get0_name(k->md), 0);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)secret,
						      k->secret_len);
	params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, info_len);
	params[4] = OSSL_PARAM_construct_end();
	if (kctx && EVP_KDF_derive(kctx, out, len, params) == 1)
		rc = 0;
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	return rc;
}

/* The key and IV of k->secret, counting records from 0. */
static int keys_from_secret(struct rec_keys *k)
{
	unsigned char key[32];
	int key_len = EVP_CIPHER_get_key_length(k->cipher), rc = -1;

	if (key_len <= 0 || (size_t)key_len > sizeof(key))
		return -1;
	if (expand_label(k, k->secret, "key", key, (size_t)key_len) == 0 &&
	    expand_label(k, k->secret, "iv", k->iv, REC_IV) == 0 &&
	    EVP_CipherInit_ex(k->aead, k->cipher, NULL, key, NULL, -1) == 1)
		rc = 0;
	OPENSSL_cleanse(key, sizeof(key));
	k->seq = 0;
	return rc;
}

static int keys_init(struct rec_keys *k, const EVP_CIPHER *cipher, const EVP_MD *md,
		     const unsigned char *secret, size_t secret_len, uint64_t seq, int enc)
{
	k->cipher = cipher;
	k->md = md;
	k->aead = EVP_CIPHER_CTX_new();
	if (!k->aead || secret_len > sizeof(k->secret) ||
	    EVP_CipherInit_ex(k->aead, cipher, NULL, NULL, NULL, enc) != 1)
		return -1;
	memcpy(k->secret, secret, secret_len);
	k->secret_len = secret_len;
	if (keys_from_secret(k) < 0)
		return -1;
	k->seq = seq;
	return 0;
}

/* KeyUpdate: the next generation of the secret (RFC 8446 7.2). */
static int keys_update(struct rec_keys *k)
{
	unsigned char next[EVP_MAX_MD_SIZE];
	int rc;

	rc = expand_label(k, k->secret, "traffic upd", next, k->secret_len);
	memcpy(k->secret, next, k->secret_len);
	OPENSSL_cleanse(next, sizeof(next));
	return rc < 0 ? -1 : keys_from_secret(k);
}

static void keys_free(struct rec_keys *k)
{
	EVP_CIPHER_CTX_free(k->aead);
	OPENSSL_cleanse(k->secret, sizeof(k->secret));
	OPENSSL_cleanse(k->iv, sizeof(k->iv));
}

/* The per-record nonce: the IV xor the sequence number. */
static void nonce(const struct rec_keys *k, unsigned char *out)
{
	int i;

	memcpy(out, k->iv, REC_IV);
	for (i = 0; i < 8; i++)
		out[REC_IV - 1 - i] ^= (unsigned char)(k->seq >> (8 * i));
}

static void records_free(struct tls_records *r)
{
	keys_free(&r->rx);
	keys_free(&r->tx);
	free(r->in);
	free(r->out);
	free(r);
}

static const EVP_CIPHER *cipher_of(int nid)
{
	switch (nid) {
	case NID_aes_128_gcm:
		return EVP_aes_128_gcm();
	case NID_aes_256_gcm:
		return EVP_aes_256_gcm();
	case NID_chacha20_poly1305:
		return EVP_chacha20_poly1305();
	default:
		return NULL;
	}
}

struct tls_records *tls_records_new(int fd, int cipher_nid, const EVP_MD *md,
				    const unsigned char *rx_secret, const unsigned char *tx_secret,
				    size_t secret_len, uint64_t rx_seq, uint64_t tx_seq)
{
	const EVP_CIPHER *cipher = cipher_of(cipher_nid);
	struct tls_records *r;

	if (!cipher || !md)
		return NULL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->fd = fd;
	r->in = malloc(REC_IN_BUFFER);
	r->out = tx_secret ? malloc(REC_OUT_BUFFER) : NULL;
	if (!r->in || (tx_secret && !r->out) ||
	    keys_init(&r->rx, cipher, md, rx_secret, secret_len, rx_seq, 0) < 0 ||
	    (tx_secret && keys_init(&r->tx, cipher, md, tx_secret, secret_len, tx_seq, 1) < 0)) {
		records_free(r);
		return NULL;
	}
	return r;
}

/* ---- sealing ---- */

/* One record of @type from @len bytes of @iov (from @skip on) into @out;
 * the bytes written to @out.  Room: REC_HEADER + len + 1 + REC_TAG. */
static size_t seal(struct rec_keys *k, uint8_t type, const struct iovec *iov, size_t skip,
		   size_t len, unsigned char *out)
{
	size_t body = len + 1 + REC_TAG, done = 0;
	unsigned char iv[REC_IV];
	int outl;

	out[0] = REC_TYPE_DATA;
	out[1] = 3;
	out[2] = 3;
	out[3] = (unsigned char)(body >> 8);
	out[4] = (unsigned char)body;
	nonce(k, iv);
	k->seq++;
	/* Failures here are failures of the library, not of the peer: they
	 * would show as a record the peer cannot open. */
	EVP_EncryptInit_ex(k->aead, NULL, NULL, NULL, iv);
	EVP_EncryptUpdate(k->aead, NULL, &outl, out, REC_HEADER);
	for (; done < len; iov++) {
		size_t take;

		if (skip >= iov->iov_len) {
			skip -= iov->iov_len;
			continue;
		}
		take = iov->iov_len - skip < len - done ? iov->iov_len - skip : len - done;
		EVP_EncryptUpdate(k->aead, out + REC_HEADER + done, &outl,
				  (const unsigned char *)iov->iov_base + skip, (int)take);
		done += take;
		skip = 0;
	}
	EVP_EncryptUpdate(k->aead, out + REC_HEADER + len, &outl, &type, 1);
	EVP_EncryptFinal_ex(k->aead, out + REC_HEADER + len + 1, &outl);
	EVP_CIPHER_CTX_ctrl(k->aead, EVP_CTRL_AEAD_GET_TAG, REC_TAG, out + REC_HEADER + len + 1);
	return REC_HEADER + body;
}

/* Our KeyUpdate, then the next key: when the peer asked, or before this
 * key has sealed too much. */
static int send_key_update(struct tls_records *r)
{
	/* handshake message KeyUpdate, update_not_requested */
	unsigned char msg[5] = { HS_KEY_UPDATE, 0, 0, 1, 0 };
	struct iovec iov = { .iov_base = msg, .iov_len = sizeof(msg) };

	r->out_end += seal(&r->tx, REC_TYPE_HANDSHAKE, &iov, 0, sizeof(msg), r->out + r->out_end);
	return keys_update(&r->tx);
}

/* Write what @out holds.  0 when all of it went, or -1 with errno. */
static int flush(struct tls_records *r)
{
	while (r->out_pos < r->out_end) {
		ssize_t n = send(r->fd, r->out + r->out_pos, r->out_end - r->out_pos, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		r->out_pos += (size_t)n;
	}
	r->out_pos = r->out_end = 0;
	return 0;
}

ssize_t tls_records_send(struct tls_records *r, const struct iovec *iov, int n)
{
	size_t total = 0, taken = 0;
	int i;

	if (r->out_pos < r->out_end && flush(r) < 0)
		return -1;
	if (r->out_owed) {	/* the bytes of the call that had to wait */
		taken = r->out_owed;
		r->out_owed = 0;
		return (ssize_t)taken;
	}
	if ((atomic_exchange(&r->key_update_asked, false) || r->tx.seq >= TLS_RECORD_KEY_USES) &&
	    send_key_update(r) < 0) {
		errno = EPROTO;
		return -1;
	}
	for (i = 0; i < n; i++)
		total += iov[i].iov_len;
	while (taken < total && REC_OUT_BUFFER - r->out_end >= REC_OUT_MAX) {
		size_t len = total - taken < REC_PLAIN_MAX ? total - taken : REC_PLAIN_MAX;

		r->out_end += seal(&r->tx, REC_TYPE_DATA, iov, taken, len, r->out + r->out_end);
		taken += len;
	}
	if (flush(r) < 0) {
		if (errno == EAGAIN)
			r->out_owed = taken;
		return -1;
	}
	return (ssize_t)taken;
}

/* ---- opening ---- */

/* Open the whole record at @rec into @out (room: its body less the tag);
 * the length of its content, whose type goes to @type, or -1: forged or
 * malformed.  @out may be @rec + REC_HEADER. */
static ssize_t open_record(struct rec_keys *k, const unsigned char *rec, unsigned char *out,
			   uint8_t *type)
{
	size_t body = (size_t)rec[3] << 8 | rec[4], len = body - REC_TAG;
	unsigned char iv[REC_IV];
	int outl, ok;

	nonce(k, iv);
	k->seq++;
	ok = EVP_DecryptInit_ex(k->aead, NULL, NULL, NULL, iv) == 1 &&
	     EVP_CIPHER_CTX_ctrl(k->aead, EVP_CTRL_AEAD_SET_TAG, REC_TAG,
				 (void *)(rec + REC_HEADER + len)) == 1 &&
	     EVP_DecryptUpdate(k->aead, NULL, &outl, rec, REC_HEADER) == 1 &&
	     EVP_DecryptUpdate(k->aead, out, &outl, rec + REC_HEADER, (int)len) == 1 &&
	     EVP_DecryptFinal_ex(k->aead, out + len, &outl) == 1;
	if (!ok)
		return -1;
	/* The content type is the last byte that is not padding. */
	while (len > 0 && out[len - 1] == 0)
		len--;
	if (len == 0)
		return -1;
	*type = out[len - 1];
	return (ssize_t)(len - 1);
}

/* A handshake or alert record after the handshake.  0 to go on, 1 at
 * close_notify, -1 with errno when the peer did something we do not take. */
static int control_record(struct tls_records *r, uint8_t type, const unsigned char *p, size_t len)
{
	if (type == REC_TYPE_ALERT) {
		if (len == 2 && p[1] == 0)	/* close_notify */
			return 1;
		errno = EPROTO;		/* a fatal alert, or nonsense */
		return -1;
	}
	if (type != REC_TYPE_HANDSHAKE || len == 0)
		goto refused;
	while (len) {
		size_t take;

		if (r->ticket_left) {
			take = r->ticket_left < len ? r->ticket_left : len;
			r->ticket_left -= take;
			p += take;
			len -= take;
			continue;
		}
		take = (r->hs_have < 4 ? 4 : 5) - r->hs_have;
		take = take < len ? take : len;
		memcpy(r->hs_msg + r->hs_have, p, take);
		r->hs_have += take;
		p += take;
		len -= take;
		if (r->hs_have < 4)
			continue;	/* the rest of it in the next record */
		if (r->hs_msg[0] == HS_NEW_SESSION_TICKET) {
			r->ticket_left = (size_t)r->hs_msg[1] << 16 | (size_t)r->hs_msg[2] << 8 |
					 r->hs_msg[3];
			r->hs_have = 0;
			continue;
		}
		if (r->hs_msg[0] != HS_KEY_UPDATE || r->hs_msg[1] || r->hs_msg[2] ||
		    r->hs_msg[3] != 1)
			goto refused;
		if (r->hs_have < 5)
			continue;
		/* A KeyUpdate ends its record: the next one has the new key. */
		if (len || r->hs_msg[4] > 1 || keys_update(&r->rx) < 0)
			goto refused;
		r->hs_have = 0;
		if (r->hs_msg[4] == 1 && !r->out)
			goto refused;	/* the kernel sends: it cannot follow */
		if (r->hs_msg[4] == 1)
			atomic_store(&r->key_update_asked, true);
	}
	return 0;
refused:
	errno = EPROTO;
	return -1;
}

/* The length of the whole record at in_pos, 0 if not all of it is in, or
 * -1 (EPROTO) if its header is wrong. */
static ssize_t whole_record(const struct tls_records *r)
{
	const unsigned char *h = r->in + r->in_pos;
	size_t have = r->in_end - r->in_pos, body;

	if (have < REC_HEADER)
		return 0;
	body = (size_t)h[3] << 8 | h[4];
	/* RFC 8446 5.4: the content, its type and padding are 2^14 + 1 bytes
	 * at most, whatever room the header's limit would leave */
	if (h[0] != REC_TYPE_DATA || h[1] != 3 || h[2] != 3 || body <= REC_TAG ||
	    body > REC_PLAIN_MAX + 1 + REC_TAG) {
		errno = EPROTO;
		return -1;
	}
	return have >= REC_HEADER + body ? (ssize_t)(REC_HEADER + body) : 0;
}

/* Read more ciphertext: 1 if some came, 0 at the end of the stream, -1 with errno. */
static int fill(struct tls_records *r)
{
	ssize_t n;

	/* Keep the start of a record only; whatever was before it is done. */
	if (r->in_pos) {
		memmove(r->in, r->in + r->in_pos, r->in_end - r->in_pos);
		r->in_end -= r->in_pos;
		r->in_pos = 0;
	}
	do
		n = read(r->fd, r->in + r->in_end, REC_IN_BUFFER - r->in_end);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	if (n == 0) {
		if (r->in_end) {	/* part of a record, and no more */
			errno = ECONNRESET;
			return -1;
		}
		return 0;
	}
	r->in_end += (size_t)n;
	return 1;
}

ssize_t tls_records_recv(struct tls_records *r, void *buf, size_t min, size_t len)
{
	unsigned char *dst = buf;
	size_t got = 0;

	if (len == 0)
		return 0;
	while (got < min || (got < len && r->plain_pos < r->plain_end)) {
		ssize_t whole, n;
		unsigned char *out;
		uint8_t type;
		int rc;

		if (r->plain_pos < r->plain_end) {
			n = (ssize_t)(r->plain_end - r->plain_pos < len - got ?
				      r->plain_end - r->plain_pos : len - got);
			memcpy(dst + got, r->in + r->plain_pos, (size_t)n);
			r->plain_pos += (size_t)n;
			got += (size_t)n;
			continue;
		}
		if (r->eof)
			break;
		if (r->error) {
			if (got)
				break;
			errno = r->error;
			return -1;
		}
		whole = whole_record(r);
		if (whole < 0)
			goto refused;
		if (whole == 0) {
			if (got)
				break;	/* what is here now; the rest on the next call */
			rc = fill(r);
			if (rc < 0)
				return -1;
			if (rc == 0)
				r->eof = true;	/* without close_notify: an end all the same */
			continue;
		}
		/* Straight into the caller's memory when the record fits there
		 * whole (its padding and content type included), else in place. */
		if ((size_t)whole - REC_HEADER - REC_TAG <= len - got)
			out = dst + got;
		else
			out = r->in + r->in_pos + REC_HEADER;
		n = open_record(&r->rx, r->in + r->in_pos, out, &type);
		if (n < 0) {
			errno = EPROTO;
			goto refused;
		}
		r->in_pos += (size_t)whole;
		/* nor may they be interleaved with other records */
		if (type != REC_TYPE_HANDSHAKE && (r->hs_have || r->ticket_left)) {
			errno = EPROTO;
			goto refused;
		}
		if (type != REC_TYPE_DATA) {
			rc = control_record(r, type, out, (size_t)n);
			if (rc < 0)
				goto refused;
			if (rc > 0)
				r->eof = true;
			continue;
		}
		if (out == dst + got) {
			got += (size_t)n;
		} else {
			r->plain_pos = (size_t)(out - r->in);
			r->plain_end = r->plain_pos + (size_t)n;
		}
	}
	if (got == 0 && !r->eof) {
		errno = EAGAIN;
		return -1;
	}
	return (ssize_t)got;
refused:
	/* The data of the records before comes first, the error after it. */
	r->error = errno;
	if (got)
		return (ssize_t)got;
	return -1;
}

bool tls_records_buffered(const struct tls_records *r)
{
	const unsigned char *h = r->in + r->in_pos;
	size_t have = r->in_end - r->in_pos;

	return r->plain_pos < r->plain_end || r->error ||
	       (have >= REC_HEADER && have >= REC_HEADER + ((size_t)h[3] << 8 | h[4]));
}

void tls_records_close(struct tls_records *r)
{
	static const unsigned char close_notify[2] = { 1, 0 };
	struct iovec iov = { .iov_base = (void *)close_notify, .iov_len = 2 };

	if (!r)
		return;
	if (r->out && REC_OUT_BUFFER - r->out_end >= REC_OUT_MAX) {
		r->out_end += seal(&r->tx, REC_TYPE_ALERT, &iov, 0, sizeof(close_notify),
				   r->out + r->out_end);
		flush(r);	/* non-blocking: once, whatever comes of it */
	}
	records_free(r);
}
