// SPDX-License-Identifier: GPL-2.0
/* Connection lifetime and buffered input. */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "log.h"
#include "sock.h"

struct conn *conn_new(const struct server *srv, int rfd, int wfd, const char *peer)
{
	struct conn *c = calloc(1, sizeof(*c));
	pthread_mutexattr_t attr;

	if (!c)
		return NULL;
	c->max_threads = srv->max_threads ? srv->max_threads : 1;
	c->threads = calloc(c->max_threads, sizeof(*c->threads));
	if (!c->threads) {
		free(c);
		return NULL;
	}
	c->srv = srv;
	c->rfd = rfd;
	c->wfd = wfd;
	snprintf(c->peer, sizeof(c->peer), "%s", peer);
	/* Spin briefly before sleeping: the locks are held for microseconds,
	 * and a sleep-and-wake per request costs more (half the context
	 * switches in fio runs). */
	pthread_mutexattr_init(&attr);
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
	pthread_mutex_init(&c->rlock, &attr);
	pthread_mutex_init(&c->wlock, &attr);
	pthread_mutex_init(&c->pool_lock, &attr);
	pthread_mutexattr_destroy(&attr);
	return c;
}

void conn_free(struct conn *c)
{
	if (!c)
		return;
	pthread_mutex_destroy(&c->rlock);
	pthread_mutex_destroy(&c->wlock);
	pthread_mutex_destroy(&c->pool_lock);
	free(c->meta_export);
	free(c->threads);
	free(c);
}

static bool end_handshake(struct conn *c, enum conn_phase next)
{
	int expected = CONN_HANDSHAKE;

	return atomic_compare_exchange_strong(&c->phase, &expected, next);
}

bool conn_expire_handshake(struct conn *c)
{
	return end_handshake(c, CONN_EXPIRED);
}

void conn_serve(struct conn *c)
{
	if (handshake(c) == 0 && end_handshake(c, CONN_TRANSMISSION))
		transmission(c);
	if (c->tls)
		log_debug("%s: TLS records carried in userspace: %s", c->peer,
			  tls_userspace_records(c->tls));
	/* Here, while the descriptor is still ours (the caller closes it). */
	tls_close(c->tls);
	c->tls = NULL;
	tls_thread_done();
}

int conn_read(struct conn *c, void *buf, size_t len)
{
	size_t have = c->in_len - c->in_pos;
	char *out = buf;
	ssize_t got;

	if (len == 0)	/* a zero-length WRITE has no buffer at all */
		return 0;
	if (have) {
		size_t n = have < len ? have : len;

		memcpy(out, c->in + c->in_pos, n);
		c->in_pos += n;
		out += n;
		len -= n;
	}
	if (len == 0)
		return 0;
	if (len >= sizeof(c->in) / 2)	/* big payloads go straight to @buf */
		return io_read_full(c->tls, c->rfd, out, len);
	c->in_pos = c->in_len = 0;
	got = io_read_at_least(c->tls, c->rfd, c->in, len, sizeof(c->in));
	if (got < 0)
		return -1;
	c->in_len = (size_t)got;
	memcpy(out, c->in, len);
	c->in_pos = len;
	return 0;
}

int conn_skip(struct conn *c, uint64_t len)
{
	char scratch[16 << 10];

	while (len) {
		size_t n = len < sizeof(scratch) ? (size_t)len : sizeof(scratch);

		if (conn_read(c, scratch, n) < 0)
			return -1;
		len -= n;
	}
	return 0;
}
