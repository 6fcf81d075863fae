// SPDX-License-Identifier: GPL-2.0
/*
 * Access control in the spirit of flexnbd: with no --allow entry everyone
 * may connect (unless --default-deny); with entries, only peers inside one
 * of them.  IPv4 peers seen through an IPv6 socket (::ffff:a.b.c.d) match
 * IPv4 entries.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "server.h"

int acl_add(struct acl *acl, const char *spec)
{
	struct acl_entry e = { 0 };
	char addr[INET6_ADDRSTRLEN];
	const char *slash = strchr(spec, '/');
	size_t len = slash ? (size_t)(slash - spec) : strlen(spec);
	unsigned int max;
	struct acl_entry *v;

	if (len == 0 || len >= sizeof(addr))
		return -1;
	memcpy(addr, spec, len);
	addr[len] = 0;
	if (inet_pton(AF_INET, addr, e.addr) == 1) {
		e.family = AF_INET;
		max = 32;
	} else if (inet_pton(AF_INET6, addr, e.addr) == 1) {
		e.family = AF_INET6;
		max = 128;
	} else {
		return -1;
	}
	e.prefix = max;
	if (slash) {
		char *end;
		unsigned long p = strtoul(slash + 1, &end, 10);

		if (!slash[1] || *end || p > max)
			return -1;
		e.prefix = (unsigned int)p;
	}
	v = realloc(acl->entries, (acl->count + 1) * sizeof(*v));
	if (!v)
		return -1;
	acl->entries = v;
	acl->entries[acl->count++] = e;
	return 0;
}

static bool prefix_match(const unsigned char *a, const unsigned char *b, unsigned int bits)
{
	unsigned int whole = bits / 8, rest = bits % 8;

	if (memcmp(a, b, whole))
		return false;
	return rest == 0 || ((a[whole] ^ b[whole]) & (0xff00 >> rest) & 0xff) == 0;
}

void peer_addr_get(const struct sockaddr *sa, struct peer_addr *pa)
{
	memset(pa, 0, sizeof(*pa));
	if (sa->sa_family == AF_INET) {
		pa->family = AF_INET;
		memcpy(pa->bytes, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			pa->family = AF_INET;
			memcpy(pa->bytes, &a6->s6_addr[12], 4);
		} else {
			pa->family = AF_INET6;
			memcpy(pa->bytes, a6, 16);
		}
	} else {
		pa->family = AF_UNSPEC;
	}
}

bool peer_addr_equal(const struct peer_addr *a, const struct peer_addr *b)
{
	return a->family == b->family && !memcmp(a->bytes, b->bytes, sizeof(a->bytes));
}

bool acl_allows(const struct acl *acl, const struct peer_addr *pa)
{
	unsigned int i;

	if (acl->count == 0)
		return !acl->default_deny;
	for (i = 0; i < acl->count; i++)
		if (acl->entries[i].family == pa->family &&
		    prefix_match(acl->entries[i].addr, pa->bytes, acl->entries[i].prefix))
			return true;
	return false;
}

void acl_free(struct acl *acl)
{
	free(acl->entries);
	acl->entries = NULL;
	acl->count = 0;
}
