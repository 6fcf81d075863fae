/* SPDX-License-Identifier: GPL-2.0 */
/*
 * One client connection: the option haggling (handshake.c), then the
 * transmission phase (transmission.c).
 *
 * Transmission threads work leader/follower style: whichever thread holds
 * @rlock reads the next request from the socket, lets go of the lock and
 * carries the request out, so requests run concurrently and replies go
 * out in completion order.  A small READ is the exception, and a small
 * WRITE when nothing more has arrived: the leader serves it itself and
 * keeps @rlock, unless it has to wait for storage, when it lets go first
 * (transmission.c, serve_inline).
 * Replies are written whole under @wlock.  There are two threads to begin
 * with, one reading while the other works; a thread is added (up to
 * max_threads) when a request is read while no other thread waits to read
 * and all the others wait for storage.
 *
 * How the connection ends decides what happens to requests that were read
 * but not yet started (see transmission.c, may_start()): after
 * NBD_CMD_DISC, or when the server shuts down, they are carried out; when
 * the connection is dropped any other way (reset, closed without
 * NBD_CMD_DISC, a send failure, a protocol violation) they are discarded,
 * so that a stale copy of a write cannot land after the client resubmitted
 * it elsewhere.
 */
#ifndef ENBD_SERVER_CONN_H
#define ENBD_SERVER_CONN_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server.h"
#include "tls.h"

#define CONN_INBUF	(64u << 10)	/* read-ahead buffer for requests */
#define CONN_MAX_OPTIONS 1024		/* options per session before we hang up */
#define META_ID_BASE_ALLOCATION 1	/* our id for base:allocation */

/*
 * Where a connection is (struct conn.phase).  The handshake ends once: the
 * connection's thread moves it on to transmission, or the accepting thread
 * expires it at its deadline (clients.c); whichever comes first wins.
 */
enum conn_phase {
	CONN_HANDSHAKE,
	CONN_TRANSMISSION,
	CONN_EXPIRED,		/* past the handshake deadline: closing */
};

/* How the transmission phase ends (struct conn.end); set once. */
enum conn_end {
	CONN_OPEN,		/* still serving */
	CONN_DISC,		/* NBD_CMD_DISC: every request read is carried out */
	CONN_STOP,		/* server shutdown: every request read is carried out */
	CONN_DROPPED,		/* hard disconnect: requests not started are discarded */
};

struct conn {
	const struct server *srv;
	int rfd, wfd;			/* the socket twice (the fuzzer uses two files) */
	struct tls_conn *tls;		/* after NBD_OPT_STARTTLS; all I/O goes through it */
	char peer[80];			/* for log lines */
	_Atomic int phase;		/* enum conn_phase */
	unsigned int max_threads;

	/* Read-ahead, used by the handshake and then by the @rlock holder. */
	unsigned char in[CONN_INBUF];
	size_t in_pos, in_len;

	/* Negotiated in the handshake */
	bool no_zeroes;			/* NBD_FLAG_C_NO_ZEROES */
	bool structured;		/* NBD_OPT_STRUCTURED_REPLY */
	bool meta_alloc;		/* base:allocation selected ... */
	char *meta_export;		/* ... for this export name */
	const struct export *exp;	/* the export being served */
	uint16_t tflags;		/* its transmission flags */

	/* Transmission */
	pthread_mutex_t rlock;		/* reading requests */
	pthread_mutex_t wlock;		/* writing replies */
	bool quit;			/* stop reading: disconnect, EOF or error */
	int end;			/* enum conn_end, set together with @quit */
	unsigned int discarded;		/* requests dropped unstarted (CONN_DROPPED) */
	bool wsock;			/* @wfd is a socket (not so in the fuzzer) */
	bool splice;			/* --splice and @wfd is a socket */
	unsigned int waiting;		/* threads waiting for @rlock */
	unsigned int storage_waits;	/* threads waiting for storage (backend.h) */
	unsigned int nthreads;		/* helper threads started */
	pthread_t *threads;
	/* Request buffers, reused most recently freed first (cache-warm). */
	pthread_mutex_t pool_lock;
	struct buffer *pool;
};

struct conn *conn_new(const struct server *srv, int rfd, int wfd, const char *peer);
void conn_free(struct conn *c);
/* Handshake then transmission, until the client goes away.  The caller
 * closes the descriptors. */
void conn_serve(struct conn *c);
/* From another thread: end a handshake that is still going on.  True when
 * it was; the caller then shuts the socket down. */
bool conn_expire_handshake(struct conn *c);

/* Buffered exact read; -1 with errno (ECONNRESET at end of stream). */
int conn_read(struct conn *c, void *buf, size_t len);
/* Read and drop @len bytes. */
int conn_skip(struct conn *c, uint64_t len);

/* handshake.c: 0 to go on to transmission, -1 to close the connection. */
int handshake(struct conn *c);
/* transmission.c: serve requests until the client leaves. */
void transmission(struct conn *c);
/* Server shutdown: read no more requests, carry out those already read. */
void conn_stop(struct conn *c);

#endif
