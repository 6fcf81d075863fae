// SPDX-License-Identifier: GPL-2.0
/*
 * Request buffers: a WRITE's payload or a READ's data, and the pipe a
 * spliced read goes through.  Each connection keeps a pool of them.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "buffer.h"
#include "conn.h"

#define PIPE_SIZE	(1u << 20)

void buffer_drop_pipe(struct buffer *b)
{
	if (b->has_pipe) {
		close(b->pipe[0]);
		close(b->pipe[1]);
		b->has_pipe = false;
	}
}

struct buffer *buffer_get(struct conn *c)
{
	struct buffer *b;

	pthread_mutex_lock(&c->pool_lock);
	b = c->pool;
	if (b)
		c->pool = b->next;
	pthread_mutex_unlock(&c->pool_lock);
	return b ? b : calloc(1, sizeof(*b));
}

void buffer_put(struct conn *c, struct buffer *b)
{
	pthread_mutex_lock(&c->pool_lock);
	b->next = c->pool;
	c->pool = b;
	pthread_mutex_unlock(&c->pool_lock);
}

void buffer_pool_free(struct conn *c)
{
	while (c->pool) {
		struct buffer *b = c->pool;

		c->pool = b->next;
		buffer_drop_pipe(b);
		free(b->p);
		free(b);
	}
}

int buffer_reserve(struct buffer *b, size_t len)
{
	void *p;

	if (len <= b->cap)
		return 0;
	free(b->p);
	p = malloc(len);
	b->p = p;
	b->cap = p ? len : 0;
	return p ? 0 : -1;
}

int buffer_pipe(struct buffer *b)
{
	int size;

	if (b->has_pipe)
		return 0;
	if (pipe2(b->pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	b->has_pipe = true;
	fcntl(b->pipe[1], F_SETPIPE_SZ, PIPE_SIZE);	/* a smaller pipe works too */
	size = fcntl(b->pipe[0], F_GETPIPE_SZ);
	b->pipe_size = size > 0 ? (size_t)size : 4096;
	return 0;
}
