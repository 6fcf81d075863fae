/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The control socket (--sock PATH): a unix socket, owner-only, served by a
 * thread of its own; one command line per connection, one reply (see
 * README.md, Control socket).  control_client() is the other end:
 * "enbd-server control --sock PATH COMMAND...".
 */
#ifndef ENBD_SERVER_CONTROL_H
#define ENBD_SERVER_CONTROL_H

#include "server.h"

/* Create the socket at @path (refusing one a live server listens on) and
 * start answering; @acl is the live ACL "acl" replaces.  0 or -1 (logged). */
int control_start(const char *path, const struct server *srv, struct acl *acl);
/* Stop answering and remove the socket. */
void control_stop(void);

/* "enbd-server control ...": returns the exit status. */
int control_client(int argc, char **argv);

#endif
