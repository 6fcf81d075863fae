// SPDX-License-Identifier: GPL-2.0
/* The table of exports and the transmission flags each one gets. */
#include <string.h>

#include "nbd-proto.h"
#include "server.h"

const struct export *export_find(const struct server *srv, const char *name)
{
	unsigned int i;

	if (srv->nexports == 0)
		return NULL;
	if (!*name)
		return &srv->exports[0];
	for (i = 0; i < srv->nexports; i++)
		if (!strcmp(srv->exports[i].name, name))
			return &srv->exports[i];
	return NULL;
}

uint16_t export_flags(const struct export *e, bool structured)
{
	/*
	 * Every backend is one shared object with no per-connection cache:
	 * a flush or FUA write on any connection reaches the same storage
	 * (one descriptor, one page cache, one memory array) before the
	 * reply, so CAN_MULTI_CONN is true for all of them.
	 */
	uint16_t flags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_CACHE |
			 NBD_FLAG_CAN_MULTI_CONN;

	if (e->readonly) {
		flags |= NBD_FLAG_READ_ONLY;
	} else {
		flags |= NBD_FLAG_SEND_FUA | NBD_FLAG_SEND_WRITE_ZEROES | NBD_FLAG_SEND_FAST_ZERO;
		if (e->backend->can_trim)
			flags |= NBD_FLAG_SEND_TRIM;
	}
	if (structured)
		flags |= NBD_FLAG_SEND_DF;
	return flags;
}
