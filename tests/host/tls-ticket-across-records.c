// SPDX-License-Identifier: GPL-2.0
/*
 * The client's hand-over to lib/tls-record.c when the server cuts a session
 * ticket across records (RFC 8446 5.1 allows it) and the cut reaches the
 * client exactly when it could hand over: the ticket's first record has
 * been read and nothing more is there.  The server here is OpenSSL itself,
 * driven through a memory BIO so that this program decides when each of
 * its records goes out: records of at most 512 bytes, and tickets made
 * larger than that by 2000 bytes of application data.  It sends the first
 * record after the handshake, waits until the client sleeps in poll() for
 * more, then sends the rest and "hello".  The client (lib/tls.c, PSK)
 * must read "hello", hand over, and send "world" through its own records,
 * which the server reads.  Exit 0, or 1 with the reason on stderr.
 *
 *   tls-ticket-across-records PSK_FILE
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tls.h"

#define MAX_FRAGMENT	512
#define TICKET_APPDATA	2000
#define REC_HEADER	5
#define REC_TAG		16

/* What the client thread shares with the server side. */
static struct {
	atomic_int tid;		/* the client thread, for /proc */
	int fd;
	const char *psk_file;
	char error[320];	/* empty: the client did its part */
	atomic_bool failed;	/* @error is written and final */
} client;

/* Why the client failed, once it has; NULL while it has not (yet). */
static const char *client_failure(void)
{
	return atomic_load(&client.failed) ? client.error : NULL;
}

static void die(const char *what)
{
	fprintf(stderr, "tls-ticket-across-records: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

/* ---- the client: enbd's lib/tls.c ---- */

static void client_run(void)
{
	struct tls_config cfg = { .psk_file = client.psk_file };
	char why[256], buf[6] = "";
	struct tls_ctx *ctx;
	struct tls_conn *t;

	atomic_store(&client.tid, (int)syscall(SYS_gettid));
	ctx = tls_client_ctx_new(&cfg, why, sizeof(why));
	if (!ctx) {
		snprintf(client.error, sizeof(client.error), "client context: %s", why);
		return;
	}
	t = tls_connect(ctx, client.fd, "localhost", 10000, -1, why, sizeof(why));
	if (!t)
		snprintf(client.error, sizeof(client.error), "client handshake: %s", why);
	else if (io_read_full(t, client.fd, buf, 5) < 0)
		snprintf(client.error, sizeof(client.error),
			 "client: reading after the cut ticket failed: %s", strerror(errno));
	else if (strcmp(buf, "hello"))
		snprintf(client.error, sizeof(client.error), "client read '%s', not hello", buf);
	else if (strcmp(tls_userspace_records(t), "both"))
		snprintf(client.error, sizeof(client.error),
			 "client: records still OpenSSL's (%s) after reading", tls_userspace_records(t));
	else if (io_write_full(t, client.fd, "world", 5) < 0)
		snprintf(client.error, sizeof(client.error), "client write: %s", strerror(errno));
	if (t)
		tls_close(t);
	tls_ctx_free(ctx);
}

static void *client_main(void *arg)
{
	(void)arg;
	client_run();
	if (client.error[0])
		atomic_store(&client.failed, true);
	tls_thread_done();
	return NULL;
}

/* Whether the client thread sleeps in poll() (lib/tls.c waits there). */
static int client_polls(void)
{
	char path[64], line[64] = "";
	long nr = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", atomic_load(&client.tid));
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fgets(line, sizeof(line), f))
		nr = strtol(line, NULL, 10);
	fclose(f);
#ifdef SYS_poll
	if (nr == SYS_poll)
		return 1;
#endif
	return nr == SYS_ppoll;
}

/* ---- the server: OpenSSL, its output held in a memory BIO ---- */

static unsigned char psk[64];
static size_t psk_len;

static unsigned int server_psk(SSL *ssl, const char *identity, unsigned char *out,
			       unsigned int max)
{
	(void)ssl;
	(void)identity;
	if (psk_len > max)
		return 0;
	memcpy(out, psk, psk_len);
	return (unsigned int)psk_len;
}

static int big_ticket(SSL *ssl, void *arg)
{
	static unsigned char appdata[TICKET_APPDATA];

	(void)arg;
	return SSL_SESSION_set1_ticket_appdata(SSL_get_session(ssl), appdata, sizeof(appdata));
}

static void read_psk(const char *path)
{
	char line[256], *hex;
	FILE *f = fopen(path, "r");

	if (!f || !fgets(line, sizeof(line), f) || !(hex = strchr(line, ':')))
		die("cannot read the PSK file");
	fclose(f);
	for (hex++; hex[0] && hex[1] && hex[0] != '\n' && psk_len < sizeof(psk); hex += 2) {
		unsigned int byte;

		if (sscanf(hex, "%2x", &byte) != 1)
			die("bad PSK file");
		psk[psk_len++] = (unsigned char)byte;
	}
}

static void wait_fd(int fd, short events)
{
	struct pollfd p = { .fd = fd, .events = events };

	if (poll(&p, 1, 10000) != 1)
		die(client_failure() ?: "the server waited 10 s for the client");
}

/* Write @len bytes of @p to the server's non-blocking @fd. */
static void send_raw(int fd, const unsigned char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EAGAIN) {
			wait_fd(fd, POLLOUT);
			continue;
		}
		if (n <= 0)
			die("server write failed");
		p += n;
		len -= (size_t)n;
	}
}

/* Everything the server wrote so far, from its memory BIO. */
static size_t take_output(BIO *out, unsigned char **data)
{
	long len = BIO_get_mem_data(out, (char **)data);

	return len > 0 ? (size_t)len : 0;
}

static void wait_until_client_polls(int fd)
{
	int waited_ms = 0, unread;

	for (;;) {
		if (ioctl(fd, FIONREAD, &unread) == 0 && unread == 0 && client_polls())
			return;
		if (client_failure())
			die(client_failure());
		if (waited_ms++ > 10000)
			die("the client did not read the ticket's first record in 10 s");
		poll(NULL, 0, 1);
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t alen = sizeof(a);
	int lfd, sfd, rc, records = 0;
	unsigned char *data, buf[6] = "";
	size_t len, first, off;
	pthread_t thread;
	SSL_CTX *ctx;
	BIO *out;
	SSL *ssl;

	if (argc != 2)
		die("usage: tls-ticket-across-records PSK_FILE");
	read_psk(argv[1]);
	client.psk_file = argv[1];

	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(lfd, 1) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&a, &alen) < 0)
		die("cannot listen");
	client.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	if (client.fd < 0 || (connect(client.fd, (struct sockaddr *)&a, sizeof(a)) < 0 &&
			      errno != EINPROGRESS))
		die("cannot connect");
	sfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
	if (sfd < 0)
		die("cannot accept");

	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || !SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) ||
	    !SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256") ||
	    !SSL_CTX_set_max_send_fragment(ctx, MAX_FRAGMENT) ||
	    !SSL_CTX_set_session_ticket_cb(ctx, big_ticket, NULL, NULL))
		die("server context");
	SSL_CTX_set_psk_server_callback(ctx, server_psk);
	ssl = SSL_new(ctx);
	out = BIO_new(BIO_s_mem());
	if (!ssl || !out)
		die("server SSL");
	SSL_set0_rbio(ssl, BIO_new_socket(sfd, BIO_NOCLOSE));
	SSL_set0_wbio(ssl, out);

	if (pthread_create(&thread, NULL, client_main, NULL))
		die("cannot start the client");
	/* The handshake: each flight goes out whole, as it comes. */
	while ((rc = SSL_accept(ssl)) != 1) {
		if (SSL_get_error(ssl, rc) != SSL_ERROR_WANT_READ)
			die(client_failure() ?: "server handshake failed");
		len = take_output(out, &data);
		send_raw(sfd, data, len);
		(void)BIO_reset(out);
		wait_fd(sfd, POLLIN);
	}
	/* What is left are the tickets, each larger than a record: the first
	 * record, full (content, content type and tag), holds part of one. */
	len = take_output(out, &data);
	for (off = 0; off + REC_HEADER <= len; records++)
		off += REC_HEADER + ((size_t)data[off + 3] << 8 | data[off + 4]);
	first = REC_HEADER + ((size_t)data[3] << 8 | data[4]);
	if (off != len || records < 2 || first != REC_HEADER + MAX_FRAGMENT + 1 + REC_TAG)
		die("the tickets did not come cut across records");
	send_raw(sfd, data, first);
	wait_until_client_polls(client.fd);
	send_raw(sfd, data + first, len - first);
	(void)BIO_reset(out);
	if (SSL_write(ssl, "hello", 5) != 5)
		die("server SSL_write");
	len = take_output(out, &data);
	send_raw(sfd, data, len);

	while ((rc = SSL_read(ssl, buf, 5)) <= 0 && SSL_get_error(ssl, rc) == SSL_ERROR_WANT_READ)
		wait_fd(sfd, POLLIN);
	pthread_join(thread, NULL);
	if (client.error[0])
		die(client.error);
	if (rc != 5 || memcmp(buf, "world", 5))
		die("the server did not read the client's 'world'");
	printf("%d ticket records; the client read hello after the cut and sent world\n", records);
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(sfd);
	close(lfd);
	close(client.fd);
	return 0;
}
