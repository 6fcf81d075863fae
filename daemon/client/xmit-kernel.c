// SPDX-License-Identifier: GPL-2.0
/*
 * The kernel side of a channel in transmission (xmit.c): the slots that
 * hold the requests claimed from the kernel, and the pump that completes a
 * request and fetches the next in one ENBD_IOC_IO.
 */
#include <errno.h>
#include <string.h>

#include "log.h"
#include "nbd-proto.h"
#include "xmit.h"

/*
 * Requests fetched in one pump before they go out in one sendmsg(): the
 * first of a pump is sent at once (a lone request waits for no further
 * fetch), those that were waiting with it are sent together.
 */
#define PUMP_BATCH	16

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

/* Room to fetch, with @unsent requests of this pump waiting to be sent. */
static bool fetch_room(const struct channel *c, unsigned int unsent)
{
	return !c->draining && !c->want && !c->ejected && c->free_head >= 0 &&
	       c->busy < c->window && c->sq_len == unsent && c->disc_len == 0;
}

bool xmit_can_fetch(const struct channel *c)
{
	return fetch_room(c, 0);
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

/*
 * Complete @done (if not NULL) and fetch new requests while a slot is free
 * and nothing but this pump's fetches waits to be sent: completion of one
 * request and fetch of the next in one ioctl.  0, or -1 with c->want set.
 */
int xmit_pump(struct channel *c, struct slot *done)
{
	unsigned int fetched = 0, unsent = 0;

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
		if (unsent < PUMP_BATCH && fetch_room(c, unsent)) {
			n = slot_peek(c);
			if (n) {
				io.flags |= ENBD_IO_FETCH | ENBD_IO_NONBLOCK;
				io.data = (uintptr_t)n->buf;
				io.data_capacity = ENBD_MAX_IO_BYTES;
			}
		}
		if (!io.flags)
			break;
		rc = c->dev->ops->io(c->dev, &io);
		if (done && rc == 0 && io.done_result == ENBD_DONE_DISCARDED)
			log_debug("completion of seq %llu discarded by the kernel",
				  (unsigned long long)io.done_seq);
		done = NULL;
		if (rc == -EAGAIN || rc == -EINTR)
			break;
		if (rc == -ESHUTDOWN) {
			c->ejected = true;
			return want(c, XMIT_EJECTED);
		}
		if (rc == -ENOLINK)
			return xmit_stalled(c);
		if (rc < 0) {
			log_err("ENBD_IOC_IO: %s", strerror(-rc));
			return want(c, rc == -ENOTTY || rc == -EFAULT ? XMIT_FATAL : XMIT_BROKEN);
		}
		if (!(io.flags & ENBD_IO_FETCH))
			break;
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
		unsent++;
		if (++fetched == 1 || unsent == PUMP_BATCH) {
			if (xmit_tx(c) < 0)
				return -1;
			unsent = 0;
		}
	}
	return unsent ? xmit_tx(c) : 0;
}
