// SPDX-License-Identifier: GPL-2.0
/*
 * Keep-alive of a channel in transmission (xmit.c).
 *
 * A hung server (stopped, wedged, or cut off without a reset)
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
 *
 * Suspicion from siblings: the kernel reports POLLRDBAND when this channel
 * has been silent while another channel of the device completed requests
 * or held none (include/uapi/enbd.h).  The channel then probes at once and gives the
 * probe CHAN_SUSPECT_PROBE_MS instead of the keep-alive interval: if
 * nothing at all arrives from the server in that time, the connection is
 * dead, exactly as after a keep-alive timeout.  Any bytes, a reply to a
 * request included, still count as life, so a merely slow link (a shaped
 * NIC, a large reply) is left alone, and so are TCP acknowledgements of
 * what we sent (TCP_INFO): a 512 KiB write takes 1 s on a 4 Mbit/s link
 * and nothing comes back meanwhile, yet the link is plainly alive; a dead
 * one acknowledges nothing.  500 ms: a live link's TCP acknowledges the
 * probe within a round trip, or one retransmission timeout (200 ms at
 * least) later if a segment was lost, and replies to the requests queued
 * ahead of it count as well; with the kernel's threshold (at least 500 ms)
 * and its 250 ms check a dead link among live ones is given up 1-1.5 s
 * after its last answer on a quiet machine (README, Failover: figures).
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

#include "log.h"
#include "nbd-proto.h"
#include "sock.h"
#include "xmit.h"

struct slot *probe_slot(struct channel *c)
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
	coarse_now(&c->probe_at);
	sendq_push(c, probe_slot(c));
	xmit_tx(c);
}

/* The probe is answered or abandoned; a late answer is an unknown cookie. */
void probe_end(struct channel *c)
{
	c->probe_urgent = false;
	probe_slot(c)->state = SLOT_FREE;
	probe_slot(c)->gen++;
}

int probe_answered(struct channel *c, uint32_t nbd_err)
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

/*
 * The socket's own bound follows the option (sock_set_liveness): 2 x
 * keepalive, the daemon's, so TCP never gives up on a server the daemon
 * would still wait for, and a link cut under unacknowledged writes is reset
 * by the kernel within that bound even if the daemon is not running.
 */
static void keepalive_apply(struct channel *c)
{
	if (sock_set_liveness(c->sock, c->ka_ms / 1000) < 0)
		log_warn("TCP_USER_TIMEOUT, TCP keep-alive options: %s", strerror(errno));
	else
		log_debug("socket: TCP_USER_TIMEOUT %u ms, keep-alive after %u s",
			  c->ka_ms * 2, c->ka_ms / 1000);
}

/* @fresh: a new socket, whether or not the option changed. */
static void keepalive_read(struct channel *c, bool fresh)
{
	unsigned int was = c->ka_ms;

	c->ka_ms = c->dev->ops->keepalive(c->dev) * 1000;
	coarse_now(&c->ka_read);
	if (fresh || c->ka_ms != was)
		keepalive_apply(c);
}

/* Transmission starts: the handshake was the last we heard from the server. */
void keepalive_start(struct channel *c)
{
	keepalive_read(c, true);
	c->heard = c->ka_read;
	c->probe_urgent = false;
}

/*
 * While a probe the kernel asked for is outstanding, the peer's TCP
 * acknowledging our bytes counts as having heard from the server.  So does
 * having nothing unacknowledged: an old last acknowledgement then only says
 * we sent nothing since (this process was starved of CPU and the probe is
 * still in our queue), not that the link is dead.
 */
static void keepalive_acked(struct channel *c)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	int outq;

	if (ioctl(c->sock, SIOCOUTQ, &outq) == 0 && outq == 0) {
		coarse_now(&c->heard);
		return;
	}
	if (getsockopt(c->sock, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0 ||
	    (long)ti.tcpi_last_ack_recv >= coarse_ms_since(&c->heard))
		return;
	coarse_now(&c->heard);
	c->heard.tv_sec -= ti.tcpi_last_ack_recv / 1000;
	c->heard.tv_nsec -= (long)(ti.tcpi_last_ack_recv % 1000) * 1000000;
	if (c->heard.tv_nsec < 0) {
		c->heard.tv_sec--;
		c->heard.tv_nsec += 1000000000;
	}
}

/* The kernel suspects this channel (POLLRDBAND): probe now, briefly. */
void keepalive_suspect(struct channel *c)
{
	int rc = c->dev->ops->event(c->dev, ENBD_EVENT_PROBING);

	if (rc)		/* the bit stays: poll() would spin */
		log_warn("ENBD_IOC_EVENT (probing): %s", strerror(-rc));
	if (c->probe_urgent)
		return;
	log_info("the kernel suspects this channel (silent while another completes): probing the server, %u ms deadline",
		 CHAN_SUSPECT_PROBE_MS);
	if (!probe_outstanding(c))
		probe_send(c);
	c->probe_urgent = true;
}

/*
 * Probe a quiet server, or give up on one that did not answer a probe.
 * Returns how long poll() may sleep (ms) before the next check, or -1 with
 * c->want set.
 */
int keepalive_tick(struct channel *c)
{
	long since_read = coarse_ms_since(&c->ka_read), quiet, idle, next, limit;

	if (since_read >= CHAN_KA_REREAD_MS) {
		keepalive_read(c, false);
		since_read = 0;
	}
	next = CHAN_KA_REREAD_MS - since_read;
	limit = c->probe_urgent ? CHAN_SUSPECT_PROBE_MS : c->ka_ms;
	if (!limit)
		return (int)next;
	if (c->probe_urgent)
		keepalive_acked(c);
	quiet = coarse_ms_since(&c->heard);
	idle = quiet;
	if (probe_outstanding(c) && coarse_ms_since(&c->probe_at) < idle)
		idle = coarse_ms_since(&c->probe_at);
	if (idle >= limit) {
		if (probe_outstanding(c)) {
			log_warn("no answer from the server for %ld.%ld s (%s): dropping the connection",
				 quiet / 1000, quiet / 100 % 10,
				 c->probe_urgent ? "probe asked for by the kernel" : "keep-alive");
			return want(c, XMIT_BROKEN);
		}
		probe_send(c);
		idle = 0;
	}
	return (int)(limit - idle < next ? limit - idle : next);
}
