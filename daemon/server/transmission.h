/* SPDX-License-Identifier: GPL-2.0 */
/* Request decoding and checking, separate from any I/O so it can be fuzzed. */
#ifndef ENBD_SERVER_TRANSMISSION_H
#define ENBD_SERVER_TRANSMISSION_H

#include <stdbool.h>
#include <stdint.h>

/* A request in host byte order, with the verdict of request_check(). */
struct request {
	uint16_t flags, type;
	uint64_t cookie, offset;
	uint32_t length;
	uint32_t error;		/* NBD_E* to reply with instead of doing it, or 0 */
	const char *why;	/* message that goes with @error */
};

/* What request_check() needs to know about the connection. */
struct request_ctx {
	uint16_t tflags;	/* transmission flags sent to the client */
	uint64_t size;		/* export size */
	bool structured;	/* structured replies negotiated */
	bool meta_alloc;	/* base:allocation selected */
};

/*
 * Check every field of @r against the export and what was negotiated:
 * command, flags, read-only, payload size, offset + length overflow and
 * range.  Returns 0 or the NBD error to reply with (and @why).
 */
uint32_t request_check(const struct request_ctx *ctx, const struct request *r,
		       const char **why);

#endif
