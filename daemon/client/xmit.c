// SPDX-License-Identifier: GPL-2.0
/*
 * Transmission: the READY and DRAIN states of a channel (channel.h).
 *
 * One poll() loop over three fds: the control file (a request waits /
 * ejected), the non-blocking socket (replies in; requests out while output
 * is pending) and the signalfd.  Requests claimed from the kernel live in a
 * slot table; the NBD cookie names the slot, the part and the slot's
 * generation, so every reply is matched to exactly one outstanding part or
 * the connection is declared broken.
 *
 * Backpressure: a request is fetched from the kernel only while a slot is
 * free, fewer requests than the adaptive window (below) are in flight and
 * the send queue is empty, so output never piles up beyond one request and
 * the socket's own buffer.  Replies are always read, whether or not output
 * is pending, so we never block while the server is blocked writing
 * replies to us.
 *
 * Nothing owned by a broken connection is ever completed: the channel
 * detaches and the kernel puts those requests back on the queue.
 *
 * Keep-alive: a hung server (stopped, wedged, or cut off without a reset)
 * leaves the socket open and silent.  After `keepalive` seconds without a
 * byte from the server the channel sends one probe; if still nothing at all
 * has arrived `keepalive` seconds after the probe was queued, the connection
 * is dead.  Any bytes count as life, a large reply still arriving too.  The
 * probe's clock starts when it is queued, so it also runs out while the
 * probe waits behind a request the server is not reading.
 *
 * NBD has no no-op, so the probe is a READ of one block (the device's block
 * size) at offset 0: every server must serve READ, it changes nothing, and
 * the export is never smaller than one block (SETUP checked).  FLUSH would
 * make the server write back its cache and need not be advertised;
 * CACHE and BLOCK_STATUS are optional extensions.  The probe has its own
 * slot outside the free list: it shares the send queue and the cookie
 * matching with requests, but it is none of the kernel's, its answer
 * completes nothing (it is reported with ENBD_EVENT_KEEPALIVE) and DRAIN
 * does not wait for it.
 */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "channel.h"
#include "log.h"
#include "nbd-proto.h"

#define TX_IOV		64		/* iovecs per sendmsg */
#define TX_BATCH	(1u << 20)	/* bytes per sendmsg */
#define RX_ROUNDS	8		/* reads per wakeup, to stay fair */
#define RX_DIRECT_MIN	4096		/* read payloads this big straight into the slot */
#define SENDQ_LEN	(CHAN_SLOTS + 1)	/* every slot and the probe */

/*
 * The adaptive window.  Several channels of a device pull requests from one
 * queue; a channel that takes more than its link can carry at once only
 * makes them wait in its socket while a faster channel idles.  With the
 * queue deeper than all slots together that is harmless (the fast channel
 * still finds requests), but with fewer requests outstanding a slow channel
 * hoards them and the whole device runs at its pace.  So a channel fetches
 * only while its requests in flight are below c->window: the smallest
 * window that still buys throughput.
 *
 * Each round (WIN_ROUND_MS and WIN_ROUND_MIN completions at least) yields
 * two figures.  The throughput: work completed per time (sizes: below).
 * And, after TCP Vegas, the requests only queueing: with n in flight and a
 * mean latency of `ratio` times the unloaded one, about n * (1 - 1 / ratio)
 * (Little's law).  Vegas alone would do on a saturated link, where latency
 * grows in proportion to the requests in flight and the throughput stays
 * flat.  But latency also grows where more in flight does pay: a busy
 * server (or client) handles requests in batches, and on a loaded machine
 * the unloaded latency is mostly wakeups and scheduling.  There most
 * requests look queued, and Vegas cut a lone channel's window to 4 or 5,
 * costing it a third to two thirds of its throughput (measured in the test
 * VM).  So the throughput comes first:
 *
 *   - the window grew and the throughput rose by WIN_GAIN: grow again;
 *   - the window shrank and the throughput fell by WIN_GAIN: back to the
 *     window before, and grow from there;
 *   - otherwise nothing is at stake, and the queue decides: halve the
 *     window while more than WIN_BETA requests queue, double it while
 *     fewer than WIN_ALPHA do.
 *
 * On a saturated link the window thus shrinks to a few requests however
 * its latency is made up; a server that is slow for its own reasons but
 * serves requests in parallel keeps its latency and grows to CHAN_SLOTS;
 * and a channel that gains from every step grows to CHAN_SLOTS too, each
 * step down there being undone by the throughput it costs.  A round in
 * which the window was never filled says nothing about it: it changes
 * nothing, and the next round is compared with none.  An idle spell is no
 * measure of throughput either: the first fetch after one starts a round.
 *
 * Sizes: requests of 4 KiB and of 512 KiB are not the same work, and a
 * request's cost is a fixed part plus its bytes over the link's rate,
 * either of which can dominate (4 KiB on a WAN, 512 KiB on a slow link), so
 * neither a count nor bytes nor any one size term fits every link.  So a
 * completion counts as the work its class takes unloaded: the least latency
 * seen for READ or WRITE (their payloads cross the link in opposite
 * directions) of its size, rounded up to a power of two from 4 KiB.  Within
 * a class sizes differ by less than 2x, and a change in the mix of sizes
 * does not read as a change in throughput.  Commands without payload
 * (FLUSH, TRIM, ...) take as long as the server's work on them, unrelated
 * to the link or their length, and are not timed.
 *
 * A lone channel (the device has one) keeps all CHAN_SLOTS: it has no one
 * to leave requests to, and where throughput grows slower than the window
 * the climb settles below CHAN_SLOTS and gives some of it up (in a trial in
 * the test VM, 4 KiB random reads settled at a window of 4 to 8 with 15 %
 * fewer IOPS than at 64).
 *
 * The unloaded latency is the least seen in its class over the last
 * WIN_BASE_MS to 2 * WIN_BASE_MS, so it follows a server or path that got
 * slower or faster (a round compared with one of another period would
 * compare different units, so a period starts with no comparison).  No
 * window sticks at WIN_MIN: with WIN_MIN in flight fewer than WIN_ALPHA can
 * be queueing, so it grows, and it goes on growing while that pays.
 */
#define WIN_MIN		2	/* never fewer: one request's reply overlaps the next request */
#define WIN_INIT	8	/* new connection: low enough that a slow link hoards little
				 * before it has learnt, and a few rounds from CHAN_SLOTS */
#define WIN_ROUND_MIN	8	/* completions per round at least: one or two are noise */
#define WIN_ROUND_MS	200	/* and time: shorter, scheduling noise dominates (TCG VM) */
#define WIN_GAIN	0.15	/* throughput change that counts for a step of 2x: a slow
				 * link's rounds of a few completions vary by more than
				 * 5 % (reads and writes load its two directions unevenly),
				 * and at 5 % a slow channel's window drifted up to 32 */
#define WIN_ALPHA	2.0	/* requests queueing below which the window grows ... */
#define WIN_BETA	4.0	/* ... and above which it shrinks: a few keep the link busy */
#define WIN_BASE_MS	5000	/* period of the unloaded latency's windowed minimum */
#define WIN_LOG_MS	1000	/* window changes logged at most this often (-v) */

static uint64_t mk_cookie(unsigned int idx, unsigned int part, uint32_t gen)
{
	return (uint64_t)gen << 32 | (uint64_t)part << 16 | idx;
}

/* Record why the loop must stop; the first reason wins. */
static int want(struct channel *c, enum xmit_result r)
{
	if (!c->want)
		c->want = (int)r + 1;
	return -1;
}

long chan_ms_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
}

static uint64_t now_us(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000 + (uint64_t)now.tv_nsec / 1000;
}

const char *xmit_result_name(enum xmit_result r)
{
	static const char *const names[] = {
		[XMIT_BROKEN] = "broken", [XMIT_STOP] = "stop",
		[XMIT_RECONNECT] = "reconnect", [XMIT_EJECTED] = "ejected",
		[XMIT_DRAINED] = "drained", [XMIT_TIMEOUT] = "timeout",
		[XMIT_FATAL] = "fatal",
	};

	return names[r];
}

/* ---- slots ---------------------------------------------------------- */

unsigned int xmit_in_flight(const struct channel *c)
{
	return c->busy - c->held;
}

/* The slot the next fetch will use, with its buffer ready; NULL if none. */
static struct slot *slot_peek(struct channel *c)
{
	struct slot *s;

	if (c->free_head < 0)
		return NULL;
	s = &c->slots[c->free_head];
	if (!s->buf) {
		s->buf = malloc(ENBD_MAX_IO_BYTES);
		if (!s->buf) {
			log_warn("out of memory for a request buffer");
			return NULL;
		}
	}
	return s;
}

static void slot_start(struct slot *s, const struct enbd_request *req)
{
	s->state = SLOT_BUSY;
	s->req = *req;
	s->error = 0;
	s->nparts = 1;
	s->parts_sent = 0;
	s->parts_done = 0;
	s->queued = false;
	memset(s->answered, 0, sizeof(s->answered));
}

/* A new round of the adaptive window (below). */
static void win_round_start(struct channel *c)
{
	c->rnd_n = 0;
	c->rnd_start_us = now_us();
	c->rnd_work = c->rnd_ratio = c->rnd_busy = 0;
	c->rnd_full = false;
}

static void slot_take(struct channel *c, struct slot *s, const struct enbd_request *req)
{
	c->free_head = s->next_free;
	slot_start(s, req);
	s->start_us = now_us();
	if (c->busy == 0)
		win_round_start(c);	/* an idle spell is no measure of throughput */
	c->busy++;
	if (c->busy >= c->window)
		c->rnd_full = true;
	if (c->busy > c->st.max_in_flight)
		c->st.max_in_flight = c->busy;
}

static void slot_release(struct channel *c, struct slot *s)
{
	if (s->state == SLOT_HELD)
		c->held--;
	s->state = SLOT_FREE;
	s->gen++;
	s->next_free = c->free_head;
	c->free_head = (int)(s - c->slots);
	c->busy--;
}

static bool can_fetch(const struct channel *c)
{
	return !c->draining && !c->want && !c->ejected && c->free_head >= 0 &&
	       c->busy < c->window && c->sq_len == 0 && c->disc_len == 0;
}

/* ---- adaptive window (see the top) ---------------------------------- */

/* Nothing to compare the next round with: the unloaded latencies changed. */
static void win_restart(struct channel *c)
{
	c->prev_tput = 0;
	c->prev_window = c->window;
	win_round_start(c);
}

static bool win_adaptive(const struct channel *c)
{
	return c->o->channels > 1;
}

/* A new connection may take another path or server: learn it afresh. */
static void win_reset(struct channel *c)
{
	c->window = win_adaptive(c) ? WIN_INIT : CHAN_SLOTS;
	memset(c->base_us, 0xff, sizeof(c->base_us));
	c->base_since_us = now_us();
	win_restart(c);
}

/* The latency class of a request; -1 if it is not timed. */
static int win_class(const struct enbd_request *r)
{
	uint32_t len = r->length;
	int k = 0;

	if (r->type != ENBD_CMD_READ && r->type != ENBD_CMD_WRITE)
		return -1;
	while (len > 4096 && k < CHAN_WIN_SIZES - 1) {
		len >>= 1;
		k++;
	}
	return (r->type == ENBD_CMD_WRITE ? CHAN_WIN_SIZES : 0) + k;
}

static void win_set(struct channel *c, unsigned int w, double tput, double queued)
{
	uint64_t now = now_us();

	c->prev_tput = tput;
	c->prev_window = c->window;
	c->window = w;
	if (w != c->win_logged && now - c->win_logged_us >= WIN_LOG_MS * 1000ull) {
		log_debug("window %u (throughput %.3f, ~%.1f requests queueing)", w, tput, queued);
		c->win_logged = w;
		c->win_logged_us = now;
	}
}

/* End of a round: one step (see the top). */
static void win_adapt(struct channel *c, uint64_t now)
{
	double tput = c->rnd_work / (double)(now - c->rnd_start_us);
	double ratio = c->rnd_ratio / c->rnd_n;
	double queued = c->rnd_busy / c->rnd_n * (1 - 1 / ratio);
	unsigned int w = c->window;
	bool grew = w > c->prev_window, shrank = w < c->prev_window;

	if (!c->rnd_full) {
		/* The next full round may be under another load: compare it with none. */
		win_restart(c);
		return;
	}
	/*
	 * Steps of a factor of 2 both ways: where throughput grows slower
	 * than the window (a busy server; the test VM: 12x the window for
	 * 1.35x) a smaller step's gain is lost in the rounds' noise, and a
	 * slow link's rounds are long.
	 */
	if (c->prev_tput && shrank && tput <= c->prev_tput * (1 - WIN_GAIN))
		w = c->prev_window;
	else if ((c->prev_tput && grew && tput >= c->prev_tput * (1 + WIN_GAIN)) ||
		 queued < WIN_ALPHA)
		w *= 2;
	else if (queued > WIN_BETA)
		w -= w / 2;
	if (w > CHAN_SLOTS)
		w = CHAN_SLOTS;
	if (w < WIN_MIN)
		w = WIN_MIN;
	win_set(c, w, tput, queued);
	win_round_start(c);
}

/* Request @s completed: take its latency into the window. */
static void win_sample(struct channel *c, const struct slot *s)
{
	int k = win_class(&s->req);
	uint64_t now = now_us(), lat = now - s->start_us;
	uint32_t *b, base;
	int i;

	if (k < 0 || s->error || !win_adaptive(c))
		return;
	if (now - c->base_since_us >= WIN_BASE_MS * 1000ull) {
		for (i = 0; i < CHAN_WIN_CLASSES; i++) {
			c->base_us[i][1] = c->base_us[i][0];
			c->base_us[i][0] = UINT32_MAX;
		}
		c->base_since_us = now;
		win_restart(c);
	}
	if (lat == 0)
		lat = 1;
	if (lat > UINT32_MAX)
		lat = UINT32_MAX;
	b = c->base_us[k];
	if (lat < b[0])
		b[0] = (uint32_t)lat;
	base = b[0] < b[1] ? b[0] : b[1];
	c->rnd_work += base;
	c->rnd_ratio += (double)lat / base;
	c->rnd_busy += c->busy;
	if (++c->rnd_n >= WIN_ROUND_MIN && now - c->rnd_start_us >= WIN_ROUND_MS * 1000ull)
		win_adapt(c, now);
}

void xmit_reset(struct channel *c)
{
	int i;

	c->free_head = -1;
	for (i = CHAN_PROBE; i >= 0; i--) {
		struct slot *s = &c->slots[i];

		if (s->state != SLOT_FREE)
			s->gen++;
		s->state = SLOT_FREE;
		s->queued = false;
		if (i == CHAN_PROBE)
			continue;
		s->next_free = c->free_head;
		c->free_head = i;
	}
	c->busy = c->held = 0;
	c->sq_head = c->sq_len = 0;
	c->send_off = 0;
	c->disc_len = c->disc_off = 0;
	c->rx_pos = c->rx_end = 0;
	c->rx_slot = NULL;
	c->rx_left = 0;
	c->draining = false;
	c->want = 0;
	win_reset(c);
}

int xmit_init(struct channel *c)
{
	int i;

	for (i = 0; i <= CHAN_PROBE; i++)
		c->slots[i] = (struct slot){ .state = SLOT_FREE, .gen = 1 };
	c->rxbuf = malloc(CHAN_RXBUF);
	c->slots[CHAN_PROBE].buf = malloc(CHAN_PROBE_MAX);
	if (!c->rxbuf || !c->slots[CHAN_PROBE].buf) {
		xmit_free(c);
		return -1;
	}
	xmit_reset(c);
	return 0;
}

void xmit_free(struct channel *c)
{
	int i;

	for (i = 0; i <= CHAN_PROBE; i++) {
		free(c->slots[i].buf);
		c->slots[i].buf = NULL;
	}
	free(c->rxbuf);
	c->rxbuf = NULL;
}

/* ---- requests out --------------------------------------------------- */

static uint32_t part_len(const struct channel *c, const struct slot *s, unsigned int p)
{
	uint32_t off = p * c->part_size;

	if (s->nparts == 1)
		return s->req.length;
	return s->req.length - off < c->part_size ? s->req.length - off : c->part_size;
}

/* Bytes of part @p on the wire: header, plus the payload of a WRITE. */
static uint32_t part_wire_len(const struct channel *c, const struct slot *s, unsigned int p)
{
	return sizeof(struct nbd_request) +
	       (s->req.type == ENBD_CMD_WRITE ? part_len(c, s, p) : 0);
}

static void part_header(const struct channel *c, const struct slot *s, unsigned int p,
			struct nbd_request *h)
{
	uint16_t flags = 0;

	if (s->req.flags & ENBD_CMD_FLAG_FUA)
		flags |= NBD_CMD_FLAG_FUA;
	if (s->req.flags & ENBD_CMD_FLAG_NO_HOLE)
		flags |= NBD_CMD_FLAG_NO_HOLE;
	h->magic = htobe32(NBD_REQUEST_MAGIC);
	h->flags = htobe16(flags);
	h->type = htobe16(s->req.type);	/* ENBD_CMD_* == NBD_CMD_* */
	h->cookie = htobe64(mk_cookie((unsigned int)(s - c->slots), p, s->gen));
	h->offset = htobe64(s->req.offset + (uint64_t)p * c->part_size);
	h->length = htobe32(part_len(c, s, p));
	if (s->req.type == ENBD_CMD_FLUSH) {
		/* NBD wants 0 and 0 (nbdkit refuses anything else). */
		h->offset = 0;
		h->length = 0;
	}
}

/*
 * Check a fetched request against what the server accepts.  Returns 0, or
 * the negative errno to complete it with at once.
 */
static int check_request(struct channel *c, struct slot *s)
{
	const struct enbd_request *r = &s->req;
	uint16_t tf = c->ex.tflags;
	uint32_t min = c->ex.min_block ? c->ex.min_block : 1;

	if (r->flags & ~(ENBD_CMD_FLAG_FUA | ENBD_CMD_FLAG_NO_HOLE))
		return -EINVAL;
	if ((r->flags & ENBD_CMD_FLAG_FUA) && !(tf & NBD_FLAG_SEND_FUA))
		return -EOPNOTSUPP;
	if ((r->flags & ENBD_CMD_FLAG_NO_HOLE) && r->type != ENBD_CMD_WRITE_ZEROES)
		return -EINVAL;
	switch (r->type) {
	case ENBD_CMD_READ:
	case ENBD_CMD_WRITE:
		if (r->length == 0 || r->length > ENBD_MAX_IO_BYTES)
			return -EINVAL;
		break;
	case ENBD_CMD_FLUSH:
		return (tf & NBD_FLAG_SEND_FLUSH) ? 0 : -EOPNOTSUPP;
	case ENBD_CMD_TRIM:
		if (!(tf & NBD_FLAG_SEND_TRIM))
			return -EOPNOTSUPP;
		break;
	case ENBD_CMD_WRITE_ZEROES:
		if (!(tf & NBD_FLAG_SEND_WRITE_ZEROES))
			return -EOPNOTSUPP;
		break;
	default:
		return -EOPNOTSUPP;
	}
	if (r->type != ENBD_CMD_READ && (tf & NBD_FLAG_READ_ONLY))
		return -EPERM;
	if (r->offset > c->ex.size || r->length > c->ex.size - r->offset)
		return -EINVAL;
	if ((r->offset | r->length) & (min - 1))
		return -EINVAL;
	if (r->type == ENBD_CMD_READ || r->type == ENBD_CMD_WRITE)
		s->nparts = (r->length + c->part_size - 1) / c->part_size;
	return 0;
}

static void sendq_push(struct channel *c, struct slot *s)
{
	c->sendq[(c->sq_head + c->sq_len) % SENDQ_LEN] = (unsigned int)(s - c->slots);
	c->sq_len++;
	s->queued = true;
}

static struct slot *sendq_at(struct channel *c, unsigned int i)
{
	return &c->slots[c->sendq[(c->sq_head + i) % SENDQ_LEN]];
}

static void sendq_pop(struct channel *c)
{
	sendq_at(c, 0)->queued = false;
	c->sq_head = (c->sq_head + 1) % SENDQ_LEN;
	c->sq_len--;
}

/* Account @n bytes written to the socket. */
static void tx_advance(struct channel *c, size_t n)
{
	while (n && c->sq_len) {
		struct slot *s = sendq_at(c, 0);
		uint32_t left = part_wire_len(c, s, s->parts_sent) - c->send_off;

		if (n < left) {
			c->send_off += n;
			return;
		}
		n -= left;
		c->send_off = 0;
		if (s->req.type == ENBD_CMD_WRITE)
			c->st.bytes_written += part_len(c, s, s->parts_sent);
		if (++s->parts_sent == s->nparts)
			sendq_pop(c);
	}
	c->disc_off += n;
}

/*
 * One sendmsg's worth of output.  Every append is bounded: a part may be cut
 * anywhere (the socket may take any prefix anyway), so a full batch simply
 * ends where it is.  A header is built only where an iovec points at it.
 */
struct tx_batch {
	struct iovec iov[TX_IOV];
	struct nbd_request hdr[TX_IOV];
	unsigned int niov, nhdr;
	size_t bytes;
};

static bool batch_full(const struct tx_batch *b)
{
	return b->niov == TX_IOV || b->bytes >= TX_BATCH;
}

/* Append @len bytes at @base.  false: the batch is full, nothing appended. */
static bool batch_add(struct tx_batch *b, void *base, size_t len)
{
	if (batch_full(b))
		return false;
	b->iov[b->niov].iov_base = base;
	b->iov[b->niov++].iov_len = len;
	b->bytes += len;
	return true;
}

/* Append what is left of part @p of @s, @skip bytes of it already sent. */
static bool batch_add_part(struct tx_batch *b, const struct channel *c, const struct slot *s,
			   unsigned int p, uint32_t skip)
{
	uint32_t hlen = sizeof(struct nbd_request);
	uint32_t dlen = part_wire_len(c, s, p) - hlen;

	if (skip < hlen) {
		struct nbd_request *h = &b->hdr[b->nhdr];

		if (batch_full(b))
			return false;
		part_header(c, s, p, h);
		b->nhdr++;
		batch_add(b, (uint8_t *)h + skip, hlen - skip);
		skip = 0;
	} else {
		skip -= hlen;
	}
	return !dlen || batch_add(b, s->buf + (size_t)p * c->part_size + skip, dlen - skip);
}

/* Gather the pending output: the send queue, then any NBD_CMD_DISC. */
static void batch_fill(struct tx_batch *b, struct channel *c)
{
	uint32_t skip = c->send_off;
	unsigned int q, p;

	b->niov = b->nhdr = 0;
	b->bytes = 0;
	for (q = 0; q < c->sq_len; q++) {
		struct slot *s = sendq_at(c, q);

		for (p = s->parts_sent; p < s->nparts; p++) {
			if (!batch_add_part(b, c, s, p, skip))
				return;
			skip = 0;
		}
	}
	if (c->disc_off < c->disc_len)
		batch_add(b, c->disc + c->disc_off, c->disc_len - c->disc_off);
}

/* Write as much pending output as the socket takes.  0, or -1: broken. */
static int tx(struct channel *c)
{
	struct tx_batch b;
	struct msghdr msg = { .msg_iov = b.iov };
	ssize_t n;

	for (;;) {
		batch_fill(&b, c);
		if (b.niov == 0)
			return 0;
		msg.msg_iovlen = b.niov;
		n = sendmsg(c->sock, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			if (errno == EINTR)
				continue;
			log_warn("sending to the server: %s", strerror(errno));
			return want(c, XMIT_BROKEN);
		}
		tx_advance(c, (size_t)n);
	}
}

static bool output_pending(const struct channel *c)
{
	return c->sq_len || c->disc_off < c->disc_len;
}

/* ---- the kernel side ------------------------------------------------ */

/*
 * The kernel aged one of our requests and marked the channel stalled: drop
 * the connection abortively (a write still on its way must not land after a
 * newer one), detach so the kernel resubmits, and reconnect.
 */
static int stalled(struct channel *c)
{
	log_warn("the kernel reports this channel stalled (a request outlived the aging time): reconnecting");
	return want(c, XMIT_BROKEN);
}

/*
 * Complete @done (if not NULL) and fetch new requests while a slot is free
 * and nothing waits to be sent: completion of one request and fetch of the
 * next in one ioctl.  0, or -1 with c->want set.
 */
static int pump(struct channel *c, struct slot *done)
{
	for (;;) {
		struct enbd_io io = { .size = sizeof(io) };
		struct slot *n = NULL;
		int rc, err;

		if (done) {
			io.flags |= ENBD_IO_COMPLETE;
			io.done_seq = done->req.seq;
			io.done_tag = done->req.tag;
			io.done_error = done->error;
			if (done->req.type == ENBD_CMD_READ && !done->error) {
				io.done_data = (uintptr_t)done->buf;
				io.done_length = done->req.length;
			}
			if (done->error) {
				c->st.errors++;
				log_debug("request seq %llu type %u failed: %s",
					  (unsigned long long)done->req.seq, done->req.type,
					  strerror(-done->error));
			}
			/* The kernel copies READ data before it writes a fetch into the same buffer. */
			slot_release(c, done);
		}
		if (can_fetch(c)) {
			n = slot_peek(c);
			if (n) {
				io.flags |= ENBD_IO_FETCH | ENBD_IO_NONBLOCK;
				io.data = (uintptr_t)n->buf;
				io.data_capacity = ENBD_MAX_IO_BYTES;
			}
		}
		if (!io.flags)
			return 0;
		rc = c->dev->ops->io(c->dev, &io);
		if (done && rc == 0 && io.done_result == ENBD_DONE_DISCARDED)
			log_debug("completion of seq %llu discarded by the kernel",
				  (unsigned long long)io.done_seq);
		done = NULL;
		if (rc == -EAGAIN || rc == -EINTR)
			return 0;
		if (rc == -ESHUTDOWN) {
			c->ejected = true;
			return want(c, XMIT_EJECTED);
		}
		if (rc == -ENOLINK)
			return stalled(c);
		if (rc < 0) {
			log_err("ENBD_IOC_IO: %s", strerror(-rc));
			return want(c, rc == -ENOTTY || rc == -EFAULT ? XMIT_FATAL : XMIT_BROKEN);
		}
		if (!(io.flags & ENBD_IO_FETCH))
			return 0;
		slot_take(c, n, &io.req);
		c->st.requests++;
		err = check_request(c, n);
		if (err) {
			log_warn("request seq %llu (type %u, offset %llu, length %u, flags 0x%x) cannot be sent: %s",
				 (unsigned long long)io.req.seq, io.req.type,
				 (unsigned long long)io.req.offset, io.req.length, io.req.flags,
				 strerror(-err));
			n->error = err;
			done = n;
			continue;
		}
		sendq_push(c, n);
		if (tx(c) < 0)
			return -1;
	}
}

/* ---- keep-alive ----------------------------------------------------- */

static struct slot *probe_slot(struct channel *c)
{
	return &c->slots[CHAN_PROBE];
}

static bool probe_outstanding(struct channel *c)
{
	return probe_slot(c)->state == SLOT_BUSY;
}

static void probe_send(struct channel *c)
{
	struct enbd_request req = { .type = ENBD_CMD_READ, .length = c->cfg.block_size };

	log_debug("nothing from the server for %u s: keep-alive probe", c->ka_ms / 1000);
	slot_start(probe_slot(c), &req);
	clock_gettime(CLOCK_MONOTONIC, &c->probe_at);
	sendq_push(c, probe_slot(c));
	tx(c);
}

/* The probe is answered or abandoned; a late answer is an unknown cookie. */
static void probe_end(struct channel *c)
{
	probe_slot(c)->state = SLOT_FREE;
	probe_slot(c)->gen++;
}

static int probe_answered(struct channel *c, uint32_t nbd_err)
{
	int rc;

	probe_end(c);
	c->conn_replies++;
	if (nbd_err == NBD_ESHUTDOWN) {
		log_info("server is shutting down (NBD_ESHUTDOWN); reconnecting");
		want(c, XMIT_RECONNECT);
		return 0;
	}
	/* Even an error proves the server alive. */
	c->st.keepalives++;
	rc = c->dev->ops->event(c->dev, ENBD_EVENT_KEEPALIVE);
	log_debug("keep-alive answered (NBD error %u); ENBD_IOC_EVENT: %s", nbd_err,
		  rc ? strerror(-rc) : "counted");
	return 0;
}

static void keepalive_read(struct channel *c)
{
	c->ka_ms = c->dev->ops->keepalive(c->dev) * 1000;
	clock_gettime(CLOCK_MONOTONIC, &c->ka_read);
}

/* Transmission starts: the handshake was the last we heard from the server. */
static void keepalive_start(struct channel *c)
{
	keepalive_read(c);
	c->heard = c->ka_read;
}

/*
 * Probe a quiet server, or give up on one that did not answer a probe.
 * Returns how long poll() may sleep (ms) before the next check, or -1 with
 * c->want set.
 */
static int keepalive_tick(struct channel *c)
{
	long since_read = chan_ms_since(&c->ka_read), quiet, idle, next;

	if (since_read >= CHAN_KA_REREAD_MS) {
		keepalive_read(c);
		since_read = 0;
	}
	next = CHAN_KA_REREAD_MS - since_read;
	if (!c->ka_ms)
		return (int)next;
	quiet = chan_ms_since(&c->heard);
	idle = quiet;
	if (probe_outstanding(c) && chan_ms_since(&c->probe_at) < idle)
		idle = chan_ms_since(&c->probe_at);
	if (idle >= c->ka_ms) {
		if (probe_outstanding(c)) {
			log_warn("no answer from the server for %ld.%ld s (keep-alive): dropping the connection",
				 quiet / 1000, quiet / 100 % 10);
			return want(c, XMIT_BROKEN);
		}
		probe_send(c);
		idle = 0;
	}
	return (int)(c->ka_ms - idle < next ? c->ka_ms - idle : next);
}

/* ---- replies in ----------------------------------------------------- */

/* Part @p of @s was answered with NBD error @nbd_err. */
static int part_done(struct channel *c, struct slot *s, unsigned int p, uint32_t nbd_err)
{
	if (s == probe_slot(c))
		return probe_answered(c, nbd_err);
	s->answered[p / 64] |= 1ull << (p % 64);
	s->parts_done++;
	c->st.replies++;
	c->conn_replies++;
	if (nbd_err == NBD_ESHUTDOWN) {
		/* The server is going away: leave the request to the kernel. */
		if (!s->error)
			log_info("server is shutting down (NBD_ESHUTDOWN); reconnecting");
		s->error = -ESHUTDOWN;
		want(c, XMIT_RECONNECT);
	} else if (nbd_err && !s->error) {
		s->error = -nbd_error_to_errno(nbd_err);
	}
	if (s->parts_done < s->nparts)
		return 0;
	if (s->error == -ESHUTDOWN) {
		s->state = SLOT_HELD;
		c->held++;
		return 0;
	}
	if (s->req.type == ENBD_CMD_READ && !s->error)
		c->st.bytes_read += s->req.length;
	win_sample(c, s);
	return pump(c, s);
}

static int bad_reply(struct channel *c, const char *what, uint64_t cookie)
{
	log_warn("malformed reply from the server (%s, cookie 0x%016llx): dropping the connection",
		 what, (unsigned long long)cookie);
	return want(c, XMIT_BROKEN);
}

/* A reply header: find its part, prepare for its payload or finish it. */
static int reply_header(struct channel *c, const struct nbd_simple_reply *r)
{
	uint32_t magic = be32toh(r->magic), err = be32toh(r->error);
	uint64_t cookie = be64toh(r->cookie);
	unsigned int idx = cookie & 0xffff, p = (cookie >> 16) & 0xffff;
	struct slot *s;

	if (magic == NBD_STRUCTURED_REPLY_MAGIC)
		return bad_reply(c, "structured reply that was not negotiated", cookie);
	if (magic != NBD_SIMPLE_REPLY_MAGIC)
		return bad_reply(c, "bad magic", cookie);
	if (idx > CHAN_PROBE)
		return bad_reply(c, "unknown cookie", cookie);
	s = &c->slots[idx];
	if (s->state != SLOT_BUSY || s->gen != (uint32_t)(cookie >> 32) || p >= s->parts_sent)
		return bad_reply(c, "unknown cookie", cookie);
	if (s->answered[p / 64] & (1ull << (p % 64)))
		return bad_reply(c, "second reply", cookie);
	if (s->req.type == ENBD_CMD_READ && err == 0) {
		c->rx_slot = s;
		c->rx_part = p;
		c->rx_dst = s->buf + (size_t)p * c->part_size;
		c->rx_left = part_len(c, s, p);
		return 0;
	}
	return part_done(c, s, p, err);
}

static int rx_payload_done(struct channel *c)
{
	struct slot *s = c->rx_slot;

	c->rx_slot = NULL;
	return part_done(c, s, c->rx_part, 0);
}

/* Consume what is in the receive buffer. */
static int rx_parse(struct channel *c)
{
	for (;;) {
		uint32_t avail = c->rx_end - c->rx_pos;

		if (c->rx_slot) {
			uint32_t take = avail < c->rx_left ? avail : c->rx_left;

			memcpy(c->rx_dst, c->rxbuf + c->rx_pos, take);
			c->rx_dst += take;
			c->rx_left -= take;
			c->rx_pos += take;
			if (c->rx_left)
				return 0;
			if (rx_payload_done(c) < 0)
				return -1;
			continue;
		}
		if (avail < sizeof(struct nbd_simple_reply))
			return 0;
		{
			struct nbd_simple_reply r;

			memcpy(&r, c->rxbuf + c->rx_pos, sizeof(r));
			c->rx_pos += sizeof(r);
			if (reply_header(c, &r) < 0)
				return -1;
		}
	}
}

/* Read what the socket has.  0, or -1 with c->want set. */
static int rx(struct channel *c)
{
	int round;

	for (round = 0; round < RX_ROUNDS; round++) {
		ssize_t n;

		if (c->rx_slot && c->rx_pos == c->rx_end && c->rx_left >= RX_DIRECT_MIN) {
			/* A large payload: straight into the request's buffer. */
			n = recv(c->sock, c->rx_dst, c->rx_left, MSG_DONTWAIT);
			if (n > 0) {
				c->rx_dst += n;
				c->rx_left -= n;
				if (c->rx_left == 0 && rx_payload_done(c) < 0)
					return -1;
				continue;
			}
		} else {
			if (c->rx_pos == c->rx_end) {
				c->rx_pos = c->rx_end = 0;
			} else if (CHAN_RXBUF - c->rx_end < 4096) {
				memmove(c->rxbuf, c->rxbuf + c->rx_pos, c->rx_end - c->rx_pos);
				c->rx_end -= c->rx_pos;
				c->rx_pos = 0;
			}
			n = recv(c->sock, c->rxbuf + c->rx_end, CHAN_RXBUF - c->rx_end, MSG_DONTWAIT);
			if (n > 0) {
				c->rx_end += n;
				if (rx_parse(c) < 0)
					return -1;
				continue;
			}
		}
		if (n == 0) {
			if (xmit_in_flight(c) || c->rx_slot || c->rx_pos != c->rx_end)
				log_warn("server closed the connection with %u requests in flight",
					 xmit_in_flight(c));
			else
				log_info("server closed the connection");
			return want(c, XMIT_BROKEN);
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return 0;
		if (errno == EINTR)
			continue;
		log_warn("receiving from the server: %s", strerror(errno));
		return want(c, XMIT_BROKEN);
	}
	return 0;
}

/* ---- signals -------------------------------------------------------- */

static void on_signal(struct channel *c)
{
	struct signalfd_siginfo si;

	while (read(c->o->sigfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			if (c->draining) {
				log_info("%s again: not waiting for %u requests in flight",
					 strsignal(si.ssi_signo), xmit_in_flight(c));
				want(c, XMIT_TIMEOUT);
			} else {
				log_info("%s: finishing requests in flight, then disconnecting",
					 strsignal(si.ssi_signo));
				c->stop = true;
				want(c, XMIT_STOP);
			}
			break;
		case SIGHUP:
			if (!c->draining) {
				log_info("SIGHUP: reconnecting");
				want(c, XMIT_RECONNECT);
			}
			break;
		}
	}
}

/* ---- the loop ------------------------------------------------------- */

enum xmit_result xmit_run(struct channel *c, bool drain, int timeout_ms)
{
	struct timespec start;
	struct pollfd pfd[3];
	int devfd = c->dev ? c->dev->ops->pollfd(c->dev) : -1;

	clock_gettime(CLOCK_MONOTONIC, &start);
	c->draining = drain;
	if (!drain)
		keepalive_start(c);
	if (!drain && !c->want)
		pump(c, NULL);	/* the kernel may have requests queued already */
	for (;;) {
		int n, wait = -1;

		if (c->want) {
			enum xmit_result r = (enum xmit_result)(c->want - 1);

			c->want = 0;
			return r;
		}
		if (drain && xmit_in_flight(c) == 0 && !output_pending(c))
			return XMIT_DRAINED;
		if (timeout_ms >= 0) {
			wait = timeout_ms - (int)chan_ms_since(&start);
			if (wait <= 0)
				return XMIT_TIMEOUT;
		}
		if (!drain) {
			int ka_wait = keepalive_tick(c);

			if (c->want)
				continue;
			if (wait < 0 || ka_wait < wait)
				wait = ka_wait;
		}
		pfd[0] = (struct pollfd){
			.fd = devfd, .events = POLLPRI | (can_fetch(c) ? POLLIN : 0),
		};
		pfd[1] = (struct pollfd){
			.fd = c->sock, .events = POLLIN | (output_pending(c) ? POLLOUT : 0),
		};
		pfd[2] = (struct pollfd){ .fd = c->o->sigfd, .events = POLLIN };
		n = poll(pfd, 3, wait);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_err("poll: %s", strerror(errno));
			return XMIT_FATAL;
		}
		if (pfd[2].revents)
			on_signal(c);
		if (pfd[0].revents & (POLLHUP | POLLERR | POLLNVAL)) {
			c->ejected = true;
			want(c, XMIT_EJECTED);
			continue;
		}
		if (pfd[0].revents & POLLPRI) {
			stalled(c);
			continue;
		}
		if (pfd[1].revents & POLLIN)
			clock_gettime(CLOCK_MONOTONIC, &c->heard);
		if (pfd[1].revents & (POLLIN | POLLHUP | POLLERR))
			if (rx(c) < 0)
				continue;
		if (pfd[1].revents & POLLOUT)
			if (tx(c) < 0)
				continue;
		/* Output drained: fetch again, whether or not the kernel woke us. */
		if ((pfd[0].revents & POLLIN) || (pfd[1].revents & POLLOUT))
			pump(c, NULL);
	}
}

/* DRAIN: requests not yet on the wire are left for the kernel to requeue. */
void xmit_abandon_unsent(struct channel *c)
{
	unsigned int keep = 0;

	if (c->sq_len && (sendq_at(c, 0)->parts_sent || c->send_off))
		keep = 1;	/* partly written: finish it */
	while (c->sq_len > keep) {
		struct slot *s = sendq_at(c, c->sq_len - 1);

		s->queued = false;
		c->sq_len--;
		if (s == probe_slot(c)) {
			probe_end(c);
			continue;
		}
		s->state = SLOT_HELD;
		c->held++;
	}
}

/* Send NBD_CMD_DISC after any partly written request, then close. */
int xmit_disconnect(struct channel *c, int timeout_ms)
{
	struct nbd_request d = {
		.magic = htobe32(NBD_REQUEST_MAGIC),
		.type = htobe16(NBD_CMD_DISC),
	};
	struct timespec start;
	int rc = 0;

	if (c->sock < 0)
		return 0;
	xmit_abandon_unsent(c);
	memcpy(c->disc, &d, sizeof(d));
	c->disc_len = sizeof(d);
	c->disc_off = 0;
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (output_pending(c)) {
		struct pollfd pfd = { .fd = c->sock, .events = POLLOUT };
		int wait = timeout_ms - (int)chan_ms_since(&start);

		if (wait <= 0 || poll(&pfd, 1, wait) <= 0 || tx(c) < 0) {
			c->want = 0;
			rc = -1;
			break;
		}
	}
	if (rc == 0) {
		log_debug("sent NBD_CMD_DISC");
		shutdown(c->sock, SHUT_WR);
	} else {
		log_warn("could not send NBD_CMD_DISC; closing the connection");
	}
	close(c->sock);
	c->sock = -1;
	return rc;
}
