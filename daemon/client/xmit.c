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
 * free, fewer requests than the adaptive window (xmit-window.c) are in flight and
 * the send queue is empty, so output never piles up beyond one request and
 * the socket's own buffer.  Replies are always read, whether or not output
 * is pending, so we never block while the server is blocked writing
 * replies to us.
 *
 * Nothing owned by a broken connection is ever completed: the channel
 * detaches and the kernel puts those requests back on the queue.
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
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "nbd-proto.h"
#include "sock.h"
#include "xmit.h"

long chan_us_since(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t->tv_sec) * 1000000 + (now.tv_nsec - t->tv_nsec) / 1000;
}

long chan_ms_since(const struct timespec *t)
{
	return chan_us_since(t) / 1000;
}

uint64_t now_us(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000 + (uint64_t)now.tv_nsec / 1000;
}

/*
 * The time of this turn of the loop (its wake-up), read on first use: the
 * adaptive window times every request, and where the vDSO cannot read the
 * clocksource (hpet: the test VM under TCG) every read is a system call.
 * Requests fetched or answered in one turn get the same time.
 */
uint64_t turn_us(struct channel *c)
{
	if (!c->turn_us)
		c->turn_us = now_us();
	return c->turn_us;
}

/*
 * Keep-alive's clock, which counts in seconds: CLOCK_MONOTONIC_COARSE has a
 * tick's resolution (4 ms at HZ=250) but is read from the vDSO whatever the
 * clocksource, while CLOCK_MONOTONIC costs a system call where the vDSO
 * cannot read the clocksource (hpet: the test VM under TCG).
 */
void coarse_now(struct timespec *t)
{
	clock_gettime(CLOCK_MONOTONIC_COARSE, t);
}

long coarse_ms_since(const struct timespec *t)
{
	struct timespec now;

	coarse_now(&now);
	return (now.tv_sec - t->tv_sec) * 1000 + (now.tv_nsec - t->tv_nsec) / 1000000;
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
		if (i >= (int)c->nslots)
			continue;	/* the probe, or no buffer */
		s->next_free = c->free_head;
		c->free_head = i;
	}
	c->busy = c->held = 0;
	c->sq_head = c->sq_len = 0;
	c->ndone = 0;
	c->send_off = 0;
	c->tx_committed = 0;
	c->tx_wants_in = c->rx_wants_out = false;
	c->disc_len = c->disc_off = 0;
	c->rx_pos = c->rx_end = 0;
	c->rx_slot = NULL;
	c->rx_left = 0;
	c->draining = false;
	c->want = 0;
	c->turn_us = 0;
	win_reset(c);
}

/*
 * Every buffer transmission uses is allocated here, before the channel
 * locks its memory: nothing on the request path allocates, so carrying
 * writeback never waits for reclaim.  The slots are what the budget holds.
 */
int xmit_init(struct channel *c)
{
	unsigned int mib = c->o->buffer_budget_mib ? c->o->buffer_budget_mib :
			   CHAN_BUFFER_BUDGET_MIB;
	unsigned int i;

	c->nslots = (unsigned int)(((uint64_t)mib << 20) / ENBD_MAX_IO_BYTES);
	if (c->nslots > CHAN_SLOTS)
		c->nslots = CHAN_SLOTS;
	if (c->nslots < 2)
		c->nslots = 2;
	for (i = 0; i <= CHAN_PROBE; i++)
		c->slots[i] = (struct slot){ .state = SLOT_FREE, .gen = 1 };
	c->rxbuf = malloc(CHAN_RXBUF);
	c->slots[CHAN_PROBE].buf = malloc(CHAN_PROBE_MAX);
	for (i = 0; i < c->nslots; i++)
		c->slots[i].buf = malloc(ENBD_MAX_IO_BYTES);
	for (i = 0; i <= CHAN_PROBE; i++)
		if (!c->rxbuf || (!c->slots[i].buf && (i < c->nslots || i == CHAN_PROBE))) {
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

static void on_signal(struct channel *c)
{
	struct signalfd_siginfo si;

	while (read(c->o->sigfd, &si, sizeof(si)) == sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			if (c->draining && c->stop) {
				log_info("%s again: not waiting for %u requests in flight",
					 strsignal(si.ssi_signo), xmit_in_flight(c));
				want(c, XMIT_TIMEOUT);
			} else {
				/* A drain for a reconnect becomes a drain for good. */
				log_info("%s: finishing requests in flight, then disconnecting",
					 strsignal(si.ssi_signo));
				c->stop = true;
				if (!c->draining)
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

enum xmit_result xmit_run(struct channel *c, bool drain, int timeout_ms)
{
	struct timespec start;
	struct pollfd pfd[3];
	int devfd = c->dev ? c->dev->ops->pollfd(c->dev) : -1;

	clock_gettime(CLOCK_MONOTONIC, &start);
	c->turn_us = 0;
	c->draining = drain;
	if (!drain)
		keepalive_start(c);
	if (!drain && !c->want)
		xmit_pump(c);	/* the kernel may have requests queued already */
	for (;;) {
		int n, wait = -1;
		/* TLS may hold bytes read already, which poll() does not see. */
		bool buffered = c->tls && tls_buffered(c->tls), rx, tx;

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
			.fd = devfd, .events = POLLPRI | (drain ? 0 : POLLRDBAND) |
					       (xmit_can_fetch(c) ? POLLIN : 0),
		};
		pfd[1] = (struct pollfd){
			.fd = c->sock,
			.events = POLLIN | ((output_pending(c) && !c->tx_wants_in) ||
					    c->rx_wants_out ? POLLOUT : 0),
		};
		pfd[2] = (struct pollfd){ .fd = c->o->sigfd, .events = POLLIN };
		n = poll(pfd, 3, buffered ? 0 : wait);
		c->turn_us = 0;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_err("poll: %s", strerror(errno));
			return XMIT_FATAL;
		}
		/*
		 * The device before the signals: a SIGTERM that comes with the
		 * shutdown must not turn "ejected" (exit 3) into "stopped" (0).
		 */
		if (pfd[0].revents & (POLLHUP | POLLERR | POLLNVAL)) {
			c->ejected = true;
			want(c, XMIT_EJECTED);
			continue;
		}
		if (pfd[2].revents)
			on_signal(c);
		if (pfd[0].revents & POLLPRI) {
			xmit_stalled(c);
			continue;
		}
		if (pfd[0].revents & POLLRDBAND)
			keepalive_suspect(c);
		if (pfd[1].revents & POLLIN)
			coarse_now(&c->heard);
		rx = buffered || (pfd[1].revents & (POLLIN | POLLHUP | POLLERR)) ||
		     (c->rx_wants_out && (pfd[1].revents & POLLOUT));
		tx = (pfd[1].revents & POLLOUT) || (c->tx_wants_in && (pfd[1].revents & POLLIN));
		if (rx && xmit_rx(c) < 0)
			continue;
		if (tx && xmit_tx(c) < 0)
			continue;
		/* Output drained: fetch again, whether or not the kernel woke us. */
		if ((pfd[0].revents & POLLIN) || (pfd[1].revents & POLLOUT))
			xmit_pump(c);
	}
}

/* DRAIN: requests not yet on the wire are left for the kernel to requeue. */
void xmit_abandon_unsent(struct channel *c)
{
	unsigned int keep = sendq_committed(c);	/* partly written: finish them */

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

/*
 * End the connection.  With nothing in flight: NBD_CMD_DISC and an orderly
 * close.  With requests in flight (a drain that timed out, or a second
 * signal): those go back to the kernel, which may give them to another
 * channel, while a server told NBD_CMD_DISC still finishes what it
 * received — possibly after the new copies, a stale write.  So reset the
 * connection instead (the socket is abortive from sock_connect): a server
 * then drops what it has not started.  0, or -1 if no NBD_CMD_DISC went.
 */
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
	if (xmit_in_flight(c)) {
		log_warn("resetting the connection: %u requests in flight go back to the kernel",
			 xmit_in_flight(c));
		xmit_close(c);
		return -1;
	}
	memcpy(c->disc, &d, sizeof(d));
	c->disc_len = sizeof(d);
	c->disc_off = 0;
	clock_gettime(CLOCK_MONOTONIC, &start);
	while (output_pending(c)) {
		struct pollfd pfd = { .fd = c->sock, .events = POLLOUT };
		int wait = timeout_ms - (int)chan_ms_since(&start);

		if (wait <= 0 || poll(&pfd, 1, wait) <= 0 || xmit_tx(c) < 0) {
			c->want = 0;
			rc = -1;
			break;
		}
	}
	if (rc == 0) {
		log_debug("sent NBD_CMD_DISC");
		sock_set_abortive(c->sock, 0);	/* let it arrive, then the end */
		tls_close(c->tls);		/* close_notify before the socket's end */
		c->tls = NULL;
		shutdown(c->sock, SHUT_WR);
	} else {
		log_warn("could not send NBD_CMD_DISC; resetting the connection");
	}
	xmit_close(c);
	return rc;
}

/* Close the connection: TLS (close_notify if the socket takes it), then the socket. */
void xmit_close(struct channel *c)
{
	tls_close(c->tls);
	c->tls = NULL;
	if (c->sock >= 0)
		close(c->sock);
	c->sock = -1;
}
