// SPDX-License-Identifier: GPL-2.0
/* TLS with OpenSSL 3: see tls.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "sock.h"
#include "tls-record.h"
#include "tls.h"

/* One record's worth: small pieces are gathered up to this before writing. */
#define TLS_RECORD	(16u << 10)
/* The most one SSL_write() takes, so a long reply does not keep a reader
 * off the connection's lock for long. */
#define TLS_WRITE_CHUNK	(256u << 10)
/* Read-ahead: one read() takes whatever the socket has, several records.
 * No more: with kernel TLS receiving, OpenSSL 3.0 reads into this buffer
 * and notes the length in a record header's 16 bits (a 256 KiB buffer
 * broke TLS 1.2 connections in the VM). */
#define TLS_IN_BUFFER	(64u << 10)
#define PSK_MAX_KEY	64

struct psk_entry {
	char *identity;
	unsigned char key[PSK_MAX_KEY];
	unsigned int key_len;
};

struct tls_ctx {
	SSL_CTX *ssl_ctx;
	struct psk_entry *psks;
	unsigned int npsks;
	char **allowed_names;
	unsigned int nallowed;
	/* client: the key offered, and the newest session ticket */
	const struct psk_entry *client_psk;
	SSL_SESSION *session;
	bool no_resume;
};

/* What the handshake leaves for lib/tls-record.c to carry on with. */
struct handover {
	unsigned char rx_secret[EVP_MAX_MD_SIZE], tx_secret[EVP_MAX_MD_SIZE];
	size_t rx_secret_len, tx_secret_len;
	/* records each way since the Finished message that started them */
	uint64_t rx_records, tx_records;
	bool rx_counting, tx_counting;
	bool keys_moved;	/* a KeyUpdate went through OpenSSL */
	bool write_pending;	/* OpenSSL holds part of a write */
	bool never;		/* TLS 1.2, kernel TLS, ...: OpenSSL to the end */
};

struct tls_conn {
	SSL *ssl;
	int fd;
	/* Every SSL call on @ssl; once @records carries the data, its
	 * receiving side (sending takes @tx_lock). */
	pthread_mutex_t lock;
	pthread_mutex_t tx_lock;
	struct tls_records *records;	/* set once, before @own */
	atomic_bool own;		/* @records carries the data */
	struct handover ho;		/* under @lock, until @own */
	/* Kernel TLS carries the sending side: writes bypass OpenSSL and the
	 * socket is blocking again, as without TLS.  Set once, after the
	 * handshake. */
	bool ktls_send;
	bool ktls_recv;
	char psk_identity[64];	/* as the client gave it, printable part */
	bool psk_unknown;	/* ... and not in our file */
	char desc[160];
};

int tls_mode_parse(const char *s)
{
	if (!strcmp(s, "off"))
		return TLS_OFF;
	if (!strcmp(s, "on"))
		return TLS_ON;
	if (!strcmp(s, "require"))
		return TLS_REQUIRE;
	return -1;
}

/* The reason of the last OpenSSL error of this thread, or @fallback. */
static const char *ssl_reason(const char *fallback)
{
	unsigned long e = ERR_peek_last_error();
	const char *r = e ? ERR_reason_error_string(e) : NULL;

	return r ? r : fallback;
}

/* ---- PSK ---- */

/* Printable characters of @s only: peers choose identities and names. */
static void append_printable(char *buf, size_t size, const char *s)
{
	size_t len = strlen(buf);

	for (; *s && len + 1 < size; s++)
		if (*s >= 0x20 && *s < 0x7f)
			buf[len++] = *s;
	buf[len] = 0;
}

static int hex_value(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* "identity:hexkey" into @e; false if the line is not that. */
static bool parse_psk_line(char *line, struct psk_entry *e)
{
	char *colon = strchr(line, ':'), *hex;
	size_t len, i;

	if (!colon || colon == line)
		return false;
	hex = colon + 1;
	len = strlen(hex);
	if (len == 0 || len % 2 || len / 2 > PSK_MAX_KEY)
		return false;
	for (i = 0; i < len / 2; i++) {
		int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return false;
		e->key[i] = (unsigned char)(hi << 4 | lo);
	}
	e->key_len = (unsigned int)(len / 2);
	*colon = 0;
	e->identity = strdup(line);
	return e->identity != NULL;
}

static int load_psk_file(struct tls_ctx *ctx, const char *path, char *why, size_t why_len)
{
	char line[1024];
	unsigned int lineno = 0;
	FILE *f = fopen(path, "re");
	int rc = -1;

	if (!f) {
		snprintf(why, why_len, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		struct psk_entry *grown;

		lineno++;
		line[strcspn(line, "\r\n")] = 0;
		if (!line[0])
			continue;
		grown = realloc(ctx->psks, (ctx->npsks + 1) * sizeof(*grown));
		if (!grown)
			goto out;
		ctx->psks = grown;
		if (!parse_psk_line(line, &ctx->psks[ctx->npsks])) {
			OPENSSL_cleanse(&ctx->psks[ctx->npsks], sizeof(ctx->psks[0]));
			snprintf(why, why_len, "%s line %u: expected identity:hexkey", path, lineno);
			goto out;
		}
		ctx->npsks++;
	}
	if (ctx->npsks == 0)
		snprintf(why, why_len, "%s: no keys", path);
	else
		rc = 0;
out:
	OPENSSL_cleanse(line, sizeof(line));
	fclose(f);
	return rc;
}

/* Also serves TLS 1.3: OpenSSL then assumes a SHA-256 cipher suite, which
 * is what GnuTLS (nbdkit, qemu, libnbd) uses for PSK. */
static unsigned int psk_server_cb(SSL *ssl, const char *identity, unsigned char *psk,
				  unsigned int max_psk_len)
{
	const struct tls_ctx *ctx = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	struct tls_conn *t = SSL_get_app_data(ssl);
	unsigned int i;

	/* TLS 1.3 keeps no identity for SSL_get_psk_identity(): note it here. */
	t->psk_identity[0] = 0;
	if (identity)
		append_printable(t->psk_identity, sizeof(t->psk_identity), identity);
	for (i = 0; identity && i < ctx->npsks; i++) {
		const struct psk_entry *e = &ctx->psks[i];

		if (!strcmp(e->identity, identity) && e->key_len <= max_psk_len) {
			memcpy(psk, e->key, e->key_len);
			return e->key_len;
		}
	}
	t->psk_unknown = true;	/* the handshake fails */
	return 0;
}

/* ---- handing the records over to lib/tls-record.c ---- */

static int hex_decode(const char *hex, unsigned char *out, size_t max, size_t *len)
{
	size_t n = 0;

	for (; hex[0] && hex[1] && n < max; hex += 2) {
		int hi = hex_value(hex[0]), lo = hex_value(hex[1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[n++] = (unsigned char)(hi << 4 | lo);
	}
	*len = n;
	return hex[0] ? -1 : 0;
}

/* OpenSSL tells the secrets it derives in NSS key log lines ("LABEL
 * client_random secret" in hex): keep the two of the application data.
 * Nothing here is ever logged. */
static void keep_secret_cb(const SSL *ssl, const char *line)
{
	struct tls_conn *t = SSL_get_app_data(ssl);
	bool client = !strncmp(line, "CLIENT_TRAFFIC_SECRET_0 ", 24);
	bool server = !strncmp(line, "SERVER_TRAFFIC_SECRET_0 ", 24);
	const char *secret = strrchr(line, ' ');
	unsigned char *out;
	size_t *len;

	if (!t || !(client || server) || !secret)
		return;
	if (client == !!SSL_is_server(ssl)) {
		out = t->ho.rx_secret;
		len = &t->ho.rx_secret_len;
	} else {
		out = t->ho.tx_secret;
		len = &t->ho.tx_secret_len;
	}
	if (hex_decode(secret + 1, out, EVP_MAX_MD_SIZE, len) < 0)
		*len = 0;
}

/* Count the records each way since the Finished message after which the
 * application data keys took over: their sequence numbers.  (OpenSSL
 * reports a record's header before the messages in it.) */
static void count_records_cb(int write_p, int version, int content_type, const void *buf,
			     size_t len, SSL *ssl, void *arg)
{
	struct tls_conn *t = SSL_get_app_data(ssl);
	const unsigned char *p = buf;

	(void)version;
	(void)arg;
	if (!t)
		return;
	if (content_type == SSL3_RT_HEADER) {
		if (write_p)
			t->ho.tx_records++;
		else
			t->ho.rx_records++;
	} else if (content_type == SSL3_RT_HANDSHAKE && len > 0) {
		if (p[0] == SSL3_MT_FINISHED && write_p) {
			t->ho.tx_records = 0;
			t->ho.tx_counting = true;
		} else if (p[0] == SSL3_MT_FINISHED) {
			t->ho.rx_records = 0;
			t->ho.rx_counting = true;
		} else if (p[0] == SSL3_MT_KEY_UPDATE) {
			t->ho.keys_moved = true;
		}
	}
}

static void forget_secrets(struct handover *ho)
{
	OPENSSL_cleanse(ho->rx_secret, sizeof(ho->rx_secret));
	OPENSSL_cleanse(ho->tx_secret, sizeof(ho->tx_secret));
	ho->rx_secret_len = ho->tx_secret_len = 0;
}

/*
 * Under t->lock: hand the data over to lib/tls-record.c when it can take
 * it, that is with TLS 1.3 once nothing is half done in OpenSSL (where
 * kernel TLS sends, the receiving side only).  Not before a record has
 * come in after the handshake: the server's session tickets come first,
 * and a client keeps one for the next connection only if OpenSSL sees it.
 * Nor while OpenSSL holds part of a handshake message (SSL_in_init): a
 * peer may cut a session ticket across records (RFC 8446 5.1), and the
 * rest, coming to lib/tls-record.c, would look like a message of its own.
 */
static void hand_over(struct tls_conn *t)
{
	struct handover *ho = &t->ho;
	const SSL_CIPHER *cipher;

	if (ho->never || ho->rx_records == 0 || ho->write_pending || SSL_has_pending(t->ssl) ||
	    SSL_in_init(t->ssl))
		return;
	cipher = SSL_get_current_cipher(t->ssl);
	ho->never = true;	/* now or never */
	if (t->ktls_recv || SSL_version(t->ssl) != TLS1_3_VERSION || !cipher ||
	    !ho->rx_counting || !ho->tx_counting || ho->keys_moved || !ho->rx_secret_len ||
	    ho->rx_secret_len != ho->tx_secret_len) {
		forget_secrets(ho);
		return;
	}
	t->records = tls_records_new(t->fd, SSL_CIPHER_get_cipher_nid(cipher),
				     SSL_CIPHER_get_handshake_digest(cipher), ho->rx_secret,
				     t->ktls_send ? NULL : ho->tx_secret, ho->rx_secret_len,
				     ho->rx_records, ho->tx_records);
	forget_secrets(ho);
	if (!t->records)
		return;
	atomic_store_explicit(&t->own, true, memory_order_release);
	SSL_free_buffers(t->ssl);	/* OpenSSL moves no more data */
}

/* Under t->lock: whether OpenSSL still carries the data.  Called before
 * each SSL call, and after each read: a client's last read of the NBD
 * handshake hands over there, so the allocations come with the handshake
 * rather than with the first request. */
static bool openssl_carries(struct tls_conn *t)
{
	if (!atomic_load_explicit(&t->own, memory_order_relaxed))
		hand_over(t);
	return !atomic_load_explicit(&t->own, memory_order_relaxed);
}

/* Callbacks on @ctx that prepare the hand-over. */
static void watch_handshake(SSL_CTX *ctx)
{
	SSL_CTX_set_keylog_callback(ctx, keep_secret_cb);
	SSL_CTX_set_msg_callback(ctx, count_records_cb);
}

/* ---- contexts ---- */

static int use_certificates(struct tls_ctx *ctx, const struct tls_config *cfg, char *why,
			    size_t why_len)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/server-cert.pem", cfg->certs_dir);
	if (SSL_CTX_use_certificate_chain_file(ctx->ssl_ctx, path) != 1) {
		snprintf(why, why_len, "%s: %s", path, ssl_reason("cannot load"));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/server-key.pem", cfg->certs_dir);
	if (SSL_CTX_use_PrivateKey_file(ctx->ssl_ctx, path, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx->ssl_ctx) != 1) {
		snprintf(why, why_len, "%s: %s", path, ssl_reason("cannot load"));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/ca-cert.pem", cfg->certs_dir);
	if (access(path, R_OK) == 0 &&
	    SSL_CTX_load_verify_locations(ctx->ssl_ctx, path, NULL) != 1) {
		snprintf(why, why_len, "%s: %s", path, ssl_reason("cannot load"));
		return -1;
	}
	if (cfg->verify_peer) {
		if (access(path, R_OK) != 0) {
			snprintf(why, why_len, "%s: %s (needed to verify clients)", path,
				 strerror(errno));
			return -1;
		}
		SSL_CTX_set_verify(ctx->ssl_ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
				   NULL);
	}
	return 0;
}

static int copy_allowed_names(struct tls_ctx *ctx, const struct tls_config *cfg)
{
	unsigned int i;

	if (!cfg->nallowed)
		return 0;
	ctx->allowed_names = calloc(cfg->nallowed, sizeof(char *));
	if (!ctx->allowed_names)
		return -1;
	for (i = 0; i < cfg->nallowed; i++) {
		ctx->allowed_names[i] = strdup(cfg->allowed_names[i]);
		if (!ctx->allowed_names[i])
			return -1;
		ctx->nallowed++;
	}
	return 0;
}

struct tls_ctx *tls_server_ctx_new(const struct tls_config *cfg, char *why, size_t why_len)
{
	static const unsigned char sid_ctx[] = "enbd-server";
	struct tls_ctx *ctx = calloc(1, sizeof(*ctx));

	if (!ctx || !(ctx->ssl_ctx = SSL_CTX_new(TLS_server_method()))) {
		snprintf(why, why_len, "out of memory");
		goto fail;
	}
	SSL_CTX_set_app_data(ctx->ssl_ctx, ctx);
	SSL_CTX_set_min_proto_version(ctx->ssl_ctx, TLS1_2_VERSION);
	/* kTLS where the kernel has it; tickets (the default) for resumption;
	 * a peer that hangs up without close_notify is an end of stream. */
	SSL_CTX_set_options(ctx->ssl_ctx, SSL_OP_ENABLE_KTLS | SSL_OP_IGNORE_UNEXPECTED_EOF |
			    SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* AES-GCM first: with AES-NI it is several times ChaCha20's speed,
	 * and GnuTLS clients may offer ChaCha20 first. */
	SSL_CTX_set_ciphersuites(ctx->ssl_ctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
				 "TLS_CHACHA20_POLY1305_SHA256");
	SSL_CTX_set_mode(ctx->ssl_ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* No 0-RTT (OpenSSL's default, made sure of): early data can be
	 * replayed, and a replayed write is not for a disk. */
	SSL_CTX_set_max_early_data(ctx->ssl_ctx, 0);
	SSL_CTX_set_session_id_context(ctx->ssl_ctx, sid_ctx, sizeof(sid_ctx) - 1);
	SSL_CTX_set_default_read_buffer_len(ctx->ssl_ctx, TLS_IN_BUFFER);
	watch_handshake(ctx->ssl_ctx);
	if (copy_allowed_names(ctx, cfg) < 0) {
		snprintf(why, why_len, "out of memory");
		goto fail;
	}
	if (cfg->psk_file) {
		if (load_psk_file(ctx, cfg->psk_file, why, why_len) < 0)
			goto fail;
		/* TLS 1.2 needs PSK cipher suites; 1.3's suites take PSK as they are. */
		SSL_CTX_set_cipher_list(ctx->ssl_ctx, "ECDHE-PSK:DHE-PSK:PSK");
		SSL_CTX_set_psk_server_callback(ctx->ssl_ctx, psk_server_cb);
	} else if (!cfg->certs_dir) {
		snprintf(why, why_len, "no certificates and no PSK file");
		goto fail;
	} else if (use_certificates(ctx, cfg, why, why_len) < 0) {
		goto fail;
	}
	return ctx;
fail:
	tls_ctx_free(ctx);
	return NULL;
}

void tls_ctx_free(struct tls_ctx *ctx)
{
	unsigned int i;

	if (!ctx)
		return;
	SSL_CTX_free(ctx->ssl_ctx);
	for (i = 0; i < ctx->npsks; i++)
		free(ctx->psks[i].identity);
	if (ctx->psks)
		OPENSSL_cleanse(ctx->psks, ctx->npsks * sizeof(*ctx->psks));
	free(ctx->psks);
	for (i = 0; i < ctx->nallowed; i++)
		free(ctx->allowed_names[i]);
	free(ctx->allowed_names);
	SSL_SESSION_free(ctx->session);
	free(ctx);
}

/* ---- connections ---- */

/* Wait until @fd is ready for what OpenSSL asked for (SSL_ERROR_WANT_*). */
static void wait_for(int fd, int ssl_error)
{
	struct pollfd p = { .fd = fd, .events = ssl_error == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN };

	while (poll(&p, 1, -1) < 0 && errno == EINTR)
		;
}

static bool want_io(int ssl_error)
{
	return ssl_error == SSL_ERROR_WANT_READ || ssl_error == SSL_ERROR_WANT_WRITE;
}

/* errno for a failed SSL call (with the error queue still as it left it) */
static int failure_errno(int ssl_error)
{
	if (ssl_error == SSL_ERROR_ZERO_RETURN)
		return ECONNRESET;
	if (ssl_error == SSL_ERROR_SYSCALL)
		return errno ? errno : ECONNRESET;
	return EPROTO;
}

static bool peer_name_allowed(const struct tls_ctx *ctx, X509 *cert)
{
	unsigned int i;

	if (!ctx->nallowed)
		return true;
	for (i = 0; cert && i < ctx->nallowed; i++)
		if (X509_check_host(cert, ctx->allowed_names[i], 0,
				    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS, NULL) == 1)
			return true;
	return false;
}

static void describe(struct tls_conn *t, X509 *cert)
{
	snprintf(t->desc, sizeof(t->desc), "%s %s", SSL_get_version(t->ssl),
		 SSL_get_cipher_name(t->ssl));
	if (t->psk_identity[0]) {
		append_printable(t->desc, sizeof(t->desc), ", PSK identity ");
		append_printable(t->desc, sizeof(t->desc), t->psk_identity);
	} else if (cert) {
		char cn[64] = "";

		X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn,
					  sizeof(cn));
		append_printable(t->desc, sizeof(t->desc), ", client certificate CN=");
		append_printable(t->desc, sizeof(t->desc), cn);
	}
	/* TLS 1.3 counts an external PSK as a resumption: not that. */
	if (SSL_session_reused(t->ssl) && !t->psk_identity[0])
		append_printable(t->desc, sizeof(t->desc), ", resumed");
	if (tls_ktls_send(t) || tls_ktls_recv(t))
		append_printable(t->desc, sizeof(t->desc), ", kTLS");
}

/*
 * After the handshake, how the data will move.  With kernel TLS sending
 * (OpenSSL 3.0 offers it for TLS 1.2 and 1.3; receiving for TLS 1.2 only),
 * the socket goes back to blocking and writes skip OpenSSL, so the callers'
 * plain paths (MSG_MORE, splice) work on it unchanged.  Userspace
 * receiving reads ahead: one read() takes several records.  (Gathering a
 * reply's records into one write() cut the system calls twelvefold but
 * not the CPU, and cost a copy: not done.)
 */
static int settle_data_path(struct tls_conn *t)
{
	t->ktls_send = BIO_get_ktls_send(SSL_get_wbio(t->ssl));
	t->ktls_recv = BIO_get_ktls_recv(SSL_get_rbio(t->ssl));
	/* Not during the handshake: OpenSSL 3.0 gives up kernel receiving
	 * when part of a record was read ahead at the switch. */
	if (!t->ktls_recv)
		SSL_set_read_ahead(t->ssl, 1);
	return t->ktls_send ? sock_set_nonblocking(t->fd, 0) : 0;
}

/* After a failed handshake: what the server's log should say. */
static void handshake_failure(const struct tls_conn *t, int ssl_error, char *why,
			      size_t why_len)
{
	long verify = SSL_get_verify_result(t->ssl);

	if (t->psk_unknown)
		snprintf(why, why_len, "unknown PSK identity \"%s\"", t->psk_identity);
	else if (verify != X509_V_OK)
		snprintf(why, why_len, "client certificate rejected: %s",
			 X509_verify_cert_error_string(verify));
	else if (ssl_error == SSL_ERROR_SSL)
		snprintf(why, why_len, "%s", ssl_reason("protocol error"));
	else if (ssl_error == SSL_ERROR_SYSCALL && errno)
		snprintf(why, why_len, "%s", strerror(errno));
	else
		snprintf(why, why_len, "the client closed the connection");
}

struct tls_conn *tls_accept(struct tls_ctx *ctx, int fd, char *why, size_t why_len)
{
	struct tls_conn *t = calloc(1, sizeof(*t));
	X509 *cert;
	int rc, err;

	if (!t || !(t->ssl = SSL_new(ctx->ssl_ctx)) || !SSL_set_fd(t->ssl, fd) ||
	    sock_set_nonblocking(fd, 1) < 0) {
		snprintf(why, why_len, "cannot set up TLS: %s", ssl_reason(strerror(errno)));
		goto fail;
	}
	t->fd = fd;
	SSL_set_app_data(t->ssl, t);
	do {
		ERR_clear_error();
		errno = 0;
		rc = SSL_accept(t->ssl);
		err = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(t->ssl, rc);
		if (want_io(err))
			wait_for(fd, err);
	} while (want_io(err));
	if (rc != 1) {
		handshake_failure(t, err, why, why_len);
		goto fail;
	}
	cert = SSL_get0_peer_certificate(t->ssl);
	if (!peer_name_allowed(ctx, cert)) {
		snprintf(why, why_len, "client certificate names none of the allowed names");
		goto fail;
	}
	if (settle_data_path(t) < 0) {
		snprintf(why, why_len, "cannot set up TLS: %s", ssl_reason(strerror(errno)));
		goto fail;
	}
	describe(t, cert);
	pthread_mutex_init(&t->lock, NULL);
	pthread_mutex_init(&t->tx_lock, NULL);
	return t;
fail:
	if (t)
		SSL_free(t->ssl);
	free(t);
	return NULL;
}

const char *tls_describe(const struct tls_conn *t)
{
	return t->desc;
}

bool tls_ktls_send(const struct tls_conn *t)
{
	return t->ktls_send;
}

bool tls_ktls_recv(const struct tls_conn *t)
{
	return t->ktls_recv;
}

const char *tls_userspace_records(struct tls_conn *t)
{
	if (!atomic_load(&t->own))
		return "none";
	return t->ktls_send ? "receive" : "both";
}

void tls_close(struct tls_conn *t)
{
	if (!t)
		return;
	ERR_clear_error();
	if (t->ktls_send)
		sock_set_nonblocking(t->fd, 1);
	if (atomic_load(&t->own))
		tls_records_close(t->records);	/* close_notify where it sends */
	if (atomic_load(&t->own) && !t->ktls_send)
		/* which OpenSSL must know of, or it drops the session (ticket) */
		SSL_set_shutdown(t->ssl, SSL_SENT_SHUTDOWN);
	else
		SSL_shutdown(t->ssl);	/* non-blocking: once, whatever comes of it */
	SSL_free(t->ssl);
	forget_secrets(&t->ho);
	pthread_mutex_destroy(&t->lock);
	pthread_mutex_destroy(&t->tx_lock);
	free(t);
}

void tls_thread_done(void)
{
	OPENSSL_thread_stop();
}

/* The result of one non-blocking SSL call that moved @done bytes (@ok). */
static ssize_t nb_result(struct tls_conn *t, int ok, size_t done, bool *want_out)
{
	int err = ok ? SSL_ERROR_NONE : SSL_get_error(t->ssl, 0);

	if (ok)
		return (ssize_t)done;
	/* close_notify, or (SSL_OP_IGNORE_UNEXPECTED_EOF) an end without it */
	if (err == SSL_ERROR_ZERO_RETURN)
		return 0;
	if (want_io(err)) {
		*want_out = err == SSL_ERROR_WANT_WRITE;
		errno = EAGAIN;
		return -1;
	}
	errno = failure_errno(err);
	return -1;
}

/*
 * One non-blocking try at reading up to @len bytes (lib/tls-record.c: as
 * many as are in hand, or @min): the count (0: end of stream), or -1 with
 * errno; EAGAIN with *@want_out true when the socket must become writable
 * (rather than readable) first.
 */
static ssize_t read_once(struct tls_conn *t, void *buf, size_t min, size_t len, bool *want_out)
{
	size_t got = 0;
	ssize_t n;
	int ok;

	pthread_mutex_lock(&t->lock);
	if (openssl_carries(t)) {
		ERR_clear_error();
		errno = 0;
		ok = SSL_read_ex(t->ssl, buf, len, &got);
		n = nb_result(t, ok, got, want_out);
		hand_over(t);	/* now, if the last handshake reply came in */
	} else {
		*want_out = false;
		n = tls_records_recv(t->records, buf, min, len);
	}
	pthread_mutex_unlock(&t->lock);
	return n;
}

/*
 * One non-blocking try at writing the start of @n pieces (OpenSSL: of the
 * first, TLS_WRITE_CHUNK at most): the count, or -1 with errno, EAGAIN
 * with *@want_out false when the socket must become readable first.  After
 * EAGAIN the same bytes must come first in the next call.
 */
static ssize_t write_once(struct tls_conn *t, const struct iovec *iov, int n, bool *want_out)
{
	size_t done = 0;
	ssize_t rc;
	int ok;

	if (!atomic_load_explicit(&t->own, memory_order_acquire)) {
		pthread_mutex_lock(&t->lock);
		if (openssl_carries(t)) {
			ERR_clear_error();
			errno = 0;
			ok = SSL_write_ex(t->ssl, iov[0].iov_base,
					  iov[0].iov_len < TLS_WRITE_CHUNK ? iov[0].iov_len :
									     TLS_WRITE_CHUNK,
					  &done);
			rc = nb_result(t, ok, done, want_out);
			t->ho.write_pending = rc < 0 && errno == EAGAIN;
			pthread_mutex_unlock(&t->lock);
			return rc;
		}
		pthread_mutex_unlock(&t->lock);
	}
	pthread_mutex_lock(&t->tx_lock);
	*want_out = true;
	rc = tls_records_send(t->records, iov, n);
	pthread_mutex_unlock(&t->tx_lock);
	return rc;
}

/* Up to @len bytes, @min if they are there; the count (0: end of stream),
 * or -1 with errno. */
static ssize_t tls_read_some(struct tls_conn *t, void *buf, size_t min, size_t len)
{
	for (;;) {
		bool want_out = false;
		ssize_t n = read_once(t, buf, min, len, &want_out);

		if (n >= 0 || errno != EAGAIN)
			return n;
		wait_for(t->fd, want_out ? SSL_ERROR_WANT_WRITE : SSL_ERROR_WANT_READ);
	}
}

#define TLS_MAX_IOV 8

/* All of @n pieces (TLS_MAX_IOV at most). */
static int tls_writev(struct tls_conn *t, const struct iovec *iov, int n)
{
	struct iovec v[TLS_MAX_IOV], *p = v;

	if (n > TLS_MAX_IOV) {
		errno = EINVAL;
		return -1;
	}
	memcpy(v, iov, (size_t)n * sizeof(*iov));
	while (n > 0) {
		bool want_out = false;
		ssize_t done = write_once(t, p, n, &want_out);

		if (done < 0 && errno == EAGAIN) {
			wait_for(t->fd, want_out ? SSL_ERROR_WANT_WRITE : SSL_ERROR_WANT_READ);
			continue;	/* then the same bytes again */
		}
		if (done < 0)
			return -1;
		while (n > 0 && (size_t)done >= p->iov_len) {
			done -= (ssize_t)p->iov_len;
			p++;
			n--;
		}
		if (n > 0) {
			p->iov_base = (char *)p->iov_base + done;
			p->iov_len -= (size_t)done;
		}
	}
	return 0;
}

/* All of @buf. */
static int tls_write(struct tls_conn *t, const void *buf, size_t len)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	return tls_writev(t, &iov, 1);
}

ssize_t io_read_at_least(struct tls_conn *t, int fd, void *buf, size_t min, size_t max)
{
	char *p = buf;
	size_t got = 0;

	if (!t)
		return read_at_least(fd, buf, min, max);
	while (got < min) {
		ssize_t n = tls_read_some(t, p + got, min - got, max - got);

		if (n < 0)
			return -1;
		if (n == 0) {
			errno = ECONNRESET;
			return -1;
		}
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int io_read_full(struct tls_conn *t, int fd, void *buf, size_t len)
{
	return io_read_at_least(t, fd, buf, len, len) < 0 ? -1 : 0;
}

/* Whether writes on @t go through OpenSSL (or straight to the socket). */
static bool tls_writes(const struct tls_conn *t)
{
	return t && !t->ktls_send;
}

int io_write_full(struct tls_conn *t, int fd, const void *buf, size_t len)
{
	if (!tls_writes(t))
		return write_full(fd, buf, len);
	return tls_write(t, buf, len);
}

int io_writev_full(struct tls_conn *t, int fd, const struct iovec *iov, int n)
{
	unsigned char stage[TLS_RECORD];
	size_t used = 0;
	int i;

	if (!tls_writes(t)) {
		for (i = 0; i < n; i++)
			if (write_full(fd, iov[i].iov_base, iov[i].iov_len) < 0)
				return -1;
		return 0;
	}
	/* lib/tls-record.c seals the pieces into records as they are. */
	if (atomic_load_explicit(&t->own, memory_order_acquire) && n <= TLS_MAX_IOV)
		return tls_writev(t, iov, n);
	/* Through OpenSSL, headers share a record with the start of the
	 * payload; the rest of a large payload is encrypted from where it is. */
	for (i = 0; i < n; i++) {
		const char *p = iov[i].iov_base;
		size_t len = iov[i].iov_len;

		while (len) {
			size_t take;

			if (used == 0 && len >= TLS_RECORD) {
				if (tls_write(t, p, len) < 0)
					return -1;
				break;
			}
			take = len < TLS_RECORD - used ? len : TLS_RECORD - used;
			memcpy(stage + used, p, take);
			used += take;
			p += take;
			len -= take;
			if (used == TLS_RECORD) {
				if (tls_write(t, stage, used) < 0)
					return -1;
				used = 0;
			}
		}
	}
	return used ? tls_write(t, stage, used) : 0;
}

/* ---- the client side ---- */

static unsigned int psk_client_cb(SSL *ssl, const char *hint, char *identity,
				  unsigned int max_identity_len, unsigned char *psk,
				  unsigned int max_psk_len)
{
	const struct tls_ctx *ctx = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
	const struct psk_entry *e = ctx->client_psk;

	(void)hint;
	if (strlen(e->identity) >= max_identity_len || e->key_len > max_psk_len)
		return 0;
	strcpy(identity, e->identity);
	memcpy(psk, e->key, e->key_len);
	return e->key_len;
}

/* TLS 1.3 tickets arrive after the handshake: keep the newest. */
static int keep_session_cb(SSL *ssl, SSL_SESSION *sess)
{
	struct tls_ctx *ctx = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));

	SSL_SESSION_free(ctx->session);
	ctx->session = sess;
	return 1;	/* the reference is ours */
}

static int use_client_psk(struct tls_ctx *ctx, const struct tls_config *cfg, char *why,
			  size_t why_len)
{
	unsigned int i;

	if (load_psk_file(ctx, cfg->psk_file, why, why_len) < 0)
		return -1;
	ctx->client_psk = &ctx->psks[0];
	if (cfg->psk_identity) {
		for (i = 0; i < ctx->npsks && strcmp(ctx->psks[i].identity, cfg->psk_identity); i++)
			;
		if (i == ctx->npsks) {
			snprintf(why, why_len, "%s: no key for the identity given", cfg->psk_file);
			return -1;
		}
		ctx->client_psk = &ctx->psks[i];
	}
	SSL_CTX_set_cipher_list(ctx->ssl_ctx, "ECDHE-PSK:DHE-PSK:PSK");
	SSL_CTX_set_psk_client_callback(ctx->ssl_ctx, psk_client_cb);
	return 0;
}

static int use_client_certificates(struct tls_ctx *ctx, const struct tls_config *cfg,
				   char *why, size_t why_len)
{
	char cert[4096], key[4096], ca[4096];
	bool has_cert, has_key;

	snprintf(ca, sizeof(ca), "%s/ca-cert.pem", cfg->certs_dir);
	snprintf(cert, sizeof(cert), "%s/client-cert.pem", cfg->certs_dir);
	snprintf(key, sizeof(key), "%s/client-key.pem", cfg->certs_dir);
	if (access(ca, R_OK) == 0 ? SSL_CTX_load_verify_locations(ctx->ssl_ctx, ca, NULL) != 1 :
				    SSL_CTX_set_default_verify_paths(ctx->ssl_ctx) != 1) {
		snprintf(why, why_len, "%s: %s", ca, ssl_reason("cannot load"));
		return -1;
	}
	SSL_CTX_set_verify(ctx->ssl_ctx, SSL_VERIFY_PEER, NULL);
	has_cert = access(cert, F_OK) == 0;
	has_key = access(key, F_OK) == 0;
	if (has_cert != has_key) {
		snprintf(why, why_len, "%s: a client certificate needs both %s and %s",
			 cfg->certs_dir, "client-cert.pem", "client-key.pem");
		return -1;
	}
	if (!has_cert)
		return 0;
	if (SSL_CTX_use_certificate_chain_file(ctx->ssl_ctx, cert) != 1) {
		snprintf(why, why_len, "%s: %s", cert, ssl_reason("cannot load"));
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx->ssl_ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx->ssl_ctx) != 1) {
		snprintf(why, why_len, "%s: %s", key, ssl_reason("cannot load"));
		return -1;
	}
	return 0;
}

struct tls_ctx *tls_client_ctx_new(const struct tls_config *cfg, char *why, size_t why_len)
{
	struct tls_ctx *ctx = calloc(1, sizeof(*ctx));

	if (!ctx || !(ctx->ssl_ctx = SSL_CTX_new(TLS_client_method()))) {
		snprintf(why, why_len, "out of memory");
		goto fail;
	}
	SSL_CTX_set_app_data(ctx->ssl_ctx, ctx);
	ctx->no_resume = cfg->no_resume;
	SSL_CTX_set_min_proto_version(ctx->ssl_ctx, TLS1_2_VERSION);
	/*
	 * A server asking to renegotiate is refused, so a write never has to
	 * wait for a read.  No kernel TLS here, unlike the server: OpenSSL 3.0's
	 * kTLS send keeps a write it could not finish as a pointer into the
	 * caller's memory, and the channel retries from another place (below),
	 * after reusing that memory: fio verify in the VM read back corrupt
	 * blocks with kTLS on this side (client-tls-daemon-killed-server-frozen).
	 */
	SSL_CTX_set_options(ctx->ssl_ctx, SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_ciphersuites(ctx->ssl_ctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:"
				 "TLS_CHACHA20_POLY1305_SHA256");
	/* tls_send_nb: each record written counts, and a repeated write may
	 * come from another place in memory. */
	SSL_CTX_set_mode(ctx->ssl_ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER |
			 SSL_MODE_ENABLE_PARTIAL_WRITE);
	SSL_CTX_set_read_ahead(ctx->ssl_ctx, 1);
	SSL_CTX_set_default_read_buffer_len(ctx->ssl_ctx, 64u << 10);
	SSL_CTX_set_session_cache_mode(ctx->ssl_ctx, SSL_SESS_CACHE_CLIENT |
				       SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx->ssl_ctx, keep_session_cb);
	watch_handshake(ctx->ssl_ctx);
	if (cfg->psk_file) {
		if (use_client_psk(ctx, cfg, why, why_len) < 0)
			goto fail;
	} else if (!cfg->certs_dir) {
		snprintf(why, why_len, "no certificates and no PSK file");
		goto fail;
	} else if (use_client_certificates(ctx, cfg, why, why_len) < 0) {
		goto fail;
	}
	return ctx;
fail:
	tls_ctx_free(ctx);
	return NULL;
}

/* The server's certificate must name @hostname: an IP address or a DNS name (also sent as SNI). */
static int expect_server_name(SSL *ssl, const char *hostname)
{
	unsigned char addr[sizeof(struct in6_addr)];

	if (inet_pton(AF_INET, hostname, addr) == 1 || inet_pton(AF_INET6, hostname, addr) == 1)
		return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), hostname) == 1 ? 0 : -1;
	if (SSL_set1_host(ssl, hostname) != 1 || SSL_set_tlsext_host_name(ssl, hostname) != 1)
		return -1;
	return 0;
}

static long ms_until(const struct timespec *deadline)
{
	struct timespec now;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (deadline->tv_sec - now.tv_sec) * 1000L + (deadline->tv_nsec - now.tv_nsec) / 1000000;
	return ms < 0 ? 0 : ms;
}

/* After a failed client handshake: what enbd-client's error line should say. */
static void connect_failure(const struct tls_conn *t, int ssl_error, char *why, size_t why_len)
{
	long verify = SSL_get_verify_result(t->ssl);

	if (verify != X509_V_OK) {
		snprintf(why, why_len, "server certificate rejected: %s",
			 X509_verify_cert_error_string(verify));
		return;
	}
	if (ssl_error == SSL_ERROR_SSL)
		snprintf(why, why_len, "%s", ssl_reason("protocol error"));
	else if (ssl_error == SSL_ERROR_SYSCALL && errno)
		snprintf(why, why_len, "%s", strerror(errno));
	else
		snprintf(why, why_len, "the server closed the connection");
	/* A server does not tell which: GnuTLS just hangs up, OpenSSL alerts. */
	if (t->psk_identity[0])
		append_printable(why, why_len, " (wrong PSK, or an identity the server does not know?)");
}

struct tls_conn *tls_connect(struct tls_ctx *ctx, int fd, const char *hostname,
			     int timeout_ms, int cancel_fd, char *why, size_t why_len)
{
	struct tls_conn *t = calloc(1, sizeof(*t));
	struct timespec deadline;
	int rc, err;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	if (!t || !(t->ssl = SSL_new(ctx->ssl_ctx)) || !SSL_set_fd(t->ssl, fd) ||
	    sock_set_nonblocking(fd, 1) < 0 ||
	    (!ctx->client_psk && expect_server_name(t->ssl, hostname) < 0)) {
		snprintf(why, why_len, "cannot set up TLS: %s", ssl_reason(strerror(errno)));
		errno = EPROTO;
		goto fail;
	}
	t->fd = fd;
	SSL_set_app_data(t->ssl, t);
	if (ctx->client_psk)
		append_printable(t->psk_identity, sizeof(t->psk_identity),
				 ctx->client_psk->identity);
	/* A reconnect after a link cut: the server's ticket saves the
	 * certificate exchange and its signatures. */
	if (ctx->session && !ctx->no_resume && SSL_SESSION_is_resumable(ctx->session))
		SSL_set_session(t->ssl, ctx->session);
	for (;;) {
		struct pollfd p[2] = { { .fd = fd }, { .fd = cancel_fd, .events = POLLIN } };
		int n;

		ERR_clear_error();
		errno = 0;
		rc = SSL_connect(t->ssl);
		err = rc == 1 ? SSL_ERROR_NONE : SSL_get_error(t->ssl, rc);
		if (!want_io(err))
			break;
		p[0].events = err == SSL_ERROR_WANT_WRITE ? POLLOUT : POLLIN;
		n = poll(p, cancel_fd >= 0 ? 2 : 1, (int)ms_until(&deadline));
		if (n < 0 && errno != EINTR) {
			snprintf(why, why_len, "poll: %s", strerror(errno));
			errno = EPROTO;
			goto fail;
		}
		if (n > 0 && cancel_fd >= 0 && (p[1].revents & POLLIN)) {
			errno = ECANCELED;
			goto fail;
		}
		if (n == 0) {
			snprintf(why, why_len, "TLS handshake deadline passed");
			errno = ETIMEDOUT;
			goto fail;
		}
	}
	if (rc != 1) {
		connect_failure(t, err, why, why_len);
		errno = EPROTO;
		goto fail;
	}
	describe(t, NULL);
	if (!t->psk_identity[0] && !SSL_session_reused(t->ssl))
		append_printable(t->desc, sizeof(t->desc), ", full handshake");
	pthread_mutex_init(&t->lock, NULL);
	pthread_mutex_init(&t->tx_lock, NULL);
	return t;
fail:
	if (t)
		SSL_free(t->ssl);
	free(t);
	return NULL;
}

bool tls_resumed(const struct tls_conn *t)
{
	return SSL_session_reused(t->ssl) && !t->psk_identity[0];
}

ssize_t tls_recv_nb(struct tls_conn *t, void *buf, size_t len, bool *want_out)
{
	return read_once(t, buf, len, len, want_out);
}

ssize_t tls_send_nb(struct tls_conn *t, const void *buf, size_t len, bool *want_out)
{
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };

	return write_once(t, &iov, 1, want_out);
}

bool tls_buffered(struct tls_conn *t)
{
	bool buffered;

	pthread_mutex_lock(&t->lock);
	buffered = atomic_load(&t->own) ? tls_records_buffered(t->records) :
					  SSL_has_pending(t->ssl);
	pthread_mutex_unlock(&t->lock);
	return buffered;
}
