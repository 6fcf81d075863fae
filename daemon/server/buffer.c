// SPDX-License-Identifier: GPL-2.0
/*
 * Request buffers: a WRITE's payload or a READ's data, and the pipe a
 * spliced read goes through.  Each connection keeps a pool of them, most
 * recently used first (cache-warm), and their memory is accounted in one
 * budget for the whole server.
 *
 * The budget counts the capacity of every buffer, in use or idle in a
 * pool.  Idle buffers that hold memory are also on one list, least
 * recently idle first, from which a request short of budget takes memory
 * back, whichever connection the buffer belongs to: so memory parked in
 * the pool of an idle connection never makes others wait.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "buffer.h"
#include "conn.h"

#define PIPE_SIZE	(1u << 20)

/* @lock protects every field here, and p and cap of idle buffers. */
static struct {
	pthread_mutex_t lock;
	pthread_cond_t freed;		/* memory went back, or a buffer went idle */
	uint64_t limit, used;		/* bytes of buffer capacity */
	unsigned int waiters;
	struct buffer *idle_head, *idle_tail;
} budget = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.freed = PTHREAD_COND_INITIALIZER,
	.limit = BUFFER_BUDGET_DEFAULT,
};

void buffer_budget_set(uint64_t bytes)
{
	budget.limit = bytes;
}

static void idle_unlink(struct buffer *b)
{
	if (!b->idle)
		return;
	*(b->idle_prev ? &b->idle_prev->idle_next : &budget.idle_head) = b->idle_next;
	*(b->idle_next ? &b->idle_next->idle_prev : &budget.idle_tail) = b->idle_prev;
	b->idle = false;
}

static void idle_append(struct buffer *b)
{
	b->idle = true;
	b->idle_next = NULL;
	b->idle_prev = budget.idle_tail;
	*(budget.idle_tail ? &budget.idle_tail->idle_next : &budget.idle_head) = b;
	budget.idle_tail = b;
}

/* With @budget.lock held: free the memory of @b (idle, or owned by the caller). */
static void release_memory(struct buffer *b)
{
	idle_unlink(b);
	budget.used -= b->cap;
	free(b->p);
	b->p = NULL;
	b->cap = 0;
	if (budget.waiters)
		pthread_cond_broadcast(&budget.freed);
}

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
	if (!b)
		return calloc(1, sizeof(*b));
	/* Until unlinked, another request may still take its memory. */
	pthread_mutex_lock(&budget.lock);
	idle_unlink(b);
	pthread_mutex_unlock(&budget.lock);
	return b;
}

void buffer_put(struct conn *c, struct buffer *b)
{
	/* On the idle list before it is in the pool, where buffer_get() finds it. */
	pthread_mutex_lock(&budget.lock);
	if (b->cap) {
		idle_append(b);
		if (budget.waiters)
			pthread_cond_broadcast(&budget.freed);
	}
	pthread_mutex_unlock(&budget.lock);
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
		pthread_mutex_lock(&budget.lock);
		release_memory(b);
		pthread_mutex_unlock(&budget.lock);
		buffer_drop_pipe(b);
		free(b);
	}
}

static int reserve(struct buffer *b, size_t len, bool may_wait)
{
	void *p;

	if (len <= b->cap)
		return 0;
	pthread_mutex_lock(&budget.lock);
	release_memory(b);
	while (budget.used + len > budget.limit) {
		if (budget.idle_head) {
			release_memory(budget.idle_head);
			continue;
		}
		if (!may_wait)
			break;
		budget.waiters++;
		pthread_cond_wait(&budget.freed, &budget.lock);
		budget.waiters--;
	}
	budget.used += len;
	pthread_mutex_unlock(&budget.lock);
	p = malloc(len);
	if (!p) {
		pthread_mutex_lock(&budget.lock);
		budget.used -= len;
		if (budget.waiters)
			pthread_cond_broadcast(&budget.freed);
		pthread_mutex_unlock(&budget.lock);
		return -1;
	}
	b->p = p;
	b->cap = len;
	return 0;
}

int buffer_reserve(struct buffer *b, size_t len)
{
	return reserve(b, len, true);
}

int buffer_reserve_received(struct buffer *b, size_t len)
{
	return reserve(b, len, false);
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
