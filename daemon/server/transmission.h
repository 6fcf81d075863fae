/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The transmission phase, shared by its files:
 *   request.c       reading requests and checking every field
 *   command.c       carrying a request out on the backend
 *   reply.c         sending replies
 *   transmission.c  the connection's threads and how the connection ends
 * request_check() does no I/O, so it can be fuzzed on its own.
 */
#ifndef ENBD_SERVER_TRANSMISSION_H
#define ENBD_SERVER_TRANSMISSION_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>

struct buffer;
struct conn;

/* Reads at least this large are spliced from files, smaller ones copied. */
#define SPLICE_MIN	(64u << 10)

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

const char *cmd_name(uint16_t type);
/* request.c: read the next request, with @rlock held (see there); @draining
 * when reading a half-closed stream to its end (read_to_end). */
int read_request(struct conn *c, struct request *r, struct buffer *buf, bool draining);

/* command.c: carry out @r (or reply with its error) and send the reply. */
void do_request(struct conn *c, const struct request *r, struct buffer *buf);

/* reply.c: each sends one whole reply; -1 when the connection failed
 * (it is aborted then). */
int send_simple(struct conn *c, const struct request *r, uint32_t error,
		const void *data, size_t len);
int send_chunk(struct conn *c, const struct request *r, uint16_t flags, uint16_t type,
	       const void *fixed, size_t flen, const void *data, size_t dlen);
int send_error(struct conn *c, const struct request *r, uint32_t error, const char *why);
int send_backend_error(struct conn *c, const struct request *r, int rc);
int send_read(struct conn *c, const struct request *r, const void *data);
int send_read_spliced(struct conn *c, const struct request *r, struct buffer *buf,
		      int fd, uint64_t off);

/* transmission.c: how the connection ends (enum conn_end). */
int conn_state(struct conn *c);
void conn_end(struct conn *c, int how);
void conn_abort(struct conn *c);

#endif
