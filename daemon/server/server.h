/* SPDX-License-Identifier: GPL-2.0 */
/* enbd-server: the pieces shared between its source files. */
#ifndef ENBD_SERVER_H
#define ENBD_SERVER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "backend.h"
#include "tls.h"

struct export {
	char *name;
	char *spec;		/* as given on the command line */
	const char *description; /* the operator's, for LIST and INFO; or NULL */
	struct backend *backend;
	bool readonly;
};

/* Access control list: --allow ADDR[/PREFIX] and --default-deny. */
struct acl_entry {
	int family;		/* AF_INET or AF_INET6 */
	unsigned char addr[16];
	unsigned int prefix;
};

struct acl {
	struct acl_entry *entries;
	unsigned int count;
	bool default_deny;
};

/* A peer's address; IPv4 seen through an IPv6 socket (::ffff:a.b.c.d) is
 * IPv4.  Any other family is AF_UNSPEC. */
struct peer_addr {
	int family;
	unsigned char bytes[16];
};

void peer_addr_get(const struct sockaddr *sa, struct peer_addr *pa);
bool peer_addr_equal(const struct peer_addr *a, const struct peer_addr *b);

int acl_add(struct acl *acl, const char *spec);
/* True when the peer may use the server. */
bool acl_allows(const struct acl *acl, const struct peer_addr *pa);
void acl_free(struct acl *acl);

struct server {
	struct export *exports;	/* exports[0] is the default export ("") */
	unsigned int nexports;
	unsigned int max_threads;	/* per connection */
	bool splice;		/* splice read data from files (zero-copy) */
	enum tls_mode tls_mode;	/* --tls */
	struct tls_ctx *tls;	/* credentials, unless TLS_OFF */
};

/* Find an export by name; "" selects the default one.  NULL if none. */
const struct export *export_find(const struct server *srv, const char *name);
/* Transmission flags for @e on a connection (@structured: replies negotiated). */
uint16_t export_flags(const struct export *e, bool structured);

/* Block sizes advertised in NBD_INFO_BLOCK_SIZE */
#define SERVER_MIN_BLOCK	1u
#define SERVER_PREF_BLOCK	4096u

#endif
