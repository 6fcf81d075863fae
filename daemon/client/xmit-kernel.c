// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel side of a channel in transmission (xmit.c): the slots that
 * hold the requests claimed from the kernel, and the pump that completes
 * the finished requests and fetches the next ones in one ENBD_IOC_BATCH.
 */
#include <errno.h>
#include <string.h>

#include "log.h"
#include "nbd-proto.h"
#include "xmit.h"

unsigned int xmit_in_flight(const struct channel *c)
{
	return c->busy - c->held;
}

/* The slot the next fetch will use (its buffer is xmit_init's); NULL if none. */
static struct slot *slot_peek(struct channel *c)
{
	return c->free_head < 0 ? NULL : &c->slots[c->free_head];
}

void slot_start(struct slot *s, const struct enbd_request *req)
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

static void slot_take(struct channel *c, struct slot *s, const struct enbd_request *req)
{
	c->free_head = s->next_free;
	slot_start(s, req);
	win_fetched(c, s);
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

/* Room to fetch: a slot free, the window not full, nothing waiting to be sent. */
bool xmit_can_fetch(const struct channel *c)
{
	return !c->draining && !c->want && !c->ejected && c->free_head >= 0 &&
	       c->busy < c->window && c->sq_len == 0 && c->disc_len == 0;
}

/*
 * The kernel aged one of our requests and marked the channel stalled: drop
 * the connection abortively (a write still on its way must not land after a
 * newer one), detach so the kernel resubmits, and reconnect.
 */
int xmit_stalled(struct channel *c)
{
	log_warn("the kernel reports this channel stalled (a request outlived the aging time): reconnecting");
	return want(c, XMIT_BROKEN);
}

/* Request @s is finished (answered, or refused before it went out). */
void xmit_done(struct channel *c, struct slot *s)
{
	c->doneq[c->ndone++] = (unsigned int)(s - c->slots);
}

/* Move up to ENBD_BATCH_MAX finished requests, oldest first, into @done; their slots are free. */
static uint32_t take_done(struct channel *c, struct enbd_done *done)
{
	uint32_t n = c->ndone < ENBD_BATCH_MAX ? c->ndone : ENBD_BATCH_MAX;
	uint32_t i;

	for (i = 0; i < n; i++) {
		struct slot *s = &c->slots[c->doneq[i]];

		done[i] = (struct enbd_done){
			.seq = s->req.seq, .tag = s->req.tag, .error = s->error,
		};
		if (s->req.type == ENBD_CMD_READ && !s->error) {
			done[i].data = (uintptr_t)s->buf;
			done[i].length = s->req.length;
		}
		if (s->error) {
			c->st.errors++;
			log_debug("request seq %llu type %u failed: %s",
				  (unsigned long long)s->req.seq, s->req.type, strerror(-s->error));
		}
		/* The kernel copies READ data in before it fetches into the same buffer. */
		slot_release(c, s);
	}
	c->ndone -= n;
	memmove(c->doneq, c->doneq + n, c->ndone * sizeof(c->doneq[0]));
	return n;
}

/* Free slots to fetch into, as many as there is room for: their buffers in @fetch. */
static uint32_t fetch_targets(struct channel *c, struct enbd_fetch *fetch)
{
	int next = c->free_head;
	uint32_t n = 0;

	if (!xmit_can_fetch(c))
		return 0;
	while (n < ENBD_BATCH_MAX && next >= 0 && c->busy + n < c->window) {
		fetch[n] = (struct enbd_fetch){
			.data = (uintptr_t)c->slots[next].buf, .data_capacity = ENBD_MAX_IO_BYTES,
		};
		next = c->slots[next].next_free;
		n++;
	}
	return n;
}

/*
 * ENBD_IOC_BATCH through ENBD_IOC_IO, one request at a time: for a device
 * without it (a module from before it, the selftest's simulated device).
 */
static int batch_by_one(struct chan_dev *d, struct enbd_batch *b)
{
	struct enbd_done *done = (struct enbd_done *)(uintptr_t)b->done;
	struct enbd_fetch *fetch = (struct enbd_fetch *)(uintptr_t)b->fetch;
	int rc;

	for (b->completed = 0; b->completed < b->nr_done; b->completed++) {
		struct enbd_done *e = &done[b->completed];
		struct enbd_io io = {
			.size = sizeof(io), .flags = ENBD_IO_COMPLETE, .done_seq = e->seq,
			.done_tag = e->tag, .done_error = e->error, .done_data = e->data,
			.done_length = e->length,
		};

		rc = d->ops->io(d, &io);
		if (rc && rc != -EINVAL && rc != -EFAULT)
			return rc;
		e->result = rc ? rc : (int32_t)io.done_result;
	}
	for (b->fetched = 0; b->fetched < b->nr_fetch; b->fetched++) {
		struct enbd_fetch *f = &fetch[b->fetched];
		struct enbd_io io = {
			.size = sizeof(io), .flags = ENBD_IO_FETCH | ENBD_IO_NONBLOCK,
			.data = f->data, .data_capacity = f->data_capacity,
		};

		rc = d->ops->io(d, &io);
		if (rc == -EAGAIN || (rc && b->fetched))
			break;
		if (rc)
			return rc;
		f->req = io.req;
	}
	return 0;
}

static int dev_batch(struct chan_dev *d, struct enbd_batch *b)
{
	int rc = d->ops->batch ? d->ops->batch(d, b) : -ENOTTY;

	return rc == -ENOTTY ? batch_by_one(d, b) : rc;
}

/* The call as a whole failed.  -1 with c->want set. */
static int pump_failed(struct channel *c, int rc)
{
	if (rc == -ESHUTDOWN) {
		c->ejected = true;
		return want(c, XMIT_EJECTED);
	}
	if (rc == -ENOLINK)
		return xmit_stalled(c);
	log_err("ENBD_IOC_BATCH: %s", strerror(-rc));
	return want(c, rc == -ENOTTY || rc == -EFAULT ? XMIT_FATAL : XMIT_BROKEN);
}

/* What the kernel said of each completion.  0, or -1 with c->want set. */
static int check_done(struct channel *c, const struct enbd_done *done, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++) {
		if (done[i].result == ENBD_DONE_DISCARDED)
			log_debug("completion of seq %llu discarded by the kernel",
				  (unsigned long long)done[i].seq);
		if (done[i].result >= 0)
			continue;
		log_err("completion of seq %llu refused by the kernel: %s",
			(unsigned long long)done[i].seq, strerror(-done[i].result));
		return want(c, done[i].result == -EFAULT ? XMIT_FATAL : XMIT_BROKEN);
	}
	return 0;
}

/*
 * Hand the finished requests back to the kernel and fetch new ones while
 * slots are free and nothing else waits to be sent, ENBD_BATCH_MAX of each
 * per ioctl; the requests fetched together go out in one sendmsg().  A
 * fetch that found fewer than it had room for emptied the queue: the
 * kernel wakes us (POLLIN) for the next.  0, or -1 with c->want set.
 */
int xmit_pump(struct channel *c)
{
	for (;;) {
		struct enbd_done done[ENBD_BATCH_MAX];
		struct enbd_fetch fetch[ENBD_BATCH_MAX];
		struct enbd_batch b = {
			.size = sizeof(b), .flags = ENBD_BATCH_NONBLOCK, .magic = ENBD_BATCH_MAGIC,
			.done = (uintptr_t)done, .fetch = (uintptr_t)fetch,
		};
		uint32_t i;
		int rc;

		b.nr_done = take_done(c, done);
		b.nr_fetch = fetch_targets(c, fetch);
		if (!b.nr_done && !b.nr_fetch)
			return 0;
		rc = dev_batch(c->dev, &b);
		if (rc < 0)
			return pump_failed(c, rc);
		if (check_done(c, done, b.nr_done) < 0)
			return -1;
		for (i = 0; i < b.fetched; i++) {
			struct slot *n = slot_peek(c);
			int err;

			slot_take(c, n, &fetch[i].req);
			c->st.requests++;
			err = check_request(c, n);
			if (!err) {
				sendq_push(c, n);
				continue;
			}
			log_warn("request seq %llu (type %u, offset %llu, length %u, flags 0x%x) cannot be sent: %s",
				 (unsigned long long)n->req.seq, n->req.type,
				 (unsigned long long)n->req.offset, n->req.length, n->req.flags,
				 strerror(-err));
			n->error = err;
			xmit_done(c, n);
		}
		if (b.fetched && xmit_tx(c) < 0)
			return -1;
		if (b.fetched < b.nr_fetch && !c->ndone)
			return 0;
	}
}
