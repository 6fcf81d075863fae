/* SPDX-License-Identifier: GPL-2.0 */
/* Request buffers (buffer.c). */
#ifndef ENBD_SERVER_BUFFER_H
#define ENBD_SERVER_BUFFER_H

#include <stdbool.h>
#include <stddef.h>

struct conn;

struct buffer {
	void *p;
	size_t cap;
	int pipe[2];		/* for splicing, when has_pipe */
	bool has_pipe;
	size_t pipe_size;
	struct buffer *next;	/* in the connection's pool */
};

/* A buffer from @c's pool, or a new empty one; NULL when out of memory. */
struct buffer *buffer_get(struct conn *c);
void buffer_put(struct conn *c, struct buffer *b);
/* Free @c's pool (every thread of the connection has ended). */
void buffer_pool_free(struct conn *c);
/* Make room for @len bytes at b->p; -1 when out of memory. */
int buffer_reserve(struct buffer *b, size_t len);
/* Give @b its pipe for splicing, unless it has one; -1 on failure. */
int buffer_pipe(struct buffer *b);
/* Close the pipe of @b (after a failure it may hold stale data). */
void buffer_drop_pipe(struct buffer *b);

#endif
