/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A minimal synchronous NBD client, for the server's outbound side: the
 * mirror (mirror.c) and the one-shot read / write modes (oneshot.c).
 * Fixed newstyle, NBD_OPT_GO, simple replies, one request at a time; any
 * NBD server will do.
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
};

/* Connect to HOST PORT and open export NAME.  @cancel_fd (or -1) aborts the
 * connect when readable.  0, or -1 with the reason in @why. */
int nbd_peer_open(struct nbd_peer *p, const char *host, const char *port, const char *name,
		  int cancel_fd, char *why, size_t why_len);
/* One request; @data is the WRITE payload or the READ buffer.  0, -errno of
 * the server's NBD error, or -ECONNRESET and the like when the connection
 * failed (@why says which). */
int nbd_peer_request(struct nbd_peer *p, uint16_t type, uint16_t flags, uint64_t offset,
		     uint32_t length, void *data, char *why, size_t why_len);
/* NBD_CMD_DISC, then wait for the server to close its end: 0 once it has,
 * so the server has seen everything sent before. */
int nbd_peer_disconnect(struct nbd_peer *p);
/* Drop the connection (a reset: the server discards what it has not started). */
void nbd_peer_close(struct nbd_peer *p);

#endif
