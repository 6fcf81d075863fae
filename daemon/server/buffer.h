/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Request buffers (buffer.c): a WRITE's payload, a READ's data, a block
 * status reply.  Their memory, idle or in use, comes out of one budget
 * shared by every connection (--memory-budget): a request that needs more
 * than is left waits until other requests give theirs back, so no number
 * of clients can make the server hold more than the budget in buffers.
 */
#ifndef ENBD_SERVER_BUFFER_H
#define ENBD_SERVER_BUFFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nbd-proto.h"

#define BUFFER_BUDGET_DEFAULT	(256ull << 20)
/* The budget must hold the largest request. */
#define BUFFER_BUDGET_MIN	((uint64_t)NBD_MAX_PAYLOAD)

struct conn;

struct buffer {
	void *p;
	size_t cap;
	int pipe[2];		/* for splicing, when has_pipe */
	bool has_pipe;
	size_t pipe_size;
	struct buffer *next;	/* in the connection's pool */
	/* In the budget's list of idle buffers holding memory, when idle. */
	bool idle;
	struct buffer *idle_prev, *idle_next;
};

/* Set the budget for all buffers together (at start-up, >= BUFFER_BUDGET_MIN). */
void buffer_budget_set(uint64_t bytes);

/* A buffer from @c's pool, or a new empty one; NULL when out of memory. */
struct buffer *buffer_get(struct conn *c);
void buffer_put(struct conn *c, struct buffer *b);
/* Free @c's pool (every thread of the connection has ended). */
void buffer_pool_free(struct conn *c);
/*
 * Make room for @len bytes at b->p, waiting while the budget has not that
 * much left (idle buffers of any connection give their memory back
 * first).  -1 when out of memory.
 */
int buffer_reserve(struct buffer *b, size_t len);
/*
 * The same for @len bytes the kernel has received already, without
 * waiting: over the budget if need be.  Used while reading a half-closed
 * stream to its end, when the thread holds the payloads it has read so
 * far: threads doing so on many connections could otherwise wait for each
 * other for good.  The memory is bounded by what the kernel holds.
 */
int buffer_reserve_received(struct buffer *b, size_t len);
/* Give @b its pipe for splicing, unless it has one; -1 on failure. */
int buffer_pipe(struct buffer *b);
/* Close the pipe of @b (after a failure it may hold stale data). */
void buffer_drop_pipe(struct buffer *b);

#endif
