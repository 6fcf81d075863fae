// SPDX-License-Identifier: GPL-2.0
/*
 * An NBD client for server-tls-key-update: STARTTLS with a PSK (OpenSSL,
 * TLS 1.3), NBD_OPT_GO, then rounds of a WRITE of 1 MiB, a KeyUpdate that
 * asks the server for one too, and a READ of what was written, checked.
 * Exits 0 when every read matched and the server sent as many KeyUpdates
 * as it was asked for.  Built by the tests that use it.
 *
 * With "unasked" (server-tls-own-key-update), no KeyUpdate is sent or
 * asked for: the rounds only check the data, and the last line tells how
 * many KeyUpdates the server sent of its own accord.
 *
 *   tls_key_update_client PORT PSK_FILE ROUNDS [unasked]
 */
#include <arpa/inet.h>
#include <endian.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "nbd-proto.h"

#define CHUNK (1u << 20)

static unsigned char psk[64];
static unsigned int psk_len;
static char identity[128];
static int key_updates_in;

static void die(const char *what)
{
	fprintf(stderr, "tls_key_update_client: %s\n", what);
	exit(1);
}

static void raw_read(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n <= 0)
			die("read");
		p += n;
		len -= (size_t)n;
	}
}

static void tls_read(SSL *ssl, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		size_t n;

		if (!SSL_read_ex(ssl, p, len, &n))
			die("SSL_read");
		p += n;
		len -= n;
	}
}

static void tls_write(SSL *ssl, const void *buf, size_t len)
{
	size_t n;

	if (!SSL_write_ex(ssl, buf, len, &n) || n != len)
		die("SSL_write");
}

static unsigned int psk_cb(SSL *ssl, const char *hint, char *id, unsigned int max_id,
			   unsigned char *key, unsigned int max_key)
{
	(void)ssl;
	(void)hint;
	if (strlen(identity) >= max_id || psk_len > max_key)
		return 0;
	strcpy(id, identity);
	memcpy(key, psk, psk_len);
	return psk_len;
}

/* Count the KeyUpdate messages the server sends. */
static void msg_cb(int write_p, int version, int type, const void *buf, size_t len, SSL *ssl,
		   void *arg)
{
	(void)version;
	(void)ssl;
	(void)arg;
	if (!write_p && type == SSL3_RT_HANDSHAKE && len > 0 &&
	    ((const unsigned char *)buf)[0] == SSL3_MT_KEY_UPDATE)
		key_updates_in++;
}

static void load_psk(const char *path)
{
	char line[512], *colon;
	FILE *f = fopen(path, "r");
	unsigned int i;

	if (!f || !fgets(line, sizeof(line), f))
		die("cannot read the PSK file");
	fclose(f);
	line[strcspn(line, "\n")] = 0;
	colon = strchr(line, ':');
	if (!colon)
		die("PSK file: no identity:hexkey");
	*colon = 0;
	snprintf(identity, sizeof(identity), "%s", line);
	for (i = 0; colon[1 + 2 * i] && i < sizeof(psk); i++)
		sscanf(colon + 1 + 2 * i, "%2hhx", &psk[i]);
	psk_len = i;
}

static void option(int fd, SSL *ssl, uint32_t opt, const void *data, uint32_t len)
{
	struct nbd_option o = {
		.magic = htobe64(NBD_IHAVEOPT), .option = htobe32(opt), .length = htobe32(len),
	};

	if (ssl) {
		tls_write(ssl, &o, sizeof(o));
		tls_write(ssl, data, len);
	} else if (write(fd, &o, sizeof(o)) != sizeof(o)) {
		die("write");
	}
}

static void request(SSL *ssl, uint16_t type, uint64_t cookie, uint64_t offset, uint32_t len,
		    const void *payload)
{
	struct nbd_request r = {
		.magic = htobe32(NBD_REQUEST_MAGIC), .type = htobe16(type),
		.cookie = htobe64(cookie), .offset = htobe64(offset), .length = htobe32(len),
	};

	tls_write(ssl, &r, sizeof(r));
	if (payload)
		tls_write(ssl, payload, len);
}

static void simple_reply(SSL *ssl, uint64_t cookie)
{
	struct nbd_simple_reply r;

	tls_read(ssl, &r, sizeof(r));
	if (be32toh(r.magic) != NBD_SIMPLE_REPLY_MAGIC || r.error || be64toh(r.cookie) != cookie)
		die("bad reply");
}

int main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct nbd_greeting g;
	struct nbd_option_reply rep;
	unsigned char go[6] = { 0 };	/* empty name, no info requests */
	uint32_t flags = htobe32(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
	unsigned char *out = malloc(CHUNK), *in = malloc(CHUNK);
	int fd, rounds, i;
	bool ask;
	SSL_CTX *ctx;
	SSL *ssl;

	if (argc < 4 || argc > 5 || (argc == 5 && strcmp(argv[4], "unasked")) || !out || !in)
		die("usage: tls_key_update_client PORT PSK_FILE ROUNDS [unasked]");
	rounds = atoi(argv[3]);
	ask = argc == 4;
	load_psk(argv[2]);
	sa.sin_port = htons((uint16_t)atoi(argv[1]));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("connect");
	raw_read(fd, &g, sizeof(g));
	if (write(fd, &flags, sizeof(flags)) != sizeof(flags))
		die("write");
	option(fd, NULL, NBD_OPT_STARTTLS, NULL, 0);
	raw_read(fd, &rep, sizeof(rep));
	if (be32toh(rep.reply) != NBD_REP_ACK)
		die("STARTTLS refused");

	ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
	SSL_CTX_set_psk_client_callback(ctx, psk_cb);
	SSL_CTX_set_msg_callback(ctx, msg_cb);
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1)
		die("TLS handshake");

	option(fd, ssl, NBD_OPT_GO, go, sizeof(go));
	do {
		unsigned char skip[512];

		tls_read(ssl, &rep, sizeof(rep));
		if (be32toh(rep.reply) & NBD_REP_FLAG_ERROR || be32toh(rep.length) > sizeof(skip))
			die("NBD_OPT_GO refused");
		tls_read(ssl, skip, be32toh(rep.length));
	} while (be32toh(rep.reply) != NBD_REP_ACK);

	for (i = 0; i < rounds; i++) {
		memset(out, 'a' + i, CHUNK);
		out[i] = (unsigned char)i;
		request(ssl, NBD_CMD_WRITE, 2 * i, (uint64_t)i * CHUNK, CHUNK, out);
		simple_reply(ssl, 2 * i);
		if (ask && SSL_key_update(ssl, SSL_KEY_UPDATE_REQUESTED) != 1)
			die("SSL_key_update");
		request(ssl, NBD_CMD_READ, 2 * i + 1, (uint64_t)i * CHUNK, CHUNK, NULL);
		simple_reply(ssl, 2 * i + 1);
		tls_read(ssl, in, CHUNK);
		if (memcmp(in, out, CHUNK))
			die("data read back differs");
	}
	request(ssl, NBD_CMD_DISC, 0, 0, 0, NULL);
	if (!ask) {
		printf("%d rounds, %d KeyUpdates unasked\n", rounds, key_updates_in);
	} else if (key_updates_in != rounds) {
		fprintf(stderr, "tls_key_update_client: %d KeyUpdates asked for, %d came\n", rounds,
			key_updates_in);
		return 1;
	} else {
		printf("%d rounds, %d KeyUpdates each way\n", rounds, key_updates_in);
	}
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	free(out);
	free(in);
	return 0;
}
