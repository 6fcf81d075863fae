/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A minimal synchronous NBD client, for the server's outbound side: the
 * mirror (mirror.c) and the one-shot read / write modes (oneshot.c).
 * Fixed newstyle, NBD_OPT_GO, simple replies; writes may be pipelined (up
 * to NBD_PEER_MAX_INFLIGHT unanswered), reads go one at a time.  Any NBD
 * server will do.
 */
#ifndef ENBD_SERVER_NBD_PEER_H
#define ENBD_SERVER_NBD_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct nbd_peer {
	int fd;
	uint64_t size;
	uint16_t flags;		/* transmission flags */
	uint64_t cookie;
	unsigned int inflight;	/* requests sent, not yet answered */
};

/* Few enough that their replies never fill the socket buffers: the server
 * must be able to answer all of them while we are still sending. */
#define NBD_PEER_MAX_INFLIGHT	16

/* Connect to HOST PORT and open export NAME.  @cancel_fd (or -1) aborts the
 * connect when readable.  0, or -1 with the reason in @why. */
int nbd_peer_open(struct nbd_peer *p, const char *host, const char *port, const char *name,
		  int cancel_fd, char *why, size_t why_len);
/* One request and its reply (after those of any sent before); @data is
 * the WRITE payload or the READ buffer.  0, -errno of
 * the server's NBD error, or -ECONNRESET and the like when the connection
 * failed (@why says which). */
int nbd_peer_request(struct nbd_peer *p, uint16_t type, uint16_t flags, uint64_t offset,
		     uint32_t length, void *data, char *why, size_t why_len);
/* Send a request without waiting for its reply (a WRITE's payload in
 * @data); waits for the oldest replies first when too many are unanswered.
 * Errors as nbd_peer_request, possibly of an earlier request. */
int nbd_peer_send(struct nbd_peer *p, uint16_t type, uint16_t flags, uint64_t offset,
		  uint32_t length, const void *data, char *why, size_t why_len);
/* Wait for the replies to every request sent; the first error. */
int nbd_peer_sync(struct nbd_peer *p, char *why, size_t why_len);
/* NBD_CMD_DISC, then wait for the server to close its end: 0 once it has,
 * so the server has seen everything sent before. */
int nbd_peer_disconnect(struct nbd_peer *p);
/* Drop the connection (a reset: the server discards what it has not started). */
void nbd_peer_close(struct nbd_peer *p);

#endif
