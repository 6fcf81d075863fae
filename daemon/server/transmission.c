// SPDX-License-Identifier: GPL-2.0
/*
 * Transmission phase: the threads of a connection, which take turns
 * reading requests (request.c) and carry them out (command.c) many at
 * once, and how the connection ends.  See conn.h for the threading.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "buffer.h"
#include "conn.h"
#include "log.h"
#include "nbd-proto.h"
#include "transmission.h"

/* ---- how the connection ends ---- */

int conn_state(struct conn *c)
{
	return __atomic_load_n(&c->end, __ATOMIC_ACQUIRE);
}

/* The connection ends @how (unless it already ended some other way): no
 * more requests are read. */
void conn_end(struct conn *c, int how)
{
	int open = CONN_OPEN;

	__atomic_compare_exchange_n(&c->end, &open, how, false, __ATOMIC_ACQ_REL,
				    __ATOMIC_ACQUIRE);
	__atomic_store_n(&c->quit, true, __ATOMIC_RELEASE);
}

void conn_stop(struct conn *c)
{
	conn_end(c, CONN_STOP);
}

/* Drop the connection: no more requests are read or started, and blocked
 * I/O ends. */
void conn_abort(struct conn *c)
{
	conn_end(c, CONN_DROPPED);
	shutdown(c->rfd, SHUT_RDWR);
}

/* A request of a dropped connection that was read but not started. */
static void discard(struct conn *c, const struct request *r)
{
	__atomic_add_fetch(&c->discarded, 1, __ATOMIC_RELAXED);
	log_debug("%s: %s offset %llu length %u discarded: the connection was dropped",
		  c->peer, cmd_name(r->type), (unsigned long long)r->offset, r->length);
}

/* Requests that change data: a stale copy of one could overwrite newer data. */
static bool changes_data(const struct request *r)
{
	return !r->error && (r->type == NBD_CMD_WRITE || r->type == NBD_CMD_TRIM ||
			     r->type == NBD_CMD_WRITE_ZEROES);
}

/* A request read while reading the stream to its end (read_to_end). */
struct pending {
	struct request r;
	struct buffer *buf;	/* a WRITE's payload, else NULL */
	struct pending *next;
};

/*
 * The client half-closed the connection (FIN): everything it will send is
 * in the socket already.  Read the rest now to learn how the stream ends:
 * with NBD_CMD_DISC (a soft disconnect) every request read is carried out;
 * without (a hard disconnect, e.g. the client process died) the connection
 * is CONN_DROPPED and they are discarded.  This thread carries out or
 * discards what it reads here.  No read blocks: the data is all there.
 */
static void read_to_end(struct conn *c)
{
	struct pending *head = NULL, **tail = &head, *p;
	struct buffer *buf = NULL, *scratch;

	pthread_mutex_lock(&c->rlock);
	while (!__atomic_load_n(&c->quit, __ATOMIC_ACQUIRE)) {
		p = malloc(sizeof(*p));
		if (!buf)
			buf = buffer_get(c);
		if (!p || !buf) {
			log_err("%s: out of memory", c->peer);
			free(p);
			conn_end(c, CONN_DROPPED);
			break;
		}
		if (read_request(c, &p->r, buf, true) < 0) {
			free(p);
			break;
		}
		p->buf = NULL;
		if (p->r.type == NBD_CMD_WRITE && !p->r.error) {
			p->buf = buf;	/* keep the payload; the next one needs a new buffer */
			buf = NULL;
		}
		p->next = NULL;
		*tail = p;
		tail = &p->next;
	}
	pthread_mutex_unlock(&c->rlock);

	scratch = buf ? buf : buffer_get(c);
	while ((p = head)) {
		head = p->next;
		if (conn_state(c) == CONN_DROPPED || (!p->buf && !scratch))
			discard(c, &p->r);
		else
			do_request(c, &p->r, p->buf ? p->buf : scratch);
		if (p->buf)
			buffer_put(c, p->buf);
		free(p);
	}
	if (scratch)
		buffer_put(c, scratch);
}

/* One transmission thread. */
struct worker {
	struct conn *c;
	bool lead;		/* holds c->rlock: reads the next request */
};

static void worker_drop_lead(struct worker *w)
{
	if (w->lead) {
		w->lead = false;
		pthread_mutex_unlock(&w->c->rlock);
	}
}

/*
 * What the socket says after a request that changes data was read: a reset
 * or a FIN is not seen by reading while earlier data is still queued (Linux
 * keeps what was received before a reset readable), so such a request looks
 * first.  POLLIN also tells whether the client sent more meanwhile.
 */
static short socket_events(struct conn *c, const struct request *r)
{
	struct pollfd p = { .fd = c->rfd, .events = POLLIN | POLLRDHUP };

	if (conn_state(c) != CONN_OPEN || !changes_data(r))
		return 0;
	return poll(&p, 1, 0) == 1 ? p.revents : 0;
}

/*
 * Whether a request read from the connection may be carried out now.  Not
 * once the connection was dropped: the client gets no reply, and it may
 * already have sent the request again on another connection, where a stale
 * copy starting late could overwrite the newer write.  @revents, from
 * socket_events(): a reset drops the connection; a FIN has the rest of the
 * stream read at once, under @rlock, which @w lets go of first if it holds
 * it.
 */
static bool may_start(struct conn *c, short revents, struct worker *w)
{
	if (revents & (POLLERR | POLLHUP | POLLNVAL)) {
		conn_end(c, CONN_DROPPED);
	} else if ((revents & POLLRDHUP) && conn_state(c) == CONN_OPEN) {
		worker_drop_lead(w);
		read_to_end(c);
	}
	return conn_state(c) != CONN_DROPPED;
}

static void *worker_main(void *arg);

/*
 * Called with @rlock held after a request was read: if nobody else is
 * waiting to read the next one and every other thread waits for storage,
 * start another thread to do so.  A thread that copies from the page cache
 * or sends a reply will be back soon: when the data is cached the CPUs and
 * the socket are the limit, and extra threads only add hand-offs (on two
 * cores, 16 threads took about a quarter more CPU per GiB than 2 for reads
 * over loopback, and served fewer 4 KiB reads per second).
 */
static void maybe_add_thread(struct conn *c)
{
	if (c->nthreads + 1 >= c->max_threads ||
	    __atomic_load_n(&c->waiting, __ATOMIC_ACQUIRE) > 0 ||
	    __atomic_load_n(&c->storage_waits, __ATOMIC_ACQUIRE) < c->nthreads)
		return;
	if (pthread_create(&c->threads[c->nthreads], NULL, worker_main, c) == 0)
		c->nthreads++;
}

/*
 * Small requests are served by the thread that read them, which keeps
 * @rlock and reads the next request when done: no hand-off to another
 * thread, and no wake-up of it, per request.  Should the request have to
 * wait for storage, the thread lets go of @rlock first (worker_wait_begin)
 * and another thread reads on.  For 4 KiB random reads from the page cache
 * this took about 15 % less CPU per GiB.  A small write is served so only
 * when nothing more of the stream is here yet, i.e. one at a time: it saves
 * a sleep and a wake-up of a second thread per write; when the client has
 * sent more, the next thread reads it at once, as before, and the writes
 * run beside the reading.  Larger requests always run beside the reading
 * of the next request, so that copying their data and sending the previous
 * reply use both CPUs; larger reads are also the ones that may be spliced
 * (SPLICE_MIN), which may block without telling.
 */
#define INLINE_MAX	(SPLICE_MIN - 1)

static bool more_input(struct conn *c, short revents)
{
	return (revents & POLLIN) || c->in_pos != c->in_len || (c->tls && tls_buffered(c->tls));
}

static bool serve_inline(struct conn *c, const struct request *r, short revents)
{
	if (r->error || r->length > INLINE_MAX || conn_state(c) != CONN_OPEN)
		return false;
	return r->type == NBD_CMD_READ || (r->type == NBD_CMD_WRITE && !more_input(c, revents));
}

static void worker_wait_begin(void *arg)
{
	struct worker *w = arg;

	__atomic_add_fetch(&w->c->storage_waits, 1, __ATOMIC_ACQ_REL);
	if (w->lead) {
		w->lead = false;
		pthread_mutex_unlock(&w->c->rlock);
	}
}

static void worker_wait_end(void *arg)
{
	struct worker *w = arg;

	__atomic_sub_fetch(&w->c->storage_waits, 1, __ATOMIC_ACQ_REL);
}

static void worker_take_lead(struct worker *w)
{
	struct conn *c = w->c;

	if (w->lead)
		return;
	__atomic_add_fetch(&c->waiting, 1, __ATOMIC_ACQ_REL);
	pthread_mutex_lock(&c->rlock);
	__atomic_sub_fetch(&c->waiting, 1, __ATOMIC_ACQ_REL);
	w->lead = true;
}

static void *worker_main(void *arg)
{
	struct conn *c = arg;
	struct worker wk = { .c = c }, *w = &wk;
	const struct storage_wait_hook hook = {
		.begin = worker_wait_begin, .end = worker_wait_end, .arg = w,
	};
	struct request r;
	short revents;

	backend_set_wait_hook(&hook);
	for (;;) {
		struct buffer *buf;

		worker_take_lead(w);
		buf = buffer_get(c);
		if (!buf) {
			log_err("%s: out of memory", c->peer);
			conn_end(c, CONN_DROPPED);
		}
		if (!buf || __atomic_load_n(&c->quit, __ATOMIC_ACQUIRE) ||
		    read_request(c, &r, buf, false) < 0) {
			worker_drop_lead(w);
			if (buf)
				buffer_put(c, buf);
			break;
		}
		maybe_add_thread(c);
		revents = socket_events(c, &r);
		if (!serve_inline(c, &r, revents))
			worker_drop_lead(w);
		if (may_start(c, revents, w))
			do_request(c, &r, buf);		/* may drop the lead */
		else
			discard(c, &r);
		buffer_put(c, buf);
	}
	backend_set_wait_hook(NULL);
	return NULL;
}

void transmission(struct conn *c)
{
	struct stat st;
	unsigned int i;

	c->wsock = fstat(c->wfd, &st) == 0 && S_ISSOCK(st.st_mode);
	/* Userspace TLS encrypts from memory: nothing to splice; kernel TLS
	 * encrypts what is spliced into the socket. */
	c->splice = c->srv->splice && c->wsock && (!c->tls || tls_ktls_send(c->tls));
	worker_main(c);
	/* No thread is started once quit is set, and it is set by now. */
	pthread_mutex_lock(&c->rlock);
	pthread_mutex_unlock(&c->rlock);
	for (i = 0; i < c->nthreads; i++)
		pthread_join(c->threads[i], NULL);
	buffer_pool_free(c);
	if (c->discarded)
		log_info("%s: connection dropped: %u request%s read but not started discarded",
			 c->peer, c->discarded, c->discarded == 1 ? "" : "s");
}
