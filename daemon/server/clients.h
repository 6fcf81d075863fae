/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The table of client connections, kept by the accepting (main) thread:
 * who is let in, how many at once, how long a handshake may take, and
 * closing them all at shutdown.
 */
#ifndef ENBD_SERVER_CLIENTS_H
#define ENBD_SERVER_CLIENTS_H

#include <stdbool.h>

#include "server.h"

struct admission {
	const struct acl *acl;
	unsigned int max_conns;		/* connections served at once */
	unsigned int max_per_addr;	/* ... from one address */
	int handshake_ms;		/* from accept to the end of the handshake */
};

/*
 * Accept one pending connection on the non-blocking @lfd and start its
 * thread, or close it at once when @adm says no.  When accept() fails for
 * want of descriptors or memory, accepting pauses for a while: the
 * connection stays in the backlog, and polling the listener again at once
 * would only spin.
 */
void clients_accept(int lfd, const struct server *srv, const struct admission *adm);

/*
 * Between two polls of the accepting loop: close the connections past
 * their handshake deadline.  Returns the poll() timeout, in ms, until the
 * next deadline or the end of a pause (-1: none), and in @accepting
 * whether to poll the listener.
 */
int clients_tick(bool *accepting);

/* Connections open now. */
unsigned int clients_count(void);

/* The control socket's "acl": make @fresh the ACL @live (keeping its
 * --default-deny; @fresh is left empty) and close the connections it no
 * longer allows.  Returns how many were closed. */
unsigned int clients_replace_acl(struct acl *live, struct acl *fresh);

/* Server shutdown: let every client finish what it has sent, then close,
 * waiting up to twice CLIENTS_SHUTDOWN_GRACE_S.  True when every client is
 * gone. */
#define CLIENTS_SHUTDOWN_GRACE_S	10
bool clients_close_all(void);

#endif
